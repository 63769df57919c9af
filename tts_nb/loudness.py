"""Loudness as broadcasters and listening labs measure it, and loudness-matched copies.

RMS in dBFS weighs a rumble like a hiss and ignores pauses, so two voices with the same RMS can
sound far apart. ITU-R BS.1770 (EBU R128) integrated loudness in LUFS is what meters, streaming
services and listening tests use: K-weighted (the ear's sensitivity), gated (pauses and quiet
tails do not pull it down). pyloudnorm implements BS.1770-4; true peak follows its Annex 2
(4x oversampling), since the peak between samples is what clips after a gain change or a codec.

Listeners judge the louder of two sounds better, so fair listening tests (ITU-R BS.1116,
BS.1534 MUSHRA) play candidates loudness-aligned: `matched` makes such copies, never touching
the originals, and `low_passed` makes MUSHRA's 3.5 kHz anchor.

numpy, scipy, soundfile and pyloudnorm are imported inside the functions, so that
`import tts_nb` stays light.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .errors import InvalidInput

if TYPE_CHECKING:
    import numpy as np

    from .clip import Clip

TARGET_LUFS = -23.0  # EBU R128 programme loudness: the default level of matched copies
CEILING_DBTP = -1.0  # EBU R128's maximum true peak: matched copies never go above it
GATE_S = 0.4  # BS.1770's gating block: shorter audio has no block, so no integrated loudness
OVERSAMPLING = 4  # BS.1770-4 Annex 2: true peak from a 4x oversampled signal
SILENCE_DB = -50.0  # below the clip's own peak by this much counts as silence (lead-in, tail)
FULL_SCALE = 1.0 - 2.0**-15  # a 16-bit sample of 32767 or -32768 is at full scale
ANCHOR_HZ = 3500.0  # MUSHRA's low anchor: the reference low-passed at 3.5 kHz

SHORT_NOTE = f"shorter than BS.1770's {GATE_S * 1000:.0f} ms gating block: no integrated loudness"
SILENT_NOTE = "digital silence"


def samples(clip: Clip) -> np.ndarray:
    """The clip's audio as float64 frames x channels, full scale = 1.0."""
    import soundfile

    data, _rate = soundfile.read(io.BytesIO(clip.data), dtype="float64", always_2d=True)
    return data


def integrated_lufs(audio: np.ndarray, rate: int) -> float:
    """BS.1770-4 integrated loudness in LUFS (gated, K-weighted); -inf for silence, and NaN
    for audio shorter than one 400 ms gating block, where the standard defines no value."""
    import numpy as np
    import pyloudnorm

    if len(audio) < GATE_S * rate:
        return math.nan
    if not np.any(audio):
        return -math.inf
    return float(pyloudnorm.Meter(rate).integrated_loudness(audio))


def true_peak_dbtp(audio: np.ndarray) -> float:
    """The highest absolute sample of a 4x oversampled copy (BS.1770-4 Annex 2), in dBTP.

    The interpolation filter is scipy's polyphase FIR (Kaiser window): within 0.1 dB of the
    Annex's 48-tap filter for speech. -inf for silence.
    """
    import numpy as np
    from scipy.signal import resample_poly

    if not np.any(audio):
        return -math.inf
    upsampled = resample_poly(audio, OVERSAMPLING, 1, axis=0)
    peak = max(float(np.max(np.abs(upsampled))), float(np.max(np.abs(audio))))
    return 20 * math.log10(peak)


def _silences(audio: np.ndarray, rate: int) -> tuple[float, float]:
    """Seconds before the first and after the last sample within `SILENCE_DB` of the peak."""
    import numpy as np

    level = np.max(np.abs(audio), axis=1)
    peak = float(level.max()) if len(level) else 0.0
    if peak == 0.0:
        whole = len(audio) / rate
        return whole, whole
    loud = np.flatnonzero(level >= peak * 10 ** (SILENCE_DB / 20))
    return loud[0] / rate, (len(audio) - 1 - loud[-1]) / rate


def measure(clip: Clip) -> dict[str, Any]:
    """The figures a listening lab reports for one clip (see `Clip.metrics`)."""
    import numpy as np

    audio = samples(clip)
    rate = clip.sample_rate
    lufs = integrated_lufs(audio, rate)
    lead, tail = _silences(audio, rate)
    spoken_s = max(0.0, clip.duration_s - lead - tail)
    words = len(clip.text.split()) if clip.text else 0
    notes = []
    if math.isnan(lufs):
        notes.append(SHORT_NOTE)
    elif lufs == -math.inf:
        notes.append(SILENT_NOTE)
    return {
        "duration_s": clip.duration_s,
        "lufs": lufs,
        "true_peak_dbtp": true_peak_dbtp(audio),
        "words_per_min": words / spoken_s * 60 if words and spoken_s > 0 else math.nan,
        "leading_silence_s": float(lead),
        "trailing_silence_s": float(tail),
        "clipped_samples": int(np.count_nonzero(np.abs(audio) >= FULL_SCALE)),
        "note": "; ".join(notes) or None,
    }


def encode(clip: Clip, audio: np.ndarray, **meta: Any) -> Clip:
    """`audio` as a new 16-bit WAV clip with `clip`'s text and voice; `clip` stays as it was.

    Samples are held within full scale first: libsndfile would wrap them around, not clip."""
    import numpy as np
    import soundfile

    from .clip import Clip

    buffer = io.BytesIO()
    soundfile.write(
        buffer, np.clip(audio, -1.0, FULL_SCALE), clip.sample_rate, format="WAV", subtype="PCM_16"
    )
    return Clip.from_bytes(
        buffer.getvalue(), text=clip.text, voice=clip.voice, meta={**clip.meta, **meta}
    )


def matched(
    clips: Sequence[Clip],
    target_lufs: float | str = TARGET_LUFS,
    ceiling_dbtp: float = CEILING_DBTP,
) -> tuple[list[Clip], float]:
    """Copies of `clips` all at one integrated loudness, and that loudness.

    The level is `target_lufs` (or the quietest clip's, with ``"quietest"``), lowered when a
    clip would otherwise peak above `ceiling_dbtp`: every copy is reduced rather than boosted
    past the ceiling, so none clips and all stay equally loud. Each copy's ``meta`` says its
    gain (``gain_db``) and level (``matched_lufs``). Clips without an integrated loudness
    (shorter than 400 ms, or silent) are copied unchanged, with a ``matched_note``.
    """
    decoded = [samples(clip) for clip in clips]
    levels = [integrated_lufs(a, c.sample_rate) for a, c in zip(decoded, clips)]
    peaks = [true_peak_dbtp(a) for a in decoded]
    usable = [i for i, level in enumerate(levels) if math.isfinite(level)]
    if not usable:
        raise InvalidInput(
            "None of these clips has an integrated loudness (each is shorter than 400 ms or "
            "silent), so there is nothing to match: listen to the originals."
        )
    if target_lufs == "quietest":
        target = min(levels[i] for i in usable)
    elif isinstance(target_lufs, (int, float)) and math.isfinite(target_lufs):
        target = float(target_lufs)
    else:
        raise InvalidInput(f"target_lufs={target_lufs!r}: give a level in LUFS or 'quietest'.")
    target = min([target, *(levels[i] + ceiling_dbtp - peaks[i] for i in usable)])
    copies = []
    for i, (clip, audio) in enumerate(zip(clips, decoded)):
        if i not in usable:
            why = SHORT_NOTE if math.isnan(levels[i]) else SILENT_NOTE
            copies.append(encode(clip, audio, gain_db=0.0, matched_note=f"not matched: {why}"))
            continue
        gain_db = target - levels[i]
        copies.append(
            encode(clip, audio * 10 ** (gain_db / 20), gain_db=gain_db, matched_lufs=target)
        )
    return copies, target


def low_passed(clip: Clip, cutoff_hz: float = ANCHOR_HZ) -> Clip:
    """A copy of `clip` low-passed at `cutoff_hz` (8th-order Butterworth, zero phase): the
    MUSHRA low anchor, a stimulus every listener should rate clearly worse."""
    from scipy.signal import butter, sosfiltfilt

    if cutoff_hz >= clip.sample_rate / 2:
        raise InvalidInput(
            f"A {cutoff_hz:g} Hz low-pass changes nothing at {clip.sample_rate} Hz (its highest "
            "frequency is half that): use a clip with a higher sample rate as the reference."
        )
    sos = butter(8, cutoff_hz, btype="low", fs=clip.sample_rate, output="sos")
    return encode(clip, sosfiltfilt(sos, samples(clip), axis=0), low_pass_hz=cutoff_hz)
