"""tts_nb: text-to-speech web APIs made pleasant in Jupyter.

    import tts_nb as tn
    tc = tn.Typecast()                       # no key: the embedded simulator, said once
    job = tc.speak("Hello", actor_id="Olivia")
    clip = job.wait(60)                      # blocks only when asked
    job.history                              # one row per HTTP exchange

Heavy modules (pandas, ipywidgets, the simulator) load only when used.
"""

from __future__ import annotations

import logging
from typing import Any

from .clip import Clip
from .clock import SystemClock, VirtualClock
from .errors import (
    AuthError,
    BadAudio,
    ExpiredResult,
    InvalidInput,
    JobFailed,
    JobTimeout,
    NotFound,
    ProviderError,
    QuotaError,
    TTSError,
)
from .job import Job, all_jobs
from .policy import Adaptive, Backoff, Fixed, PollPolicy, Progressive
from .providers.typecast import Typecast
from .scheduler import Scheduler
from .state import State

__version__ = "0.1.0"

logging.getLogger("tts_nb").addHandler(logging.NullHandler())  # errors live on jobs, not logs


def use_simulator(**options: Any):
    """Point every client created from now on at the embedded simulator, and return it.

    Options (first call only) are those of `tts_nb.simulator.Simulator`: speed, seed,
    fault_rate…
    """
    import os

    from .simulator import shared

    os.environ["TTS_NB_PROVIDER"] = "simulator"
    return shared(**options)


def jobs():
    """Every job started in this kernel, one row each (state, polls, timings, audio)."""
    from .tables import jobs_frame

    return jobs_frame(all_jobs())


def history():
    """The history rows of every job in this kernel, in one DataFrame."""
    from .tables import history_frame

    return history_frame(row for job in all_jobs() for row in job.rows)


__all__ = [
    "Adaptive",
    "AuthError",
    "Backoff",
    "BadAudio",
    "Clip",
    "ExpiredResult",
    "Fixed",
    "InvalidInput",
    "Job",
    "JobFailed",
    "JobTimeout",
    "NotFound",
    "PollPolicy",
    "Progressive",
    "ProviderError",
    "QuotaError",
    "Scheduler",
    "State",
    "SystemClock",
    "TTSError",
    "Typecast",
    "VirtualClock",
    "history",
    "jobs",
    "use_simulator",
]

for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type):
        _obj.__module__ = "tts_nb"
del _name, _obj
