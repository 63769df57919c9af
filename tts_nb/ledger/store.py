"""`Ledger`: one ledger directory, its job records, history rows and stored results.

Writes happen inside one transaction each (other threads wait on the lock, other processes on
SQLite); a job is read under its own lock first, then written under the ledger's, never one
lock inside the other. The file itself is `schema`'s, the result files `blobs`', the upkeep
`retention`'s; decoded records are checked by `records` before anyone uses them.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from ..clip import Clip
from ..errors import BadAudio
from . import blobs
from .records import MalformedRecord, Stored, decoded, history_row, parse_result
from .retention import Retention, days_kept
from .schema import LEDGER_ERRORS, PRIVATE_DIR, TERMINAL, connect, create_tables, make_private
from .snapshots import dumps, phase, snapshot_of, stored_row, this_owner, unsigned


class Ledger(Retention):
    """One ledger directory: ``ledger.sqlite3`` plus the ``results/`` store.

    Safe to share between threads (one connection behind a lock) and between processes
    (SQLite WAL mode, busy timeout).
    """

    def __init__(
        self, directory: str | os.PathLike, *, retention_days: float | None = None
    ) -> None:
        """Open (or create) the ledger in `directory`, private to this user.

        `retention_days`: finished jobs older than this are pruned when a ledger is opened,
        at most once a day (default: ``TTS_NB_LEDGER_RETENTION_DAYS``, else 30; 0 keeps all).
        """
        self.directory = Path(directory).expanduser()
        self.directory.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
        make_private(self.directory, PRIVATE_DIR)
        self.path = self.directory / "ledger.sqlite3"
        self.results_dir = self.directory / "results"
        self.retention_days = days_kept(retention_days)
        self._lock = threading.RLock()
        self._synced: dict[str, int] = {}
        self._stored: set[str] = set()
        self._written: dict[str, int] = {}  # job id → sequence number of the snapshot on disk
        self._skipped: set[str] = set()  # malformed records already warned about
        self._db = connect(self.path, self.results_dir)
        with self._transaction() as db:
            create_tables(db, self.path)
        self._prune_if_due()

    # ------------------------------------------------------------------ plumbing
    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: other threads wait on the lock, other processes on SQLite."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _query(self, sql: str, args: Iterable[Any] = ()) -> list[dict[str, Any]]:
        with self._lock:
            cursor = self._db.execute(sql, tuple(args))
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row)) for row in cursor.fetchall()]

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __repr__(self) -> str:
        return f"<Ledger {self.directory}>"

    # --------------------------------------------------------------- writing jobs
    def record_new(
        self, job, *, fingerprint: str, endpoint: str, embedded: bool, body: Any = None
    ) -> None:
        """Write a job down before anything is sent (called synchronously by the client).

        `body` is what the submit sends, without secrets: `tn.resume()` rebuilds the job's
        protocol half from it.
        """
        now = time.time()
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO jobs (id, provider, kind, endpoint, embedded, fingerprint,"
                " request, body, provider_ids, state, raw_status, phase, polls, owner,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    job.id,
                    job.provider,
                    job.kind,
                    endpoint.rstrip("/"),
                    int(embedded),
                    fingerprint,
                    dumps(job.request),
                    dumps(body),
                    dumps(job.provider_ids),
                    job.state.value,
                    job.raw_status,
                    phase(job),
                    job.polls,
                    this_owner(),
                    job.created_at,
                    now,
                ),
            )
        self._sync_rows(job)

    def observer(self, job) -> None:
        """The job observer clients attach: `sync`, and a warning instead of a crash."""
        try:
            self.sync(job)
        except LEDGER_ERRORS as exc:
            from . import warn_unavailable  # the process's warnings, kept once per ledger

            warn_unavailable(self, exc)

    def sync(self, job) -> None:
        """Bring a job's record up to date (a job observer: called after every change).

        The job is read first, under its own lock (jobs notify observers with it released),
        and written afterwards under the ledger's: never one lock inside the other.
        Snapshots carry a sequence number, so a slower thread never overwrites a newer state.
        """
        snapshot = snapshot_of(job)
        result_ref = None
        if snapshot["state"] in ("SUCCEEDED", "EXPIRED") and job.id not in self._stored:
            if snapshot["result"] is not None:
                result_ref = self._put_result(snapshot["result"])
        with self._transaction() as db:
            if self._written.get(job.id, -1) > snapshot["seq"]:
                return  # a newer snapshot of this job is already on disk
            self._written[job.id] = snapshot["seq"]
            error = snapshot["error"]
            db.execute(
                "UPDATE jobs SET provider_ids = ?, state = ?, raw_status = ?, phase = ?,"
                " polls = ?, error = ?, error_type = ?, submit_unconfirmed = ?,"
                " reused_from = ?, result = COALESCE(?, result), owner = ?, updated_at = ?,"
                " finished_at = ?, token = COALESCE(?, token) WHERE id = ?",
                (
                    dumps(snapshot["provider_ids"]),
                    snapshot["state"],
                    snapshot["raw_status"],
                    snapshot["phase"],
                    snapshot["polls"],
                    unsigned(str(error)) if error is not None else None,
                    type(error).__name__ if error is not None else None,
                    int(snapshot["submit_unconfirmed"]),
                    snapshot["reused_from"],
                    result_ref,
                    None if snapshot["phase"] == "done" else this_owner(),
                    time.time(),
                    snapshot["finished_at"],
                    snapshot["token"],
                    job.id,
                ),
            )
            self._write_rows(db, job.id, snapshot["rows"])
        if result_ref is not None:
            self._stored.add(job.id)

    def _sync_rows(self, job) -> None:
        rows = job.rows
        with self._transaction() as db:
            self._write_rows(db, job.id, rows)

    def _write_rows(self, db: sqlite3.Connection, job_id: str, rows: list[dict]) -> None:
        # The last row written may have been annotated since (state, note, next poll): rewrite it.
        start = max(0, self._synced.get(job_id, 0) - 1)
        db.executemany(
            "INSERT OR REPLACE INTO rows (job, n, data) VALUES (?, ?, ?)",
            [(job_id, i + 1, dumps(stored_row(row))) for i, row in enumerate(rows) if i >= start],
        )
        self._synced[job_id] = len(rows)

    def finalize(
        self,
        job_id: str,
        state: str,
        error: str,
        *,
        error_type: str,
        submit_unconfirmed: bool = False,
    ) -> None:
        """Close the record of a job no process will ever finish (its kernel is gone)."""
        now = time.time()
        with self._transaction() as db:
            n = db.execute("SELECT COUNT(*) FROM rows WHERE job = ?", (job_id,)).fetchone()[0]
            db.execute(
                "UPDATE jobs SET state = ?, error = ?, error_type = ?, submit_unconfirmed = ?,"
                " phase = 'done', owner = NULL, updated_at = ?, finished_at = ? WHERE id = ?",
                (state, error, error_type, int(submit_unconfirmed), now, now, job_id),
            )
            row = {
                "job": job_id,
                "n": n + 1,
                "time": now,
                "step": "ledger",
                "state": state,
                "note": error,
            }
            db.execute(
                "INSERT INTO rows (job, n, data) VALUES (?, ?, ?)", (job_id, n + 1, dumps(row))
            )

    # ------------------------------------------------------------------- results
    def _put_result(self, result: Any) -> str | None:
        """Store a Clip (or a list of Clips) content-addressed; the JSON that finds it again."""
        return blobs.put_result(self.results_dir, result)

    def load_result(self, record: Mapping[str, Any]) -> Any:
        """The stored result of a job record, rebuilt and re-validated, or None if gone."""
        try:
            stored = parse_result(record.get("result"))
        except MalformedRecord as exc:
            self._skip(record.get("id"), exc)
            return None
        if stored is None:
            return None
        clips = []
        for item in stored["clips"]:
            data = blobs.get_bytes(self.results_dir, item["sha256"], item["format"])
            if data is None:
                return None
            try:
                clip = Clip.from_bytes(
                    data, text=item["text"], voice=item["voice"], meta=item["meta"]
                )
            except BadAudio as exc:  # a blob whose name matches its bytes, but not audio
                self._skip(record.get("id"), exc)
                return None
            clips.append(clip)
        return clips if stored["list"] else clips[0]

    def latest(self, fingerprint: str) -> dict[str, Any] | None:
        """The newest job record of a request with this fingerprint."""
        found = self._query(
            "SELECT * FROM jobs WHERE fingerprint = ? ORDER BY created_at DESC LIMIT 1",
            (fingerprint,),
        )
        return self._valid(found[0]) if found else None

    def find_result(self, fingerprint: str) -> Stored | None:
        """The newest stored result of a request with this fingerprint."""
        records = self._query(
            "SELECT * FROM jobs WHERE fingerprint = ? AND result IS NOT NULL"
            " ORDER BY finished_at DESC",
            (fingerprint,),
        )
        for record in filter(None, map(self._valid, records)):
            result = self.load_result(record)
            if result is not None:
                return Stored(record["id"], record["finished_at"] or record["updated_at"], result)
        return None

    # ------------------------------------------------------------------- reading
    def get(self, job_id: str) -> dict[str, Any] | None:
        """The checked record of a job, or None when there is none (or it is malformed)."""
        found = self._query("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return self._valid(found[0]) if found else None

    def records(self, *, unfinished: bool = False) -> list[dict[str, Any]]:
        """Every job record, oldest first (only unfinished ones when asked)."""
        sql = "SELECT * FROM jobs"
        if unfinished:
            sql += f" WHERE state NOT IN ({', '.join('?' * len(TERMINAL))})"
        sql += " ORDER BY created_at"
        found = (self._valid(r) for r in self._query(sql, TERMINAL if unfinished else ()))
        return [record for record in found if record is not None]

    def rows(self, job_ids: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """History rows of the given jobs (all jobs when None), in order."""
        if job_ids is None:
            found = self._query("SELECT data FROM rows ORDER BY job, n")
        else:
            found = []
            ids = list(job_ids)
            for i in range(0, len(ids), 500):
                chunk = ids[i : i + 500]
                found += self._query(
                    f"SELECT data FROM rows WHERE job IN ({', '.join('?' * len(chunk))})"
                    " ORDER BY job, n",
                    chunk,
                )
        return [row for row in map(history_row, found) if row is not None]

    def _valid(self, raw: Mapping[str, Any]) -> dict[str, Any] | None:
        """`raw` decoded and checked, or None (with a warning) when it is malformed."""
        try:
            return decoded(raw)
        except MalformedRecord as exc:
            self._skip(raw.get("id"), exc)
            return None

    def _skip(self, job_id: Any, exc: Exception) -> None:
        """Warn once per record that it is skipped: one bad record must not stop the rest."""
        key = repr(job_id)
        if key in self._skipped:
            return
        self._skipped.add(key)
        warnings.warn(
            f"tts_nb: skipping the malformed ledger record {key} in {self.path} ({exc}); "
            "it was damaged or written by something else. Other jobs are unaffected; "
            "ledger.prune() or deleting that row removes it.",
            RuntimeWarning,
            stacklevel=4,
        )

    def integrity(self) -> str:
        """SQLite's own integrity check: ``"ok"`` when the file is sound."""
        return self._query("PRAGMA integrity_check")[0]["integrity_check"]
