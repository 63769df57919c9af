"""One thread with a heap of due polls, and small worker pools for the HTTP.

A waiting job costs a heap entry, not a thread: 1000 jobs polling together use the scheduler
thread plus `max_workers` workers, and downloads get `download_workers` of their own, so
results that trickle in (each bounded by the transport's `download_timeout`) can never hold
up other jobs' submits and polls. With a `VirtualClock` nothing runs in the background:
`run_virtual()` jumps the clock from one due poll to the next and runs each one inline, so the
same engine code can be measured over thousands of simulated minutes in a moment.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor

from .clock import Clock, SystemClock, VirtualClock
from .runtime import current


class _InlineExecutor(Executor):
    """Runs work at once in the caller's thread (virtual-clock runs)."""

    def submit(self, fn, /, *args, **kwargs):
        fn(*args, **kwargs)


class Timer:
    """A scheduled call; `cancel()` makes the scheduler drop it."""

    __slots__ = ("when", "fn", "download", "cancelled")

    def __init__(self, when: float, fn: Callable[[], None], download: bool = False) -> None:
        self.when = when
        self.fn = fn
        self.download = download
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class Scheduler:
    """Runs callables at given clock times on a worker pool.

    Args:
        clock: where time comes from; a `VirtualClock` makes the scheduler manual.
        executor: where due work runs. Defaults to a `ThreadPoolExecutor(max_workers)` for
            submits and polls and one of `download_workers` for downloads; any
            `concurrent.futures.Executor` works (e.g. to hand fetch-and-decode work to an
            existing pool), and then takes both kinds of work.
        max_workers: size of the default pool for submits and polls.
        download_workers: size of the default pool for downloads.
    """

    def __init__(
        self,
        clock: Clock | None = None,
        *,
        executor: Executor | None = None,
        max_workers: int = 8,
        download_workers: int = 4,
    ) -> None:
        self.clock = clock or SystemClock()
        self.virtual = isinstance(self.clock, VirtualClock)
        downloads = executor
        if executor is None and self.virtual:
            executor = downloads = _InlineExecutor()
        elif executor is None:
            executor = ThreadPoolExecutor(max_workers, thread_name_prefix="tts_nb-worker")
            downloads = ThreadPoolExecutor(download_workers, thread_name_prefix="tts_nb-download")
        self.executor = executor
        self.downloads = downloads
        self._heap: list[tuple[float, int, Timer]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    def call_at(self, when: float, fn: Callable[[], None], *, download: bool = False) -> Timer:
        """Run `fn` on the worker pool (the download pool if `download`) once the clock
        reaches `when`."""
        timer = Timer(when, fn, download)
        with self._wake:
            if self._closed:
                raise RuntimeError("the scheduler was shut down")
            heapq.heappush(self._heap, (when, next(self._order), timer))
            self._wake.notify()
        if not self.virtual:
            self._ensure_thread()
        return timer

    def call_soon(self, fn: Callable[[], None], *, download: bool = False) -> Timer:
        return self.call_at(self.clock.now(), fn, download=download)

    def pending(self) -> int:
        """How many calls are waiting for their time."""
        with self._wake:
            return sum(1 for _, _, timer in self._heap if not timer.cancelled)

    def run_virtual(self, until: float | None = None) -> None:
        """Virtual clock only: run every due call in time order, advancing the clock to each."""
        if not self.virtual:
            raise RuntimeError("run_virtual() needs a VirtualClock")
        while True:
            with self._wake:
                if not self._heap or (until is not None and self._heap[0][0] > until):
                    break
                when, _, timer = heapq.heappop(self._heap)
            if timer.cancelled:
                continue
            self.clock.set(when)
            timer.fn()
        if until is not None:
            self.clock.set(until)

    def _ensure_thread(self) -> None:
        with self._wake:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._loop, name="tts_nb-scheduler", daemon=True
                )
                self._thread.start()

    def _loop(self) -> None:
        while True:
            with self._wake:
                while not self._closed:
                    if self._heap:
                        delay = self._heap[0][0] - self.clock.now()
                        if delay <= 0:
                            break
                        self._wake.wait(min(delay, 60.0))
                    else:
                        self._wake.wait(60.0)
                if self._closed:
                    return
                _, _, timer = heapq.heappop(self._heap)
            if not timer.cancelled:
                try:
                    (self.downloads if timer.download else self.executor).submit(timer.fn)
                except RuntimeError:  # the executor was shut down under us
                    return
            del timer  # the wait for the next one must not keep this job alive

    def shutdown(self, wait: bool = True) -> None:
        """Stop the thread; calls still waiting are dropped."""
        with self._wake:
            self._closed = True
            self._heap.clear()
            self._wake.notify_all()
        if self._thread is not None and wait and self._thread is not threading.current_thread():
            self._thread.join()
        self.executor.shutdown(wait=wait)
        if self.downloads is not self.executor:
            self.downloads.shutdown(wait=wait)


def default_scheduler() -> Scheduler:
    """The process-wide scheduler every client uses unless given its own (the runtime's, so
    `tn.reset()` stops it and the next client gets a new one)."""
    return current().scheduler()
