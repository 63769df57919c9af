"""The job ledger: every job on disk, so restarts, re-runs and crashes cost no money and no results.

A job is written down *before* its submit request is sent, then updated as it moves: provider
ids, every history row, the final state, and the result's bytes. That gives three promises:

* after a kernel restart, `tn.jobs()` still lists every job and `tn.resume()` picks up polling
  of unfinished ones from their provider ids, without submitting again;
* re-running an identical request returns the stored result at once (a request is identified by
  a fingerprint: sha256 of provider, kind, API endpoint and the canonical request body);
* a submit whose answer never arrived is marked as such, never re-sent silently.

Storage: one SQLite file in WAL mode with a busy timeout, so several kernels can write at once
and a process killed mid-write leaves the last committed state (SQLite's journal rolls back the
rest). Results are stored content-addressed beside it: ``results/ab/<sha256>.<format>``, written
to a temporary file and renamed into place (`os.replace` is atomic), so a partial file never
carries a final name, and every read checks the hash. Nothing secret is stored: requests are
the clients' scrubbed summaries and history rows are already masked.

Where: ``TTS_NB_LEDGER`` (a directory; ``off`` disables it), else `tn.use_ledger(path)`, else
the user data directory from platformdirs (e.g. ``~/.local/share/tts_nb`` on Linux).
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import logging
import os
import re
import socket
import sqlite3
import tempfile
import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .clip import Clip
from .errors import BadAudio
from .runtime import current as current_runtime
from .state import State

log = logging.getLogger("tts_nb")

ENV = "TTS_NB_LEDGER"
DISABLED = ("off", "none", "0", "false", "no")
SCHEMA_VERSION = 2  # 2: the jobs table has a token column (added to older files)
BUSY_TIMEOUT_S = 15.0
PRIVATE_DIR, PRIVATE_FILE = 0o700, 0o600  # texts, histories and audio are the user's alone
RETENTION_ENV = "TTS_NB_LEDGER_RETENTION_DAYS"
DEFAULT_RETENTION_DAYS = 30.0
PRUNE_EVERY_S = 86400.0  # automatic pruning runs at most once a day per ledger folder
TERMINAL = (
    "SUCCEEDED",
    "FAILED",
    "TIMED_OUT",
    "PAYMENT_REQUIRED",
    "NOT_FOUND",
    "CANCELLED",
    "EXPIRED",
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    kind TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    embedded INTEGER NOT NULL DEFAULT 0,
    fingerprint TEXT NOT NULL,
    request TEXT NOT NULL,
    body TEXT,
    provider_ids TEXT NOT NULL DEFAULT '{}',
    state TEXT NOT NULL,
    raw_status TEXT,
    phase TEXT NOT NULL,
    polls INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    error_type TEXT,
    submit_unconfirmed INTEGER NOT NULL DEFAULT 0,
    reused_from TEXT,
    result TEXT,
    owner TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    finished_at REAL,
    token TEXT
);
CREATE INDEX IF NOT EXISTS jobs_by_fingerprint ON jobs (fingerprint, finished_at);
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs (state);
CREATE TABLE IF NOT EXISTS rows (
    job TEXT NOT NULL,
    n INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (job, n)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

# Columns added after the first layout, with their type: an older ledger gets them (NULL in its
# old records, which `tn.resume()` reads from the other columns), so it keeps opening.
_ADDED_COLUMNS = {"token": "TEXT"}


def fingerprint(provider: str, kind: str, endpoint: str, body: Any) -> str:
    """sha256 of what makes two requests identical: provider, kind, endpoint and the body.

    The body is serialised canonically (sorted keys, no whitespace), so the order in which
    options were passed does not matter.
    """
    canonical = json.dumps(
        {"provider": provider, "kind": kind, "endpoint": endpoint.rstrip("/"), "body": body},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def this_owner() -> str:
    """Who polls a job: ``host:pid`` of this process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def owner_alive(owner: str | None) -> bool:
    """Whether the process that owns a job still runs (unknown hosts count as alive)."""
    if not owner:
        return False
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname():
        return True  # another machine sharing the directory: assume it is still working
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError, OSError):
        return True
    return True


@dataclass(frozen=True)
class Stored:
    """A result found in the ledger: which job made it, when, and the rebuilt result."""

    job_id: str
    finished_at: float
    result: Any

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.finished_at))
        return f"job {self.job_id} from {when}"


class Ledger:
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
        _make_private(self.directory, PRIVATE_DIR)
        self.path = self.directory / "ledger.sqlite3"
        self.results_dir = self.directory / "results"
        self.retention_days = _retention(retention_days)
        self._lock = threading.RLock()
        self._synced: dict[str, int] = {}
        self._stored: set[str] = set()
        self._written: dict[str, int] = {}  # job id → sequence number of the snapshot on disk
        self._skipped: set[str] = set()  # malformed records already warned about
        # Created 0600 before SQLite opens it: SQLite gives -wal and -shm the database's mode.
        os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE))
        self._db = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        self._db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        self._db.execute("PRAGMA journal_mode = WAL")
        self._tighten()
        # NORMAL: a commit survives the process being killed (it is in the OS's cache); only
        # a power cut can lose the last commits, and even then the file stays consistent.
        self._db.execute("PRAGMA synchronous = NORMAL")
        with self._transaction() as db:
            self._check_layout(db)
            for statement in filter(str.strip, _SCHEMA.split(";")):
                db.execute(statement)
            db.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema', ?)",
                (str(SCHEMA_VERSION),),
            )
        self._prune_if_due()

    def _tighten(self) -> None:
        """Make files an older version or another umask left readable private again."""
        for suffix in ("", "-wal", "-shm"):
            _make_private(self.path.with_name(self.path.name + suffix), PRIVATE_FILE)
        if self.results_dir.is_dir():
            _make_private(self.results_dir, PRIVATE_DIR)
            for path in self.results_dir.glob("*"):
                _make_private(path, PRIVATE_DIR)
                for blob in path.glob("*") if path.is_dir() else ():
                    _make_private(blob, PRIVATE_FILE)

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

    def _check_layout(self, db: sqlite3.Connection) -> None:
        """Refuse a ledger file whose tables another layout wrote, saying how to move on."""
        found = {row[1] for row in db.execute("PRAGMA table_info(jobs)")}
        expected = set(re.findall(r"^    (\w+) ", _SCHEMA.split(");")[0], re.MULTILINE))
        if found:  # columns later versions added are added to an older file, empty
            for name in sorted(set(_ADDED_COLUMNS) & (expected - found)):
                db.execute(f"ALTER TABLE jobs ADD COLUMN {name} {_ADDED_COLUMNS[name]}")
                found.add(name)
        missing = sorted(expected - found)
        if found and missing:  # an empty `found`: a new file, about to get the tables
            raise sqlite3.DatabaseError(
                f"the ledger file {self.path} has another layout (its jobs table lacks "
                f"{', '.join(missing)}); move that file aside or set TTS_NB_LEDGER to a new folder"
            )

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
                    _dumps(job.request),
                    _dumps(body),
                    _dumps(job.provider_ids),
                    job.state.value,
                    job.raw_status,
                    _phase(job),
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
            warn_unavailable(self, exc)

    def sync(self, job) -> None:
        """Bring a job's record up to date (a job observer: called after every change).

        The job is read first, under its own lock (jobs notify observers with it released),
        and written afterwards under the ledger's: never one lock inside the other.
        Snapshots carry a sequence number, so a slower thread never overwrites a newer state.
        """
        snapshot = _snapshot(job)
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
                    _dumps(snapshot["provider_ids"]),
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
            [(job_id, i + 1, _dumps(_stored_row(row))) for i, row in enumerate(rows) if i >= start],
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
                "INSERT INTO rows (job, n, data) VALUES (?, ?, ?)", (job_id, n + 1, _dumps(row))
            )

    # ------------------------------------------------------------------- results
    def _put_result(self, result: Any) -> str | None:
        """Store a Clip (or a list of Clips) content-addressed; the JSON that finds it again."""
        clips = result if isinstance(result, (list, tuple)) else [result]
        if not clips or not all(isinstance(clip, Clip) for clip in clips):
            return None
        items = []
        for clip in clips:
            digest = self._put_bytes(clip.data, clip.format)
            items.append(
                {
                    "sha256": digest,
                    "format": clip.format,
                    "text": clip.text,
                    "voice": clip.voice,
                    "meta": clip.meta,
                    "duration_s": clip.duration_s,
                    "bytes": clip.size,
                }
            )
        return _dumps({"list": isinstance(result, (list, tuple)), "clips": items})

    def _blob_path(self, digest: str, fmt: str) -> Path:
        return self.results_dir / digest[:2] / f"{digest}.{fmt}"

    def _put_bytes(self, data: bytes, fmt: str) -> str:
        digest = hashlib.sha256(data).hexdigest()
        path = self._blob_path(digest, fmt)
        if path.is_file() and path.stat().st_size == len(data):
            return digest
        self.results_dir.mkdir(mode=PRIVATE_DIR, exist_ok=True)
        path.parent.mkdir(mode=PRIVATE_DIR, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        return digest

    def _get_bytes(self, digest: str, fmt: str) -> bytes | None:
        try:
            data = self._blob_path(digest, fmt).read_bytes()
        except OSError:
            return None
        return data if hashlib.sha256(data).hexdigest() == digest else None

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
            data = self._get_bytes(item["sha256"], item["format"])
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
        return [row for row in map(_history_row, found) if row is not None]

    def _valid(self, raw: Mapping[str, Any]) -> dict[str, Any] | None:
        """`raw` decoded and checked, or None (with a warning) when it is malformed."""
        try:
            return _decoded(raw)
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

    # ---------------------------------------------------------------- upkeep
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
        for digest in {d for _, result in found for d in _digests(result)} - referenced:
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
            for digest in _digests(value)
        }

    def integrity(self) -> str:
        """SQLite's own integrity check: ``"ok"`` when the file is sound."""
        return self._query("PRAGMA integrity_check")[0]["integrity_check"]


_sequence = itertools.count()


def _snapshot(job) -> dict[str, Any]:
    """Everything the ledger keeps of a job, read consistently under the job's own lock."""
    with getattr(job, "_lock", contextlib.nullcontext()):
        return {
            "seq": next(_sequence),
            "state": job.state.value,
            "raw_status": job.raw_status,
            "phase": _phase(job),
            "polls": job.polls,
            "provider_ids": dict(job.provider_ids),
            "error": job.error,
            "submit_unconfirmed": bool(getattr(job, "submit_unconfirmed", False)),
            "reused_from": getattr(job, "reused_from", None),
            "finished_at": job.finished_at,
            "result": job.clip,
            "rows": job.rows,
            "token": _token(job),
        }


def _token(job) -> str | None:
    """The job's continuation token once it has provider ids (before, there is nothing to
    resume); None for a job without tokens (a test double)."""
    make = getattr(job, "continuation_token", None)
    return make() if make is not None and job.provider_ids else None


def _phase(job) -> str:
    """queued (nothing sent) → submitting (a submit may be on the wire) → submitted → done."""
    if job.state.terminal:
        return "done"
    if job.provider_ids:
        return "submitted"
    if getattr(job, "submit_started_at", None) is not None:
        return "submitting"
    return "queued"


def _digests(result: Any) -> list[str]:
    """The blob hashes a result column refers to (none when it is malformed)."""
    try:
        stored = parse_result(result)
    except MalformedRecord:
        return []
    return [item["sha256"] for item in stored["clips"]] if stored else []


def _make_private(path: Path, mode: int) -> None:
    """chmod `path` to `mode` when it is looser; one we may not change (a folder shared on
    purpose, owned by someone else) is left as it is."""
    try:
        if path.stat().st_mode & 0o777 & ~mode:
            path.chmod(mode)
    except FileNotFoundError:
        pass
    except PermissionError as exc:
        log.debug("tts_nb: cannot make %s private: %s", path, exc)


def _retention(days: float | None) -> float | None:
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


# Query parameters that make a URL a bearer capability (S3/CloudFront/GCS/Azure signatures,
# tokens). History rows and errors name the URLs a job fetched, for reading later; a signed
# link is never needed again once its bytes are stored (a resumed job polls for a fresh one),
# so the ledger keeps it without these. Provider ids are stored whole: they are what
# `tn.resume()` polls with, and they carry no signatures (poll URLs, task and run ids).
_SIGNING = re.compile(
    r"x-amz-.*|x-goog-.*|signature|sig|expires|key-pair-id|policy|token|access_token"
    r"|googleaccessid|credential|security-token|sv|se|sp|sr|st|spr|skoid|sktid",
    re.IGNORECASE,
)
_URL = re.compile(r"https?://[^\s'\"<>]+")


def unsigned(text: str) -> str:
    """`text` with the signing parameters removed from every URL in it."""
    return _URL.sub(lambda m: _unsigned_url(m.group(0)), text)


def _unsigned_url(url: str) -> str:
    parts = urlsplit(url)
    if not parts.query:
        return url
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    kept = [(k, v) for k, v in kept if not _SIGNING.fullmatch(k)]
    return urlunsplit(parts._replace(query=urlencode(kept)))


def _stored_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """A history row as the ledger keeps it: URLs in it without their signatures."""
    return {k: unsigned(v) if isinstance(v, str) else v for k, v in row.items()}


def _history_row(found: Mapping[str, Any]) -> dict[str, Any] | None:
    """One stored history row, or None when it is not a JSON object."""
    try:
        row = json.loads(found["data"])
    except (TypeError, ValueError):
        return None
    return row if isinstance(row, dict) else None


def _dumps(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False, sort_keys=True)


_STATES = frozenset(state.value for state in State)


class MalformedRecord(ValueError):
    """A ledger record that does not have the layout this version writes (damaged or edited)."""


_NUMBER = (int, float)
_OPTIONAL_TEXT = (str, type(None))
_FIELD_TYPES: dict[str, Any] = {
    "id": str,
    "provider": str,
    "kind": str,
    "endpoint": str,
    "fingerprint": str,
    "state": str,
    "phase": str,
    "polls": int,
    "created_at": _NUMBER,
    "updated_at": _NUMBER,
    "finished_at": (*_NUMBER, type(None)),
    "raw_status": _OPTIONAL_TEXT,
    "error": _OPTIONAL_TEXT,
    "error_type": _OPTIONAL_TEXT,
    "reused_from": _OPTIONAL_TEXT,
    "owner": _OPTIONAL_TEXT,
    "token": _OPTIONAL_TEXT,
}
_CLIP_TYPES: dict[str, Any] = {
    "sha256": str,
    "format": str,
    "text": _OPTIONAL_TEXT,
    "voice": _OPTIONAL_TEXT,
    "meta": dict,
    "duration_s": (*_NUMBER, type(None)),
    "bytes": (int, type(None)),
}
_DIGEST = re.compile(r"[0-9a-f]{64}")
_FORMAT = re.compile(r"[a-z0-9]{1,8}")


def _json_field(record: Mapping[str, Any], name: str, kind: type, optional: bool = False) -> Any:
    raw = record.get(name)
    if optional and not raw:
        return None
    try:
        value = json.loads(raw)
    except (TypeError, ValueError):
        raise MalformedRecord(f"{name} is not JSON") from None
    if optional and value is None:
        return None
    if not isinstance(value, kind):
        raise MalformedRecord(f"{name} is not a JSON {kind.__name__}")
    return value


def _check_types(values: Mapping[str, Any], types: Mapping[str, Any], what: str) -> None:
    for name, kind in types.items():
        value = values.get(name)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise MalformedRecord(f"{what} {name} is {type(value).__name__}")


def parse_result(value: Any) -> dict[str, Any] | None:
    """A record's `result` column, checked: ``{"list": bool, "clips": [items]}`` or None.

    Raises MalformedRecord when it is not what `_put_result` writes, so nothing downstream
    (tables, resume, reuse, prune) indexes into a damaged value.
    """
    if not value:
        return None
    stored = _json_field({"result": value}, "result", dict)
    clips = stored.get("clips")
    if not isinstance(stored.get("list"), bool) or not isinstance(clips, list) or not clips:
        raise MalformedRecord("result has no clips")
    for item in clips:
        if not isinstance(item, dict):
            raise MalformedRecord("result clip is not an object")
        _check_types(item, _CLIP_TYPES, "result clip")
        if not _DIGEST.fullmatch(item["sha256"]) or not _FORMAT.fullmatch(item["format"]):
            raise MalformedRecord("result clip has a bad hash or format")
    return stored


def _decoded(record: Mapping[str, Any]) -> dict[str, Any]:
    """A row of the jobs table as a checked dict; MalformedRecord when it cannot be used."""
    record = dict(record)
    _check_types(record, _FIELD_TYPES, "field")
    if record["state"] not in _STATES:
        raise MalformedRecord(f"state {record['state']!r} is unknown")
    record["request"] = _json_field(record, "request", dict)
    record["body"] = _json_field(record, "body", dict, optional=True)
    record["provider_ids"] = _json_field(record, "provider_ids", dict)
    record["embedded"] = bool(record["embedded"])
    record["submit_unconfirmed"] = bool(record["submit_unconfirmed"])
    stored = parse_result(record.get("result"))
    record["clips"] = stored["clips"] if stored is not None else []
    return record


# ---------------------------------------------------------------- the process's ledger
LEDGER_ERRORS = (sqlite3.Error, OSError, ValueError)
_warned: set[str] = set()


def warn_unavailable(ledger: Ledger, exc: BaseException) -> None:
    """Say once per ledger that it failed: jobs go on, unrecorded."""
    key = str(ledger.directory)
    if key in _warned:
        log.debug("tts_nb: ledger write failed again: %s", exc)
        return
    _warned.add(key)
    warnings.warn(
        f"tts_nb: writing to the job ledger at {ledger.directory} failed ({exc}). Jobs go on, "
        "but they may not be resumable after a restart. Check the disk, or point "
        f"{ENV} or tn.use_ledger() elsewhere.",
        RuntimeWarning,
        stacklevel=2,
    )


# Open ledgers by directory: a connection pool, so it outlives `tn.reset()` (which forgets only
# the choice, `Runtime.ledger`); the ledgers in it stay valid for jobs still writing.
_opened: OrderedDict[Path, Ledger] = OrderedDict()
KEEP_OPEN = 4  # ledgers opened via the environment (tests switch it per test)
_failed: set[str] = set()
_open_lock = threading.Lock()


def default_directory() -> Path:
    """The user data directory where the ledger lives unless told otherwise."""
    import platformdirs

    return Path(platformdirs.user_data_dir("tts_nb", appauthor=False))


def _open(directory: Path) -> Ledger | None:
    directory = directory.expanduser().resolve()
    with _open_lock:
        if directory in _opened:
            _opened.move_to_end(directory)
            return _opened[directory]
        try:
            ledger = Ledger(directory)
        except (OSError, sqlite3.Error) as exc:
            if str(directory) not in _failed:
                _failed.add(str(directory))
                warnings.warn(
                    f"tts_nb: the job ledger at {directory} cannot be used ({exc}); jobs run "
                    "but are not recorded, so they cannot be resumed or reused. Point "
                    f"{ENV} or tn.use_ledger() at a writable directory.",
                    RuntimeWarning,
                    stacklevel=3,
                )
            return None
        _opened[directory] = ledger
        while len(_opened) > KEEP_OPEN:
            _, old = _opened.popitem(last=False)
            if old is not current_runtime().ledger:
                old.close()
        return ledger


def current() -> Ledger | None:
    """The ledger jobs are recorded in now, or None when it is switched off."""
    chosen = current_runtime().ledger  # `use_ledger`'s choice, until `tn.reset()`
    if chosen is not False:
        return chosen  # type: ignore[return-value]
    setting = os.environ.get(ENV, "").strip()
    if setting.lower() in DISABLED:
        return None
    return _open(Path(setting) if setting else default_directory())


def use_ledger(path: str | os.PathLike | None | bool = True) -> Ledger | None:
    """Choose where jobs are recorded, for this process.

    Args:
        path: a directory (created if needed); ``None`` or ``False`` switches the ledger off;
            ``True`` goes back to the default (``TTS_NB_LEDGER`` or the user data directory).

    Returns:
        The ledger now in use, or None.
    """
    runtime = current_runtime()
    if path is True:
        runtime.ledger = False
        return current()
    if path is None or path is False:
        runtime.ledger = None
        return None
    runtime.ledger = _open(Path(path))
    return runtime.ledger


__all__ = ["Ledger", "Stored", "current", "use_ledger", "fingerprint", "default_directory"]
