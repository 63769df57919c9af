"""Per-account concurrency limits: jobs beyond the limit wait their turn instead of getting 429s.

Typecast's current API (v1) caps the requests one account has in progress (Free 2, Lite 5,
Plus 15) and answers 429 beyond it; a 20-voice comparison started at once would mostly fail.
A `Gate` lets at most `limit` jobs of one account be in flight (from submit until the job
ends) and queues the rest in order, each with a history row saying how many are ahead. Clients
of the same provider, endpoint and key share one gate, since the provider counts per account,
not per client object.
"""

from __future__ import annotations

import hashlib
import threading
from collections import deque
from collections.abc import Callable, Iterable

from .runtime import current


class Gate:
    """At most `limit` jobs in flight (None: no limit); the rest start in order as slots free up."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self._active: set[str] = set()
        self._queue: deque[tuple[object, Callable[[], None]]] = deque()
        self._lock = threading.Lock()

    @property
    def active(self) -> int:
        with self._lock:
            return len(self._active)

    @property
    def queued(self) -> int:
        with self._lock:
            return len(self._queue)

    def admit(self, job, start: Callable[[], None], *, wait: bool = True) -> None:
        """Run `start()` now if a slot is free (or `wait` is False), else queue the job.

        The slot is given back when the job is done, whatever the outcome.
        """
        with self._lock:
            free = self.limit is None or len(self._active) < self.limit
            if free or not wait:
                self._active.add(job.id)
                ahead = None
            else:
                ahead = len(self._queue)
                self._queue.append((job, start))
        job.add_done_callback(self._release)
        if ahead is None:
            start()
            return
        job.event(
            "queue",
            f"queued: {ahead} ahead and {self.limit} running (at most {self.limit} "
            f"{job.provider} jobs at once; the client's max_concurrent= changes it)",
        )

    def set_limit(self, limit: int | None) -> None:
        """Change the limit; queued jobs start at once if it grew."""
        with self._lock:
            self.limit = limit
        self._drain()

    def _release(self, job) -> None:
        with self._lock:
            if job.id in self._active:
                self._active.discard(job.id)
            else:
                self._queue = deque(item for item in self._queue if item[0] is not job)
        self._drain()

    def _drain(self) -> None:
        ready: list[Callable[[], None]] = []
        with self._lock:
            while self._queue and (self.limit is None or len(self._active) < self.limit):
                waiting, start = self._queue.popleft()
                if waiting.done():
                    continue
                self._active.add(waiting.id)
                ready.append(start)
        for start in ready:
            start()


def gate_for(provider: str, endpoint: str, secrets: Iterable[str], limit: int | None) -> Gate:
    """The gate of one account (provider, endpoint, key), created or re-limited to `limit`."""
    account = hashlib.sha256("\0".join(sorted(s for s in secrets if s)).encode()).hexdigest()
    key = (provider, endpoint.rstrip("/"), account)
    runtime = current()  # the gates are the runtime's, so `tn.reset()` forgets them
    with runtime.gates_lock:
        gate = runtime.gates.get(key)
        if gate is None:
            gate = runtime.gates[key] = Gate(limit)
            return gate
    gate.set_limit(limit)  # the newest client's setting wins: one limit per account
    return gate
