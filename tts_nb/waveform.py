"""Waveform thumbnails: a clip's min/max envelope as a small inline SVG.

People compare voices by looking as much as by listening: where the pauses fall, which clip is
longer, which is clipped or nearly silent. The picture is plain SVG text, so it needs no
matplotlib, no image to fetch, and shows wherever HTML does (notebook outputs, `widgets.HTML`
values set from worker threads, static exports). The scale is absolute (full scale fills the
height), never normalised, for the same reason the players are not: honest comparison.

numpy and soundfile are imported inside the functions, so that `import tts_nb` stays light.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from .errors import BadAudio

if TYPE_CHECKING:
    import numpy as np

WIDTH = 300
HEIGHT = 40

# JupyterLab's theme variables, so the picture follows light and dark themes; the fallbacks are
# mid-tones that read on white and on near-black (VS Code, static HTML, nbviewer).
_BARS = "var(--jp-brand-color1, #3d8fd1)"
_AXIS = "var(--jp-border-color1, #8c8c8c)"

_LABEL_TEXT_CHARS = 100


def envelope(clip: Any, columns: int) -> tuple[np.ndarray, np.ndarray]:
    """The lowest and highest sample, over all channels, in each of `columns` equal slices.

    Decoded block by block (bounded memory whatever the length); a column that holds no
    sample (more columns than frames) is 0. Raises `BadAudio` when the bytes cannot be
    decoded, which only a Clip built without `Clip.from_bytes` can reach.
    """
    import io

    import numpy as np
    import soundfile

    from .clip import _decode_error, _decoded_blocks

    if columns < 1:
        raise ValueError(f"columns must be at least 1, not {columns}")
    frames = max(1, round(clip.duration_s * clip.sample_rate))
    low = np.full(columns, np.inf, dtype=np.float32)
    high = np.full(columns, -np.inf, dtype=np.float32)
    start = 0
    try:
        with soundfile.SoundFile(io.BytesIO(clip.data)) as decoder:
            for block in _decoded_blocks(decoder):
                column = np.arange(start, start + len(block), dtype=np.int64) * columns // frames
                np.minimum(column, columns - 1, out=column)  # a header that undercounts
                # where each column's run of frames begins within this block
                runs = np.concatenate(([0], np.flatnonzero(np.diff(column)) + 1))
                at = column[runs]
                low[at] = np.minimum(low[at], np.minimum.reduceat(block.min(axis=1), runs))
                high[at] = np.maximum(high[at], np.maximum.reduceat(block.max(axis=1), runs))
                start += len(block)
    except Exception as exc:  # libsndfile reports each failure its own way, via several types
        raise BadAudio(f"This clip's audio cannot be decoded ({_decode_error(exc)}).") from None
    low[np.isinf(low)] = 0.0
    high[np.isinf(high)] = 0.0
    return low, high


def svg(clip: Any, *, width: int = WIDTH, height: int = HEIGHT, span_s: float | None = None) -> str:
    """The clip's waveform as an accessible inline SVG, one bar per pixel column.

    Args:
        clip: a `Clip`.
        width, height: the picture's size in pixels; one envelope column per pixel.
        span_s: the seconds the full width stands for (e.g. the longest clip of a comparison),
            so clips side by side share one time scale; default: this clip's own length.

    Returns:
        The SVG text, or "" when the audio cannot be decoded: a picture is decoration, and the
        player beside it must still show.
    """
    span = clip.duration_s if span_s is None else max(span_s, clip.duration_s)
    columns = max(1, min(width, round(width * clip.duration_s / span))) if span > 0 else width
    try:
        low, high = clip.envelope(columns)
    except BadAudio:
        return ""
    middle, half = height / 2, height / 2
    bars = []
    for x, (lo, hi) in enumerate(zip(low.tolist(), high.tolist())):
        top = middle - max(-1.0, min(1.0, hi)) * half
        bottom = middle - max(-1.0, min(1.0, lo)) * half
        if bottom - top < 1:  # silence still draws a visible flat bar
            centre = (top + bottom) / 2
            top, bottom = centre - 0.5, centre + 0.5
        bars.append(f"M{x + 0.5:g} {top:.1f}V{bottom:.1f}")
    label = html.escape(_label(clip))
    return (
        f'<svg class="tts-nb-waveform" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'aria-label="{label}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" preserveAspectRatio="none" '
        'style="display:block;max-width:100%;margin:2px 0">'
        f"<title>{label}</title>"
        f'<path d="M0 {middle:g}H{width}" style="stroke:{_AXIS};stroke-width:0.5" />'
        f'<path d="{"".join(bars)}" style="stroke:{_BARS};stroke-width:1" />'
        "</svg>"
    )


def _label(clip: Any) -> str:
    """What a screen reader says instead of the picture: length, voice and text."""
    parts = [f"Waveform, {clip.duration_s:.2f} s"]
    if clip.voice:
        parts.append(str(clip.voice))
    if clip.text:
        text = clip.text[:_LABEL_TEXT_CHARS]
        parts.append(f"“{text}{'…' if len(clip.text) > _LABEL_TEXT_CHARS else ''}”")
    return ", ".join(parts)
