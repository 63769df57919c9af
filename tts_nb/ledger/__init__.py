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

Layout: `store` (the `Ledger` class), `schema` (the file, its tables and modes), `snapshots`
(what is written of a job), `records` (checking what is read back), `blobs` (the result
files), `retention` (pruning and forgetting); this module chooses the process's ledger.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import warnings
from collections import OrderedDict
from pathlib import Path

from ..runtime import current as current_runtime
from .records import MalformedRecord, Stored, parse_result
from .schema import LEDGER_ERRORS, TERMINAL
from .snapshots import fingerprint, owner_alive, this_owner, unsigned
from .store import Ledger

log = logging.getLogger("tts_nb")

ENV = "TTS_NB_LEDGER"
DISABLED = ("off", "none", "0", "false", "no")

# ---------------------------------------------------------------- the process's ledger
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


__all__ = [
    "ENV",
    "LEDGER_ERRORS",
    "TERMINAL",
    "Ledger",
    "MalformedRecord",
    "Stored",
    "current",
    "default_directory",
    "fingerprint",
    "owner_alive",
    "parse_result",
    "this_owner",
    "unsigned",
    "use_ledger",
    "warn_unavailable",
]
