"""The embedded simulator: the providers' APIs on 127.0.0.1, offline, with real speech.

Every notebook, test and benchmark runs against it; the toolkit uses it whenever no API keys
are set. It serves each API on its own origin with the request and response shapes of the
providers' documents, a download CDN on another origin whose links expire, real auth checks,
quotas, and faults on demand (`Simulator.faults`, `--fault-rate`). Rare outcomes are triggered
by markers in the text (see `tts_nb.simulator.markers`).

    python -m tts_nb.simulator --port 0 --speed 10
    {"typecast": "http://127.0.0.1:…", "cdn": …, "credentials": {…}}

In-process: `serve()` starts a new one; `shared()` is the one `tn.use_simulator()` and
key-less clients use.
"""

from __future__ import annotations

from ..runtime import current
from .core import SimClock, Simulator
from .faults import ALL_KINDS, Faults


def serve(**options) -> Simulator:
    """Start a new simulator in this process (options as for `Simulator`)."""
    return Simulator(**options).start()


# The shared simulator's speed unless its first user names one: key-less clients are for
# learning and demos, where a CAMB task of "2–5 minutes" should take a few seconds. Clients on
# it divide their default waits by the speed too (`Client.simulator_speed`).
SHARED_SPEED = 50.0


def shared(**options) -> Simulator:
    """The process-wide simulator, started on first use. Options apply only to that first use;
    its speed is `SHARED_SPEED` unless they say otherwise (``speed=1``: real time). It is the
    runtime's: `tn.reset()` stops it."""
    return current().simulator(**options)


def reset_shared() -> None:
    """Stop the process-wide simulator (the next `shared()` starts a fresh one)."""
    current().stop_simulator()


__all__ = [
    "Simulator",
    "SimClock",
    "Faults",
    "ALL_KINDS",
    "SHARED_SPEED",
    "serve",
    "shared",
    "reset_shared",
]
