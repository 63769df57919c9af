"""The ledger file: its tables, how it is opened, and who may read it.

One SQLite file in WAL mode with a busy timeout, so several kernels can write at once and a
process killed mid-write leaves the last committed state. Texts, histories and audio are the
user's alone, so the folder, the database (and its -wal/-shm) and the result files are made
private even when another version or umask left them readable. An older layout gets the
columns added since; any other layout is refused with a way forward.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
from pathlib import Path

log = logging.getLogger("tts_nb")

SCHEMA_VERSION = 2  # 2: the jobs table has a token column (added to older files)
BUSY_TIMEOUT_S = 15.0
PRIVATE_DIR, PRIVATE_FILE = 0o700, 0o600  # texts, histories and audio are the user's alone
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

# What a broken ledger raises: jobs go on without it (a warning, not a crash).
LEDGER_ERRORS = (sqlite3.Error, OSError, ValueError)


def connect(path: Path, results_dir: Path) -> sqlite3.Connection:
    """Open (creating it private) the SQLite file at `path`, in WAL mode with a busy timeout."""
    # Created 0600 before SQLite opens it: SQLite gives -wal and -shm the database's mode.
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE))
    db = sqlite3.connect(
        path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
    )
    db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    db.execute("PRAGMA journal_mode = WAL")
    tighten(path, results_dir)
    # NORMAL: a commit survives the process being killed (it is in the OS's cache); only
    # a power cut can lose the last commits, and even then the file stays consistent.
    db.execute("PRAGMA synchronous = NORMAL")
    return db


def create_tables(db: sqlite3.Connection, path: Path) -> None:
    """Create the tables (inside a transaction), after checking an existing file's layout."""
    check_layout(db, path)
    for statement in filter(str.strip, _SCHEMA.split(";")):
        db.execute(statement)
    db.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema', ?)",
        (str(SCHEMA_VERSION),),
    )


def tighten(path: Path, results_dir: Path) -> None:
    """Make files an older version or another umask left readable private again."""
    for suffix in ("", "-wal", "-shm"):
        make_private(path.with_name(path.name + suffix), PRIVATE_FILE)
    if results_dir.is_dir():
        make_private(results_dir, PRIVATE_DIR)
        for folder in results_dir.glob("*"):
            make_private(folder, PRIVATE_DIR)
            for blob in folder.glob("*") if folder.is_dir() else ():
                make_private(blob, PRIVATE_FILE)


def check_layout(db: sqlite3.Connection, path: Path) -> None:
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
            f"the ledger file {path} has another layout (its jobs table lacks "
            f"{', '.join(missing)}); move that file aside or set TTS_NB_LEDGER to a new folder"
        )


def make_private(path: Path, mode: int) -> None:
    """chmod `path` to `mode` when it is looser; one we may not change (a folder shared on
    purpose, owned by someone else) is left as it is."""
    try:
        if path.stat().st_mode & 0o777 & ~mode:
            path.chmod(mode)
    except FileNotFoundError:
        pass
    except PermissionError as exc:
        log.debug("tts_nb: cannot make %s private: %s", path, exc)
