"""Time as an object, so the engine's policies and scheduler can run on a virtual clock.

The scheduler only ever asks a clock for `now()` (monotonic seconds) and `wall()` (epoch
seconds for history rows). `VirtualClock` is advanced by whoever drives it: the scheduler's
`run_virtual()` jumps it from one due poll to the next, so thousands of jobs lasting minutes
are simulated in milliseconds with the real engine code.
"""

from __future__ import annotations

import threading
import time


class SystemClock:
    """Real time: `time.monotonic()` for intervals, `time.time()` for timestamps."""

    def now(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()

    def __repr__(self) -> str:
        return "SystemClock()"


class VirtualClock:
    """A clock that only moves when told to (`advance`, `set`); safe to read from any thread."""

    def __init__(self, start: float = 0.0, wall_start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._wall_offset = wall_start - start
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def wall(self) -> float:
        with self._lock:
            return self._now + self._wall_offset

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        with self._lock:
            self._now += seconds

    def set(self, when: float) -> None:
        """Move to `when` (never backwards: earlier values are ignored)."""
        with self._lock:
            self._now = max(self._now, when)

    def __repr__(self) -> str:
        return f"VirtualClock(now={self.now():.3f})"


Clock = SystemClock | VirtualClock
