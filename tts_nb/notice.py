"""The one notice that requests go to the embedded simulator: once per kernel, quietly.

A learner without keys must know their requests never reached a real service, but a notebook
should not shout it: one calm line in the cell (stderr outside a kernel), none in Voila, whose
visitors set no keys, and none again after `tn.status()` said the same.
"""

from __future__ import annotations

import html
import os
import sys

from .kernel import in_kernel
from .runtime import current

VOILA_VARIABLES = ("VOILA_SERVER_URL", "VOILA_BASE_URL", "VOILA_KERNEL_ID")


def in_voila() -> bool:
    """True in a kernel started by Voila: a dashboard's visitors set no keys and need no
    notice about them."""
    return any(os.environ.get(name) for name in VOILA_VARIABLES)


def notice_given() -> bool:
    """Record that this kernel was told requests go to the simulator; True the first time.

    `tn.status()` calls it when it shows a simulated provider, so the banner of a client
    created afterwards does not repeat what the status box just said. The flag is the
    runtime's: after `tn.reset()` the notice is given again.
    """
    runtime = current()
    with runtime.notice_lock:
        first = not runtime.notice_given
        runtime.notice_given = True
    return first


def announce_simulator(simulator_url: str) -> None:
    """Say once per kernel, quietly, that calls go to the offline simulator (never in Voila)."""
    if not notice_given() or in_voila():
        return
    from .credentials import forced_by
    from .simulator import shared

    speed = shared().clock.speed
    faster = f"jobs run {speed:g}× faster than the real services" if speed != 1 else "real time"
    what = f"offline, no account, no quota, real speech from espeak-ng; {faster}"
    forced = forced_by()
    if forced is not None:  # keys may be set: they are not what decides
        why, keys = forced, ""
    else:
        why = "no API keys"
        keys = (
            " Set TYPECAST_API_KEY, CAMB_API_KEY or ASPOSE_CLIENT_ID/ASPOSE_CLIENT_SECRET to "
            "use the real services."
        )
    if in_kernel():  # a calm line in the cell, not the red box notebooks give stderr
        from IPython.display import display

        text = f"tts_nb: {why}, so requests go to the embedded simulator ({what}).{keys}"
        display(
            {
                "text/plain": text,
                "text/html": f'<div style="{_BANNER_STYLE}">{html.escape(text)}</div>',
            },
            raw=True,
        )
    else:
        print(
            f"tts_nb: {why}, so requests go to the embedded simulator "
            f"({simulator_url}: {what}).{keys}",
            file=sys.stderr,
        )


# JupyterLab's theme variables, so a dark theme gets light text; the fallbacks are for viewers
# without them (GitHub, nbviewer).
_BANNER_STYLE = (
    "border-left:3px solid var(--jp-brand-color1, #2196f3);"
    "background:var(--jp-layout-color2, #eef5fb);color:var(--jp-ui-font-color1, #1a1a1a);"
    "padding:4px 10px;font-size:var(--jp-content-font-size1, 13px)"
)
