"""Small HTML fragments shared by the views: state badges, players, key figures, tables.

Widgets show these through `widgets.HTML.value`, the one thing a background thread may set
safely (see the notebook notes). Players embed the exact bytes: never normalised, never autoplay.
Colours are JupyterLab's theme variables (`--jp-*`) with light-theme fallbacks, so the same
HTML reads well in a dark theme and in viewers without the variables (GitHub, nbviewer).
"""

from __future__ import annotations

import base64
import html
import math
from typing import Any

from ..clip import _human_size as human_size
from ..state import State
from ..tables import STATE_COLOURS

MUTED = "var(--jp-content-font-color2, #555)"
TEXT = "var(--jp-content-font-color1, #1a1a1a)"
PANEL = "var(--jp-layout-color2, #f3f4f6)"
BORDER = "var(--jp-border-color2, #ddd)"


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
    """Integrated loudness (BS.1770) as meters show it, or why there is none."""
    value = clip.metrics()["lufs"]
    if math.isnan(value):
        return "too short for LUFS"
    return "silent" if math.isinf(value) else f"{value:.1f} LUFS"


def figures(job: Any, clip: Any) -> str:
    """Time to result, polls, audio length, size and loudness in one muted line."""
    parts = [
        f"result in {job.elapsed_s:.1f} s",
        polls(job.polls),
        f"{clip.duration_s:.2f} s audio",
        f"{clip.format.upper()} {clip.sample_rate} Hz",
        human_size(clip.size),  # the unit of the clip's own caption
        loudness(clip),
    ]
    return muted(" · ".join(parts))


def muted(text: str) -> str:
    """A small secondary line (figures, which audio plays), escaped, readable in any theme."""
    return f'<div style="color:{MUTED};font-size:0.9em">{esc(text)}</div>'


def error_box(message: str) -> str:
    """Something went wrong: a red edge, the theme's text on the theme's panel colour."""
    return _box("tts-nb-error", "var(--jp-error-color1, #dc3545)", message)


def note_box(message: str) -> str:
    """Something the user did or should know, not an error (e.g. their own Cancel)."""
    return _box("tts-nb-note", "var(--jp-border-color1, #8c8c8c)", message)


def _box(kind: str, edge: str, message: str) -> str:
    return (
        f'<div class="{kind}" style="border-left:4px solid {edge};background:{PANEL};'
        f'color:{TEXT};padding:4px 8px;white-space:pre-wrap">{esc(message)}</div>'
    )


def table(frame: Any) -> str:
    """A DataFrame as the styled HTML of `tables.styled` (state colours, rounded numbers)."""
    from ..tables import styled

    return styled(frame).to_html()
