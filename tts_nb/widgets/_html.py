"""Small HTML fragments shared by the views: state badges, players, key figures, tables.

Widgets show these through `widgets.HTML.value`, the one thing a background thread may set
safely (see the notebook notes). Players embed the exact bytes: never normalised, never autoplay.
"""

from __future__ import annotations

import base64
import html
import math
from typing import Any

from ..state import State
from ..tables import STATE_COLOURS


def esc(value: Any) -> str:
    """Text from a provider or the ledger, safe inside HTML (quotes too: attribute values)."""
    return html.escape(str(value))


def badge(state: State | str) -> str:
    """A coloured pill with the state's name."""
    state = State(state)
    return (
        f'<span class="tts-nb-badge" style="background:{STATE_COLOURS[state]};color:white;'
        f'border-radius:9px;padding:1px 8px;font-size:0.85em;font-weight:600">{state.value}</span>'
    )


def player(clip: Any) -> str:
    """An <audio> element holding the clip's bytes as they came (no autoplay, no loop)."""
    encoded = base64.b64encode(clip.data).decode("ascii")
    mimetype = esc(clip.mimetype)
    return (
        '<audio controls preload="metadata" style="width:100%;max-width:360px">'
        f'<source src="data:{mimetype};base64,{encoded}" type="{mimetype}"></audio>'
    )


def polls(count: int) -> str:
    return f"{count} poll" if count == 1 else f"{count} polls"


def loudness(clip: Any) -> str:
    value = clip.rms_dbfs
    return "silent" if math.isinf(value) else f"{value:.1f} dBFS"


def figures(job: Any, clip: Any) -> str:
    """Time to result, polls, audio length, size and loudness in one muted line."""
    parts = [
        f"result in {job.elapsed_s:.1f} s",
        polls(job.polls),
        f"{clip.duration_s:.2f} s audio",
        f"{clip.format.upper()} {clip.sample_rate} Hz",
        f"{clip.size / 1024:.1f} kB",
        loudness(clip),
    ]
    return f'<div style="color:#555;font-size:0.9em">{esc(" · ".join(parts))}</div>'


def error_box(message: str) -> str:
    return (
        '<div class="tts-nb-error" style="border-left:4px solid #dc3545;background:#fdf0f1;'
        f'padding:4px 8px;white-space:pre-wrap">{esc(message)}</div>'
    )


def table(frame: Any) -> str:
    """A DataFrame as the styled HTML of `tables.styled` (state colours, rounded numbers)."""
    from ..tables import styled

    return styled(frame).to_html()
