"""Faults on purpose: scripted ones for exact tests, random ones for chaos runs.

Kinds (the same for both):

=============  ===========================================================================
``500``        Internal Server Error (also ``502``, ``503``, ``504``)
``429``        Too Many Requests with ``Retry-After: 1`` (scaled by nothing: real seconds)
``reset``      the TCP connection is reset before the request is handled
``lost_answer`` the request IS handled (a submit creates its job), then the connection resets
``malformed``  a 200 whose JSON body is cut off
``slow``       the body trickles in, 512 bytes every 10 ms
``timeout``    the server stalls `stall_s` seconds before answering (the work is done)
=============  ===========================================================================
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass

from .server import Request, Response

HTTP_FAULTS = ("500", "502", "503", "504", "429")
ALL_KINDS = HTTP_FAULTS + ("reset", "lost_answer", "malformed", "slow", "timeout")


@dataclass
class _Script:
    origin: str | None
    method: str | None
    path: str | None
    kinds: list[str]

    def matches(self, request: Request) -> bool:
        return (
            (self.origin is None or self.origin == request.origin)
            and (self.method is None or self.method == request.method)
            and (self.path is None or request.path.startswith(self.path))
        )


class Faults:
    """Decides which requests fail and how.

    Args:
        rate: probability that any request gets a random fault (0 = never).
        kinds: the kinds random faults are drawn from.
        seed: makes the random faults reproducible.
        stall_s: how long a ``timeout`` fault stalls.
    """

    def __init__(
        self,
        rate: float = 0.0,
        kinds: tuple[str, ...] = ALL_KINDS,
        seed: int | None = None,
        stall_s: float = 2.0,
        retry_after_s: float = 1.0,
    ) -> None:
        unknown = set(kinds) - set(ALL_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {ALL_KINDS}")
        self.rate = rate
        self.kinds = tuple(kinds)
        self.stall_s = stall_s
        self.retry_after_s = retry_after_s
        self._rng = random.Random(seed)
        self._scripts: list[_Script] = []
        self._lock = threading.Lock()
        self.injected: dict[str, int] = {}

    def script(
        self,
        *kinds: str | int,
        origin: str | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        """The next matching requests get these faults, one each, in order."""
        names = [str(kind) for kind in kinds]
        unknown = set(names) - set(ALL_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {ALL_KINDS}")
        with self._lock:
            self._scripts.append(_Script(origin, method, path, names))

    def intercept(self, request: Request) -> str | Response | None:
        kind = self._choose(request)
        if kind is None:
            return None
        with self._lock:
            self.injected[kind] = self.injected.get(kind, 0) + 1
        if kind in HTTP_FAULTS:
            status = int(kind)
            headers = {"Retry-After": f"{self.retry_after_s:g}"} if status in (429, 503) else {}
            response = Response.json(
                {"error": f"simulated fault {status}", "status": status}, status, headers
            )
            return response
        if kind == "timeout":
            time.sleep(self.stall_s)
            return None
        return kind

    def _choose(self, request: Request) -> str | None:
        with self._lock:
            for script in self._scripts:
                if script.kinds and script.matches(request):
                    kind = script.kinds.pop(0)
                    if not script.kinds:
                        self._scripts.remove(script)
                    return kind
            if self.rate and self._rng.random() < self.rate:
                return self._rng.choice(self.kinds)
        return None
