"""tts_nb: text-to-speech web APIs made pleasant in Jupyter.

    import tts_nb as tn
    tc = tn.Typecast()                       # no key: the embedded simulator, said once
    job = tc.speak("Hello", voice_id="Olivia")   # Typecast v1; legacy keys: actor_id=
    clip = job.wait(60)                      # blocks only when asked
    job.history                              # one row per HTTP exchange

Heavy modules (pandas, ipywidgets, the simulator) load only when used.
"""

from __future__ import annotations

import logging
from typing import Any

from . import ledger as _ledger
from . import runtime as _runtime
from . import teaching as teach
from .batch import batch
from .clip import Clip
from .clock import SystemClock, VirtualClock
from .credentials import login, logout
from .errors import (
    AuthError,
    BadAudio,
    ExpiredResult,
    InternalError,
    InvalidInput,
    JobCancelled,
    JobFailed,
    JobTimeout,
    NotFound,
    ProviderError,
    QuotaError,
    TTSError,
)
from .job import Job, all_jobs, forget
from .ledger import use_ledger
from .policy import Adaptive, Backoff, Fixed, PollPolicy, Progressive
from .providers.aspose import Aspose
from .providers.camb import Camb
from .providers.typecast import Typecast
from .resume import resume
from .retry import Retry
from .scheduler import Scheduler
from .state import State

__version__ = "0.1.0"

logging.getLogger("tts_nb").addHandler(logging.NullHandler())  # errors live on jobs, not logs


def use_simulator(**options: Any):
    """Point every client created from now on at the embedded simulator, and return it.

    Options (first call only) are those of `tts_nb.simulator.Simulator`: speed (default
    `tts_nb.simulator.SHARED_SPEED`, 50), seed, fault_rate… Clients on it divide their default
    waits by its speed. Like ``TTS_NB_PROVIDER=simulator``, but for this kernel only and
    until `tn.reset()`: the environment (and so any process started from here) is untouched.
    """
    from .simulator import shared

    simulator = shared(**options)
    _runtime.current().simulator_forced = True
    return simulator


def reset() -> None:
    """Start afresh, as a new kernel would, without restarting it (tests, notebooks).

    Unfinished jobs are cancelled and every job is let go of (`tn.jobs()` is empty; the ledger
    keeps their records). The default scheduler and the shared simulator are stopped: the
    next client gets new ones, on a new port. Concurrency gates, the simulator notice (shown
    again once), `tn.use_simulator()`, `tn.use_ledger()`'s choice and the cache of which API
    each Typecast key belongs to are forgotten.

    Untouched: keys entered with `tn.login()` (`tn.logout()` forgets them), environment
    variables, the ledger on disk, and clients and jobs you still hold (their jobs are
    cancelled; make new clients to work on).
    """
    _runtime.reset()


def status(**simulator_options: Any):
    """Where requests go (real service or simulator, per provider): the first cell of every
    notebook. Starts the simulator with these options if it is needed, e.g. ``speed=10``."""
    return teach.status(**simulator_options)


def jobs(ledger: bool = False):
    """Every job of this kernel, one row each: state, polls, timings, audio length and size.

    ``ledger=True`` adds the ledger's jobs from earlier kernels and other notebooks (and a
    ``live`` column telling them apart). ``note`` flags unconfirmed submits, reused results
    and jobs that `tn.resume()` can continue. Times are local; seconds rounded to 0.01.
    """
    from .resume import ledger_jobs
    from .tables import jobs_frame

    live = all_jobs()
    records = ledger_jobs(exclude=[job.id for job in live]) if ledger else []
    return jobs_frame(live, records, people=True)


def history(ledger: bool = False, full: bool = False):
    """The history rows of every job of this kernel in one DataFrame (`Job.history`'s columns
    with ``job`` first); ``ledger=True`` adds the ledger's earlier jobs, ``full=True`` every
    column (`Job.history_full`)."""
    from .resume import ledger_jobs
    from .tables import history_frame

    live = all_jobs()
    rows = [row for job in live for row in job.rows]
    if ledger:
        earlier = [record["id"] for record in ledger_jobs(exclude=[job.id for job in live])]
        store = _ledger.current()
        if earlier and store is not None:
            rows += store.rows(earlier)
    return history_frame(rows, full=full, by_job=True)


# Loaded on first use, so `import tts_nb` never imports ipywidgets, pandas or matplotlib.
_LAZY = {
    "compare": ("tts_nb.comparison", "compare"),
    "doctor": ("tts_nb.diagnose", "doctor"),
    "SpeakPanel": ("tts_nb.widgets", "SpeakPanel"),
    "VoiceDesignPanel": ("tts_nb.widgets", "VoiceDesignPanel"),
    "TranslatePanel": ("tts_nb.widgets", "TranslatePanel"),
    "JobsPanel": ("tts_nb.widgets", "JobsPanel"),
    "JobView": ("tts_nb.widgets", "JobView"),
    "styled": ("tts_nb.tables", "styled"),
    "timeline": ("tts_nb.plots", "timeline"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attribute = _LAZY[name]
        return getattr(importlib.import_module(module), attribute)
    raise AttributeError(f"module 'tts_nb' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = [
    "Adaptive",
    "Aspose",
    "AuthError",
    "Backoff",
    "BadAudio",
    "Camb",
    "Clip",
    "ExpiredResult",
    "Fixed",
    "InternalError",
    "InvalidInput",
    "Job",
    "JobCancelled",
    "JobFailed",
    "JobTimeout",
    "NotFound",
    "PollPolicy",
    "Progressive",
    "Retry",
    "ProviderError",
    "QuotaError",
    "Scheduler",
    "State",
    "SystemClock",
    "TTSError",
    "Typecast",
    "VirtualClock",
    "forget",
    "history",
    "jobs",
    "login",
    "logout",
    "reset",
    "resume",
    "batch",
    "use_ledger",
    "status",
    "teach",
    "use_simulator",
]

for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type):
        _obj.__module__ = "tts_nb"
del _name, _obj
