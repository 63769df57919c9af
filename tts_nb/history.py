"""`History`: a job's rows, one per HTTP exchange plus events (queued, resumed, reused).

Kept apart from `Job` so the engine reads as time and state only: the job says what happened,
the history writes it down. Every text passes `scrub` here, at the sink, since providers echo
keys and tokens in statuses and messages, not only in HTTP errors. The history shares its
job's lock, so a reader (the ledger, a view) sees rows and state that belong together; it
never notifies anyone: the job does, once per change, after the lock is released.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Protocol

from .tables import HISTORY_COLUMNS
from .transport import Exchange


class Owner(Protocol):
    """What a history row names: the job it belongs to (ids can change on a resume)."""

    id: str
    provider: str
    created_at: float


class History:
    """The rows of one job, oldest first, and the exchanges they came from.

    Args:
        owner: the job (read at each row, so a rebuilt job's restored id is used).
        lock: the job's lock; every method takes it, so callers may hold it or not.
        scrub: masks the client's secrets in a text.
    """

    def __init__(self, owner: Owner, lock: threading.RLock, scrub: Callable[[str], str]) -> None:
        self._owner = owner
        self._lock = lock
        self._scrub = scrub
        self._rows: list[dict[str, Any]] = []
        self._waiting_note: str | None = None  # said before the first row existed
        self.exchanges: list[Exchange] = []

    def rows(self) -> list[dict[str, Any]]:
        """The rows as plain dicts (copies: the DataFrames' and the ledger's source)."""
        with self._lock:
            return [dict(row) for row in self._rows]

    def frame(self, full: bool = False):
        """The rows as a DataFrame: compact (`tables.HISTORY_VIEW`, local times) or `full`
        (every column of `tables.HISTORY_COLUMNS`, times in UTC)."""
        from .tables import history_frame

        return history_frame(self.rows(), full=full)

    def replace(self, rows: list[dict[str, Any]]) -> None:
        """Take over the rows of an earlier life of this job (a resume), relabelled as its."""
        with self._lock:
            self._rows = [dict(row, job=self._owner.id) for row in rows]

    def scrub(self, text: str | None) -> str | None:
        """`text` with the client's secrets masked (None stays None)."""
        return None if text is None else self._scrub(str(text))

    def append(self, when: float, step: str, **values: Any) -> None:
        """One row at wall time `when`; columns not given stay empty."""
        owner = self._owner
        row = dict.fromkeys(HISTORY_COLUMNS)
        with self._lock:
            row.update(
                job=owner.id,
                provider=owner.provider,
                n=len(self._rows) + 1,
                time=when,
                elapsed_s=round(when - owner.created_at, 3),
                step=step,
                **values,
            )
            if self._waiting_note:  # e.g. a cancel while the first submit was on the wire
                said = row["note"]
                row["note"] = f"{self._waiting_note}; {said}" if said else self._waiting_note
                self._waiting_note = None
            self._rows.append(row)

    def record(self, exchange: Exchange) -> None:
        """One HTTP exchange (already masked by the transport) and its row."""
        with self._lock:
            self.exchanges.append(exchange)
            self.append(
                exchange.started,
                exchange.step,
                attempt=exchange.attempt,
                method=exchange.method,
                url=exchange.url,
                http_status=exchange.status,
                latency_s=exchange.latency_s,
                note=exchange.error,
            )

    def event(self, when: float, step: str, note: str, state: str | None = None) -> None:
        """A row that is not an HTTP exchange: queued, resumed, reused, rerun."""
        self.append(when, step, state=state, note=self.scrub(note))

    def annotate(self, **values: Any) -> None:
        """Fill in columns of the newest row (state, raw status, next poll)."""
        with self._lock:
            if self._rows:
                self._rows[-1].update(values)

    def note(self, text: str) -> None:
        """Add `text` (masked) to the newest row's note; before any row, to the first one."""
        text = self.scrub(text)
        with self._lock:
            if not self._rows:
                waiting = self._waiting_note
                self._waiting_note = f"{waiting}; {text}" if waiting else text
                return
            row = self._rows[-1]
            row["note"] = f"{row['note']}; {text}" if row["note"] else text

    def submit_answered(self) -> bool:
        """The provider accepted a submit (2xx), whatever its answer's body was."""
        with self._lock:
            return any(
                e.step == "submit" and e.status is not None and 200 <= e.status < 300
                for e in self.exchanges
            )


__all__ = ["History"]
