"""espeak-ng speech for the simulator: real, sized right, encodable, and safe from many threads."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import soundfile

from tts_nb.simulator.speech import (
    _LANGUAGES,
    _REGIONAL,
    Speech,
    _resample,
    encode,
    espeak_voice_exists,
    language_voice,
    synthesize,
)

SENTENCE = "The quick brown fox jumps over the lazy dog near the river."


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))


def test_speech_is_real_audio_at_espeaks_rate():
    speech = synthesize(SENTENCE)
    assert speech.sample_rate == 22050
    assert speech.samples.dtype == np.float32 and speech.samples.ndim == 1
    assert 1.5 < speech.duration_s < 6
    assert rms(speech.samples) > 0.03  # speech, not silence
    assert np.abs(speech.samples).max() <= 1.0


def test_longer_text_gives_longer_audio():
    short = synthesize("Hello.")
    long = synthesize("Hello. " + SENTENCE + " " + SENTENCE)
    assert long.duration_s > 3 * short.duration_s


def test_rate_changes_duration_and_is_clamped():
    slow = synthesize(SENTENCE, rate_wpm=100)
    fast = synthesize(SENTENCE, rate_wpm=300)
    assert slow.duration_s > 2 * fast.duration_s
    clamped = synthesize(SENTENCE, rate_wpm=10_000)
    assert clamped.duration_s == pytest.approx(synthesize(SENTENCE, rate_wpm=450).duration_s, 0.05)


def test_pitch_changes_the_voice():
    low = synthesize(SENTENCE, pitch=0)
    high = synthesize(SENTENCE, pitch=100)
    n = min(len(low.samples), len(high.samples))
    assert not np.allclose(low.samples[:n], high.samples[:n], atol=1e-3)


def test_volume_scales_and_clips():
    quiet = synthesize(SENTENCE, volume=0.25)
    normal = synthesize(SENTENCE)
    assert rms(quiet.samples) == pytest.approx(rms(normal.samples) / 4, rel=0.1)
    loud = synthesize(SENTENCE, volume=50.0)
    assert np.abs(loud.samples).max() == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("text", "voice"),
    [
        ("Hello there, how are you today?", "en-us"),
        ("Good afternoon, how are you?", "en"),
        ("Bonjour, comment allez-vous aujourd'hui ?", "fr"),
        ("Guten Tag, wie geht es Ihnen?", "de"),
        ("Hola, ¿cómo estás hoy?", "es"),
        ("안녕하세요, 만나서 반갑습니다.", "ko"),
        ("こんにちは、お元気ですか。", "ja"),
        ("你好，今天天气很好。", "cmn"),
        ("Привет, как дела?", "ru"),
        ("Hello there, how are you today?", "en-us+f3"),
        ("안녕하세요, 만나서 반갑습니다.", "ko+f2"),
    ],
)
def test_voices_and_languages_speak(text, voice):
    speech = synthesize(text, voice)
    assert speech.duration_s > 0.5
    assert rms(speech.samples) > 0.03


def test_variants_change_the_timbre():
    plain = synthesize(SENTENCE, "en-us")
    female = synthesize(SENTENCE, "en-us+f3")
    n = min(len(plain.samples), len(female.samples))
    assert not np.allclose(plain.samples[:n], female.samples[:n], atol=1e-3)


@pytest.mark.parametrize("rate", [8000, 16000, 44100, 48000])
def test_resampling_gives_the_rate_and_keeps_the_duration(rate):
    native = synthesize(SENTENCE)
    speech = synthesize(SENTENCE, sample_rate=rate)
    assert speech.sample_rate == rate
    assert speech.samples.dtype == np.float32
    assert speech.duration_s == pytest.approx(native.duration_s, rel=0.02)
    assert rms(speech.samples) > 0.03


def tone(freq: float, rate: int, seconds: float = 1.0) -> np.ndarray:
    return np.sin(2 * np.pi * freq * np.arange(int(rate * seconds)) / rate).astype(np.float32)


def test_resampler_keeps_speech_band_and_removes_what_would_alias():
    kept = _resample(tone(1000, 22050), 22050, 16000)
    assert len(kept) == 16000
    assert rms(kept[100:-100]) == pytest.approx(1 / np.sqrt(2), rel=0.03)
    spectrum = np.abs(np.fft.rfft(kept))
    assert np.argmax(spectrum) == 1000  # 1 Hz bins over one second
    # 10 kHz is above 16 kHz's Nyquist: unfiltered it would come back as a 6 kHz whistle.
    folded = _resample(tone(10_000, 22050), 22050, 16000)
    assert rms(folded[100:-100]) < 0.02


def test_max_seconds_truncates():
    long_text = " ".join([SENTENCE] * 20)  # about a minute of speech
    speech = synthesize(long_text, max_seconds=2.5)
    assert speech.duration_s == pytest.approx(2.5, abs=0.01)
    resampled = synthesize(long_text, sample_rate=16000, max_seconds=1.0)
    assert len(resampled.samples) == 16000
    short = synthesize("Hi.", max_seconds=30)
    assert short.duration_s < 2  # a limit longer than the speech changes nothing


def test_max_seconds_stops_synthesis_early():
    long_text = " ".join([SENTENCE] * 200)  # about ten minutes of speech
    speech = synthesize(long_text, max_seconds=1.0)
    assert speech.duration_s == pytest.approx(1.0, abs=0.01)
    assert rms(speech.samples) > 0.03


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_text_is_refused(text):
    with pytest.raises(ValueError, match="empty"):
        synthesize(text)


@pytest.mark.parametrize("voice", ["xx-nowhere", "", "+f3", "en-us+no-such-variant", "en-gb"])
def test_unknown_voice_is_refused(voice):
    assert not espeak_voice_exists(voice)
    with pytest.raises(ValueError, match="no voice"):
        synthesize("Hello", voice)


@pytest.mark.parametrize("voice", ["en-us", "en", "fr", "ko", "ja", "cmn", "en-us+f3", "ja+m2"])
def test_known_voices_exist(voice):
    assert espeak_voice_exists(voice)


def test_a_refused_voice_leaves_the_engine_working():
    with pytest.raises(ValueError):
        synthesize("Hello", "xx-nowhere")
    assert rms(synthesize("Hello there.").samples) > 0.03


def test_concurrent_synthesis_from_eight_threads():
    jobs = [
        (SENTENCE, "en-us"),
        ("Hello.", "en-us+f3"),
        ("Bonjour tout le monde, comment ça va ?", "fr"),
        ("안녕하세요, 만나서 반갑습니다.", "ko"),
        (SENTENCE + " " + SENTENCE, "en-us+m3"),
        ("Guten Tag.", "de"),
        ("你好，今天天气很好。", "cmn"),
        ("Hola, ¿cómo estás hoy?", "es"),
    ]
    alone = [synthesize(text, voice).duration_s for text, voice in jobs]
    with ThreadPoolExecutor(8) as pool:
        for _ in range(3):
            results = list(pool.map(lambda job: synthesize(*job, sample_rate=16000), jobs))
            for speech, expected in zip(results, alone):
                assert speech.sample_rate == 16000
                assert speech.duration_s == pytest.approx(expected, rel=0.05)  # no mixed-up audio
                assert rms(speech.samples) > 0.03


def has_magic(data: bytes, fmt: str) -> bool:
    if fmt == "mp3":  # an ID3 tag, or straight into an MPEG frame (11 sync bits)
        return data[:3] == b"ID3" or (data[0] == 0xFF and data[1] & 0xE0 == 0xE0)
    return data.startswith({"wav": b"RIFF", "flac": b"fLaC"}[fmt])


@pytest.mark.parametrize("rate", [16000, 22050, 44100])
@pytest.mark.parametrize("fmt", ["wav", "flac", "mp3"])
def test_encode_gives_a_file_that_decodes_to_the_same_audio(fmt, rate):
    speech = synthesize(SENTENCE, sample_rate=rate)
    data = encode(speech, fmt)
    assert has_magic(data, fmt)
    decoded, decoded_rate = soundfile.read(io.BytesIO(data), dtype="float32")
    assert decoded_rate == rate
    assert decoded.ndim == 1
    assert len(decoded) / decoded_rate == pytest.approx(speech.duration_s, rel=0.05)
    if fmt != "mp3":  # lossless, 16-bit
        assert np.abs(decoded - speech.samples).max() < 1e-3


def test_encode_refuses_other_formats():
    speech = synthesize("Hi.")
    with pytest.raises(ValueError, match="ogg"):
        encode(speech, "ogg")


def test_encode_accepts_upper_case_and_hand_made_speech():
    speech = Speech(tone(440, 16000, 0.5) * 0.5, 16000)
    assert speech.duration_s == 0.5
    assert encode(speech, "WAV").startswith(b"RIFF")


@pytest.mark.parametrize(
    ("code", "voice"),
    [
        ("en-us", "en-us"),
        ("EN-US", "en-us"),
        ("en_US", "en-us"),
        ("en", "en-us"),
        ("English", "en-us"),
        ("eng", "en-us"),
        ("en-gb", "en"),
        ("ko-kr", "ko"),
        ("Korean", "ko"),
        ("kor", "ko"),
        ("ja-JP", "ja"),
        ("es-es", "es"),
        ("es-mx", "es-419"),
        ("zh-cn", "cmn"),
        ("zh-TW", "cmn"),
        ("zh-hk", "yue"),
        ("fr-fr", "fr"),
        ("French", "fr"),
        ("de", "de"),
        ("pt-br", "pt-br"),
        ("pt-PT", "pt"),
        (" Norwegian ", "nb"),
    ],
)
def test_language_voice_maps_codes_and_names(code, voice):
    assert language_voice(code) == voice


@pytest.mark.parametrize("code", ["auto", "", "xx", "klingon", "tlh-x-klingon"])
def test_language_voice_is_none_for_unknown_languages(code):
    assert language_voice(code) is None


def test_every_language_in_the_table_speaks():
    voices = {voice for *_, voice in _LANGUAGES} | set(_REGIONAL.values())
    assert len(_LANGUAGES) >= 25
    for voice in sorted(voices):
        assert espeak_voice_exists(voice), voice
        assert espeak_voice_exists(f"{voice}+f2"), voice
