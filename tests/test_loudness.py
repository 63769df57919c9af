"""Loudness as BS.1770-4 / EBU R128 define it, true peak, the other clip metrics, and
loudness-matched copies. Expected values come from the standards, not from tts_nb's code."""

from __future__ import annotations

import io
import math
import subprocess
import sys

import numpy as np
import pyloudnorm
import pytest
import soundfile as sf

from tts_nb import loudness
from tts_nb.clip import Clip

RATE = 48_000


def tone(freq: float, peak_dbfs: float, seconds: float = 5.0, rate: int = RATE, phase=0.0):
    t = np.arange(int(seconds * rate)) / rate
    return 10 ** (peak_dbfs / 20) * np.sin(2 * np.pi * freq * t + phase)


def wav(samples: np.ndarray, rate: int = RATE, text: str | None = None, subtype="PCM_24") -> Clip:
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format="WAV", subtype=subtype)
    return Clip.from_bytes(buffer.getvalue(), text=text)


# BS.1770-4 §2: a 0 dBFS 1 kHz sine in one front channel reads -3.01 LKFS (mean square 1/2,
# K-weighting ~0 dB at 1 kHz and the -0.691 constant cancelling); channels add in power.
@pytest.mark.parametrize(
    ("freq", "peak", "channels", "expected"),
    [
        (1000, -23.0, 2, -23.0),  # EBU Tech 3341 test case 1: stereo -23 dBFS sine → -23 LUFS
        (997, -18.0, 1, -18.0 - 3.01),  # mono: one channel's power only
        (997, -18.0, 2, -18.0),
        (1000, -20.0, 1, -23.01),
    ],
)
def test_integrated_loudness_of_tones_follows_bs1770(freq, peak, channels, expected):
    samples = tone(freq, peak)
    if channels == 2:
        samples = np.stack([samples, samples], axis=1)
    assert wav(samples).metrics()["lufs"] == pytest.approx(expected, abs=0.1)


@pytest.mark.parametrize("rate", [48_000, 22_050, 16_000])
def test_lufs_matches_pyloudnorms_own_meter(rate):
    samples = tone(1000, -20.0, rate=rate) + tone(150, -30.0, rate=rate)
    reference = pyloudnorm.Meter(rate).integrated_loudness(samples)
    assert wav(samples, rate, subtype="FLOAT").metrics()["lufs"] == pytest.approx(
        reference, abs=0.1
    )


def test_true_peak_finds_the_peak_between_samples():
    # A sine at a quarter of the sample rate, 45° off: every sample sits at 0.707 of the real
    # peak, 3.01 dB under it. Faded in and out so the edges add no overshoot.
    samples = tone(RATE / 4, -6.02, phase=math.pi / 4) * np.hanning(5 * RATE)
    middle = samples[len(samples) // 2 - 8 : len(samples) // 2 + 8]
    assert 20 * math.log10(np.max(np.abs(middle))) == pytest.approx(-9.03, abs=0.05)
    assert wav(samples).metrics()["true_peak_dbtp"] == pytest.approx(-6.02, abs=0.15)


def test_clip_shorter_than_a_gating_block_has_no_lufs_and_says_why():
    metrics = wav(tone(1000, -20.0, seconds=0.3)).metrics()
    assert math.isnan(metrics["lufs"]) and "400 ms" in metrics["note"]
    assert metrics["true_peak_dbtp"] == pytest.approx(-20.0, abs=0.1)
    assert metrics["duration_s"] == pytest.approx(0.3)


def test_silence_is_minus_infinity_and_all_silence():
    metrics = wav(np.zeros(RATE)).metrics()
    assert metrics["lufs"] == -math.inf and metrics["true_peak_dbtp"] == -math.inf
    assert metrics["note"] == "digital silence" and metrics["leading_silence_s"] == 1.0


def test_silences_words_per_minute_and_clipped_samples():
    lead, tail = np.zeros(RATE // 4), np.zeros(RATE // 2)
    loud = tone(440, 3.5, seconds=3.0)  # peaks at 1.5: clipped when written
    clipped = int(np.count_nonzero(np.abs(loud) >= 1.0))
    clip = wav(np.concatenate([lead, loud, tail]), text="one two three four five six seven eight")
    metrics = clip.metrics()
    assert metrics["leading_silence_s"] == pytest.approx(0.25, abs=0.001)
    assert metrics["trailing_silence_s"] == pytest.approx(0.5, abs=0.001)
    assert metrics["words_per_min"] == pytest.approx(8 / 3.0 * 60, rel=0.01)
    assert clipped > 1000 and metrics["clipped_samples"] == pytest.approx(clipped, rel=0.01)
    assert wav(tone(440, -1.0), text=None).metrics()["clipped_samples"] == 0
    assert math.isnan(wav(tone(440, -1.0), text=None).metrics()["words_per_min"])


def test_metrics_are_cached_and_a_copy():
    clip = wav(tone(1000, -20.0))
    first = clip.metrics()
    first["lufs"] = 0.0
    assert clip.metrics()["lufs"] == pytest.approx(-23.01, abs=0.1)
    assert "_metrics" in vars(clip)


def test_matched_copies_are_equally_loud_and_never_above_the_ceiling():
    quiet, loud = wav(tone(500, -30.0)), wav(tone(2000, -3.0))
    # a click track: quiet on average, with peaks near full scale
    clicks = tone(300, -45.0)
    clicks[:: RATE // 5] = 0.9
    spiky = wav(clicks)
    originals = [quiet.data, loud.data, spiky.data]
    copies, level = loudness.matched([quiet, loud, spiky])
    assert [c.data for c in (quiet, loud, spiky)] == originals  # untouched
    levels = [copy.metrics()["lufs"] for copy in copies]
    assert max(levels) - min(levels) < 0.5 and level == pytest.approx(levels[0], abs=0.2)
    assert level < loudness.TARGET_LUFS - 10  # lowered: the click track may not pass -1 dBTP
    assert all(copy.metrics()["true_peak_dbtp"] <= loudness.CEILING_DBTP + 0.1 for copy in copies)
    gentle, level = loudness.matched([quiet, loud])
    assert level == loudness.TARGET_LUFS
    assert [c.metrics()["lufs"] for c in gentle] == pytest.approx([-23.0, -23.0], abs=0.1)
    assert gentle[0].meta["gain_db"] == pytest.approx(-23.0 - quiet.metrics()["lufs"])
    _, quietest = loudness.matched([quiet, loud], "quietest")
    assert quietest == pytest.approx(quiet.metrics()["lufs"])


def test_a_clip_without_lufs_is_copied_unchanged_and_said_so():
    short = wav(tone(1000, -20.0, seconds=0.2))
    copies, _level = loudness.matched([short, wav(tone(1000, -20.0))])
    assert copies[0].meta["gain_db"] == 0.0 and "not matched" in copies[0].meta["matched_note"]
    with pytest.raises(loudness.InvalidInput, match="nothing to match"):
        loudness.matched([short])


def test_low_anchor_removes_what_is_above_3_5_khz():
    rate = 22_050
    both = tone(1000, -12.0, rate=rate) + tone(6000, -12.0, rate=rate)
    anchor = loudness.low_passed(wav(both, rate))
    samples = loudness.samples(anchor)[:, 0]
    spectrum = np.abs(np.fft.rfft(samples))
    freqs = np.fft.rfftfreq(len(samples), 1 / rate)
    kept = spectrum[np.argmin(np.abs(freqs - 1000))]
    cut = spectrum[np.argmin(np.abs(freqs - 6000))]
    assert 20 * math.log10(cut / kept) < -40 and anchor.meta["low_pass_hz"] == 3500
    with pytest.raises(loudness.InvalidInput, match="changes nothing"):
        loudness.low_passed(wav(tone(1000, -12.0, rate=6000), 6000))


def test_importing_loudness_stays_light():
    code = (
        "import sys, tts_nb.loudness; "
        "print(','.join(m for m in ('numpy', 'scipy', 'pyloudnorm') if m in sys.modules))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == ""


def test_matched_simulator_speech_from_different_voices(tc, sim):
    import tts_nb as tn

    camb = tn.Camb(
        api_key=sim.credentials["camb_api_key"],
        base_url=sim.urls["camb"],
        policy=tn.Fixed(0.05, timeout=30),
        min_interval=0.05,
    )
    cmp = tn.compare(
        "Loudness should not decide which voice wins.",
        voices=[(tc, "Olivia"), (tc, "James"), (tc, "Emma"), camb],
    ).wait(30)
    clips = [entry.clip for entry in cmp.entries]
    before = [clip.data for clip in clips]
    raw = [clip.metrics()["lufs"] for clip in clips]
    assert max(raw) - min(raw) > 1.0  # the voices really differ before matching
    copies = cmp.matched()
    levels = [copy.metrics()["lufs"] for copy in copies.values()]
    assert len(levels) == 4 and max(levels) - min(levels) < 0.5
    assert [entry.clip.data for entry in cmp.entries] == before
    assert all(copy.metrics()["true_peak_dbtp"] <= -0.9 for copy in copies.values())
