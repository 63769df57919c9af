"""Waveform and spectrogram figures of clips, aligned on one time axis (`clip.plot()`,
`comparison.plot()`).

Seeing voices one above the other on the same seconds shows what listening in turn hides: who
pauses where, who is slower, whose energy sits higher. The spectrogram is in dBFS (a full-scale
sine peaks at 0 dB) on one colour scale for every row, so rows compare honestly.

matplotlib is optional (`pip install tts_nb[plot]`) and imported only when a figure is drawn.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .errors import InvalidInput

if TYPE_CHECKING:
    import numpy as np

FLOOR_DB = -100.0  # the quietest level drawn: 16-bit audio's noise floor is about -96 dBFS
_ENVELOPE_COLUMNS = 2000  # enough for a 9-inch figure at 200 dpi, whatever the clip's length
_MAX_SPECTRUM_FRAMES = 4000  # bounds the STFT's memory for long clips
_TITLE_TEXT_CHARS = 100


def plot_clip(clip: Any, *, spectrogram: bool = True):
    """One clip's waveform and spectrogram; its voice and text as the title."""
    return plot_clips([("", clip)], title=_title(clip), spectrogram=spectrogram)


def plot_clips(rows: Sequence[tuple[str, Any]], *, title: str = "", spectrogram: bool = True):
    """One row per (label, clip): a waveform, and a spectrogram under it unless told not to.

    Every axis shares the x axis, from 0 to the longest clip's duration, so shorter clips end
    early instead of being stretched. Returns the Figure, already closed in pyplot so that a
    notebook shows it once (as the cell's value) and not a second time when the cell ends.
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise InvalidInput(
            "Plots need matplotlib: pip install 'tts_nb[plot]' (or matplotlib)."
        ) from None
    if not rows:
        raise InvalidInput("Nothing to draw: no finished clip yet (wait for the jobs first).")
    per_row = [1.0, 1.8] if spectrogram else [1.0]
    figure, axes = plt.subplots(
        len(rows) * len(per_row),
        1,
        sharex=True,
        squeeze=False,
        figsize=(9, 0.6 + sum(per_row) * len(rows)),
        gridspec_kw={"height_ratios": per_row * len(rows)},
        layout="constrained",
    )
    plt.close(figure)
    axes = list(axes[:, 0])
    image = None
    for number, (label, clip) in enumerate(rows):
        wave_ax = axes[number * len(per_row)]
        _draw_waveform(wave_ax, clip)
        if label:
            wave_ax.set_title(label, loc="left", fontsize=9, parse_math=False)
        if spectrogram:
            image = _draw_spectrogram(axes[number * 2 + 1], clip)
    longest = max(clip.duration_s for _label, clip in rows)
    axes[-1].set_xlim(0, longest)
    axes[-1].set_xlabel("time (s)")
    if image is not None:
        figure.colorbar(image, ax=axes[1::2], label="level (dBFS)", shrink=0.9)
    if title:
        figure.suptitle(title, fontsize=10, parse_math=False)
    return figure


def _draw_waveform(ax: Any, clip: Any) -> None:
    """The min/max envelope, filled: at figure resolution it is the waveform itself."""
    import numpy as np

    frames = max(1, round(clip.duration_s * clip.sample_rate))
    columns = min(_ENVELOPE_COLUMNS, frames)
    low, high = clip.envelope(columns)
    times = (np.arange(columns) + 0.5) * clip.duration_s / columns
    ax.fill_between(times, low, high, color="tab:blue", linewidth=0.5)
    ax.axhline(0, color="0.6", linewidth=0.5)
    ax.set_ylim(-1, 1)
    ax.set_yticks([-1, 0, 1])
    ax.set_ylabel("amplitude", fontsize=8)


def _draw_spectrogram(ax: Any, clip: Any) -> Any:
    """The spectrogram as an image in dBFS over seconds × kHz; returns it for the colour bar."""
    levels, hop_s = spectrogram_dbfs(clip)
    nyquist_khz = clip.sample_rate / 2000
    image = ax.imshow(
        levels,
        origin="lower",
        aspect="auto",
        extent=(0, levels.shape[1] * hop_s, 0, nyquist_khz),
        cmap="magma",
        vmin=FLOOR_DB,
        vmax=0,
        interpolation="nearest",
    )
    ax.set_ylabel("kHz", fontsize=8)
    return image


def spectrogram_dbfs(clip: Any) -> tuple[np.ndarray, float]:
    """Levels in dBFS (frequency bins × frames, floored at `FLOOR_DB`) and seconds per frame.

    A Hann-windowed STFT of ~25 ms frames (a power of two) hopping a quarter frame, or more
    for long clips; scaled so that a full-scale sine on a bin reads 0 dB.
    """
    import numpy as np

    samples = mono_samples(clip)
    size = 1 << max(8, round(math.log2(clip.sample_rate * 0.025)))
    if len(samples) < size:
        samples = np.pad(samples, (0, size - len(samples)))
    hop = max(size // 4, math.ceil((len(samples) - size) / _MAX_SPECTRUM_FRAMES))
    window = np.hanning(size).astype(np.float32)
    frames = np.lib.stride_tricks.sliding_window_view(samples, size)[::hop] * window
    amplitude = np.abs(np.fft.rfft(frames, axis=1)) * (2 / window.sum())
    levels = 20 * np.log10(np.maximum(amplitude, 10 ** (FLOOR_DB / 20)))
    return levels.T, hop / clip.sample_rate


def mono_samples(clip: Any) -> np.ndarray:
    """Every sample as float32, channels averaged (decoded block by block)."""
    import io

    import numpy as np
    import soundfile

    from .clip import _decode_error, _decoded_blocks
    from .errors import BadAudio

    try:
        with soundfile.SoundFile(io.BytesIO(clip.data)) as decoder:
            blocks = [block.mean(axis=1) for block in _decoded_blocks(decoder)]
    except Exception as exc:  # only reachable for a Clip built without from_bytes
        raise BadAudio(f"This clip's audio cannot be decoded ({_decode_error(exc)}).") from None
    return np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.float32)


def _title(clip: Any) -> str:
    """The voice and the (shortened) text a clip says."""
    said = ""
    if clip.text:
        cut = len(clip.text) > _TITLE_TEXT_CHARS
        said = f"“{clip.text[:_TITLE_TEXT_CHARS]}{'…' if cut else ''}”"
    return " · ".join(part for part in (clip.voice, said) if part)
