"""Retention: finished jobs are forgotten after a while, with the result files only they used.

Pruning runs by itself when a ledger is opened, at most once a day per ledger folder (the first
process to open it claims the day), and never stops jobs from being recorded when it fails.
`Ledger.forget` deletes chosen jobs now.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
import warnings
from collections.abc import Iterable

from .records import digests
from .schema import LEDGER_ERRORS, TERMINAL

log = logging.getLogger("tts_nb")

RETENTION_ENV = "TTS_NB_LEDGER_RETENTION_DAYS"
DEFAULT_RETENTION_DAYS = 30.0
PRUNE_EVERY_S = 86400.0  # automatic pruning runs at most once a day per ledger folder


class Retention:
    """The upkeep half of `Ledger` (which provides `_transaction`, `results_dir` and `_stored`)."""

    retention_days: float | None

    def _prune_if_due(self) -> None:
        """Apply the retention once a day: the first process to open the ledger claims it."""
        if not self.retention_days:
            return
        now = time.time()
        with self._transaction() as db:
            last = db.execute("SELECT value FROM meta WHERE key = 'pruned_at'").fetchone()
            try:
                due = last is None or now - float(last[0]) >= PRUNE_EVERY_S
            except ValueError:
                due = True
            if due:
                db.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES ('pruned_at', ?)", (str(now),)
                )
        if due:
            try:
                self.prune(self.retention_days)
            except LEDGER_ERRORS as exc:  # upkeep must never stop jobs from being recorded
                log.warning("tts_nb: pruning the ledger at %s failed: %s", self.directory, exc)

    def prune(self, older_than_days: float) -> int:
        """Forget finished jobs older than this and delete results nothing refers to any more.

        Runs by itself once a day with the retention (`retention_days`). A result file younger
        than the cutoff is kept even when no record names it yet: another process may be
        between writing it and recording it. Returns the number of jobs forgotten.
        """
        cutoff = time.time() - older_than_days * 86400
        with self._transaction() as db:
            old = [
                r[0]
                for r in db.execute(
                    f"SELECT id FROM jobs WHERE created_at < ? AND state IN"
                    f" ({', '.join('?' * len(TERMINAL))})",
                    (cutoff, *TERMINAL),
                )
            ]
            referenced = self._delete(db, old)
        for path in self.results_dir.glob("*/*"):
            name, age = path.name, time.time() - path.stat().st_mtime
            stale_temp = name.startswith(".tmp-") and age > 3600
            unused = not name.startswith(".") and name.split(".")[0] not in referenced
            if stale_temp or (unused and path.stat().st_mtime < cutoff):
                path.unlink(missing_ok=True)
        return len(old)

    def forget(self, job_ids: Iterable[str]) -> int:
        """Delete these jobs' records, history rows and the result files only they used.

        Returns the number of records deleted. Running jobs elsewhere are not stopped: their
        next update simply finds no record (`tn.forget` only passes finished ones).
        """
        ids = list(dict.fromkeys(job_ids))
        with self._transaction() as db:
            found = [
                row
                for job_id in ids
                for row in db.execute("SELECT id, result FROM jobs WHERE id = ?", (job_id,))
            ]
            referenced = self._delete(db, [job_id for job_id, _ in found])
        for digest in {d for _, result in found for d in digests(result)} - referenced:
            for path in (self.results_dir / digest[:2]).glob(f"{digest}.*"):
                path.unlink(missing_ok=True)
        return len(found)

    def _delete(self, db: sqlite3.Connection, job_ids: list[str]) -> set[str]:
        """Delete records and rows inside a transaction; the result hashes still referenced."""
        for job_id in job_ids:
            db.execute("DELETE FROM rows WHERE job = ?", (job_id,))
            db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
            self._stored.discard(job_id)
        return {
            digest
            for (value,) in db.execute("SELECT result FROM jobs WHERE result IS NOT NULL")
            for digest in digests(value)
        }


def days_kept(days: float | None) -> float | None:
    """Days finished jobs are kept: the argument, else the environment, else the default.

    0, a negative number or ``off``/``never`` keeps everything (None)."""
    if days is None:
        setting = os.environ.get(RETENTION_ENV, "").strip().lower()
        if setting in ("off", "never", "none"):
            return None
        try:
            days = float(setting) if setting else DEFAULT_RETENTION_DAYS
        except ValueError:
            warnings.warn(
                f"tts_nb: {RETENTION_ENV}={setting!r} is not a number of days; keeping "
                f"finished jobs {DEFAULT_RETENTION_DAYS:g} days.",
                RuntimeWarning,
                stacklevel=4,
            )
            days = DEFAULT_RETENTION_DAYS
    return days if days > 0 else None
