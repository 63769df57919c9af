"""Clip: format sniffing, validation, facts from decoding, saving and the notebook player.

All audio is synthesised here with soundfile from numpy sines, so nothing needs a network.
"""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tts_nb.clip import Clip, sniff_format
from tts_nb.errors import BadAudio, InvalidInput

RATE = 22050
AMPLITUDE = 0.5
SINE_DBFS = 20 * math.log10(AMPLITUDE / math.sqrt(2))  # about -9.03 dBFS


def encode(fmt: str, seconds: float = 1.0, channels: int = 1, amplitude: float = AMPLITUDE):
    """Bytes of a 440 Hz sine (or silence, amplitude 0) in a real file format."""
    t = np.arange(int(RATE * seconds)) / RATE
    mono = amplitude * np.sin(2 * np.pi * 440 * t)
    samples = np.column_stack([mono] * channels) if channels > 1 else mono
    buffer = io.BytesIO()
    sf.write(buffer, samples, RATE, format=fmt)
    return buffer.getvalue()


WAV = encode("WAV")
FLAC = encode("FLAC")
MP3 = encode("MP3")
ALL = {"wav": WAV, "flac": FLAC, "mp3": MP3}
MIMES = {"wav": "audio/wav", "flac": "audio/flac", "mp3": "audio/mpeg"}
ID3_TAG = b"ID3\x04\x00\x00\x00\x00\x00\x0a" + b"\x00" * 10  # an empty 10-byte ID3v2.4 tag


# --- sniffing -------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["wav", "flac", "mp3"])
def test_sniff_real_files(fmt):
    assert sniff_format(ALL[fmt]) == fmt


@pytest.mark.parametrize(
    "data, expected",
    [
        (b"", None),
        (b"RIFF", None),
        (b"RIFF\x00\x00\x00\x00WAVE", "wav"),
        (b"RIFF\x00\x00\x00\x00AVI ", None),
        (b"fLaC", "flac"),
        (b"ID3", "mp3"),
        (b"\xff\xfb\x90\x00", "mp3"),  # MPEG-1 layer III frame header
        (b"\xff\xf1\x50\x80", None),  # AAC in ADTS frames: same sync, layer bits 00
        (ID3_TAG + b"fLaC", "flac"),
        (ID3_TAG + b"\xff\xf1\x50\x80", None),
        (b'{"error": "x"}', None),
        (b"OggS\x00\x02", None),
    ],
)
def test_sniff_magic_bytes(data, expected):
    assert sniff_format(data) == expected


# --- facts from decoding ---------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["wav", "flac", "mp3"])
def test_from_bytes_reads_the_facts(fmt):
    clip = Clip.from_bytes(ALL[fmt], text="Hello", voice="sim:Olivia", meta={"id": 7})
    assert clip.format == fmt
    assert clip.mimetype == MIMES[fmt]
    assert clip.sample_rate == RATE
    assert clip.channels == 1
    assert clip.duration_s == pytest.approx(1.0, rel=0.02 if fmt == "mp3" else 1e-9)
    assert clip.data == ALL[fmt]
    assert clip.size == len(ALL[fmt])
    assert (clip.text, clip.voice, clip.meta) == ("Hello", "sim:Olivia", {"id": 7})


@pytest.mark.parametrize("fmt", ["WAV", "FLAC", "MP3"])
def test_stereo(fmt):
    clip = Clip.from_bytes(encode(fmt, seconds=0.5, channels=2))
    assert clip.channels == 2
    assert clip.duration_s == pytest.approx(0.5, rel=0.02)


def test_content_type_is_never_trusted():
    assert Clip.from_bytes(FLAC, content_type="audio/wav").format == "flac"


def test_id3_tagged_flac_is_flac():
    assert Clip.from_bytes(ID3_TAG + FLAC).format == "flac"


def test_truncated_mp3_reports_what_decodes_not_what_the_header_claims():
    whole = encode("MP3", seconds=2.0)
    assert sf.info(io.BytesIO(whole[: len(whole) // 2])).duration == pytest.approx(2.0, rel=0.02)
    clip = Clip.from_bytes(whole[: len(whole) // 2])
    assert 0.5 < clip.duration_s < 1.5


def test_meta_defaults_to_a_fresh_dict_and_is_copied():
    given_meta = {"run_id": 1}
    clip = Clip.from_bytes(WAV, meta=given_meta)
    given_meta["run_id"] = 2
    assert clip.meta == {"run_id": 1}
    assert Clip.from_bytes(WAV).meta == {} and Clip.from_bytes(WAV).meta is not clip.meta


def test_bytearray_and_memoryview_are_accepted():
    assert Clip.from_bytes(bytearray(WAV)).data == WAV
    assert Clip.from_bytes(memoryview(WAV)).data == WAV


def test_text_is_a_type_error_not_bad_audio():
    with pytest.raises(TypeError, match="needs bytes"):
        Clip.from_bytes("RIFF....WAVE")  # type: ignore[arg-type]


def test_frozen_equal_by_content_and_hashable():
    a, b = Clip.from_bytes(WAV, voice="v"), Clip.from_bytes(WAV, voice="v", meta={"x": 1})
    assert a == b and hash(a) == hash(b)
    assert a != Clip.from_bytes(FLAC, voice="v")
    with pytest.raises(AttributeError):
        a.voice = "other"  # type: ignore[misc]


def test_no_len_or_bool():
    assert not hasattr(Clip, "__len__") and not hasattr(Clip, "__bool__")


# --- loudness --------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["wav", "flac", "mp3"])
def test_rms_of_a_sine(fmt):
    tolerance = 0.5 if fmt == "mp3" else 0.01
    assert Clip.from_bytes(ALL[fmt]).rms_dbfs == pytest.approx(SINE_DBFS, abs=tolerance)


@pytest.mark.parametrize("fmt", ["WAV", "FLAC", "MP3"])
def test_rms_of_silence_is_minus_infinity(fmt):
    clip = Clip.from_bytes(encode(fmt, amplitude=0.0))
    assert clip.duration_s > 0  # silence is still audio
    assert clip.rms_dbfs == float("-inf")


def test_rms_is_cached():
    clip = Clip.from_bytes(WAV)
    assert "rms_dbfs" not in vars(clip)  # nothing decoded for loudness until asked
    first = clip.rms_dbfs
    assert vars(clip)["rms_dbfs"] == first


def test_quieter_is_lower():
    loud = Clip.from_bytes(encode("WAV", amplitude=0.5)).rms_dbfs
    quiet = Clip.from_bytes(encode("WAV", amplitude=0.05)).rms_dbfs
    assert loud - quiet == pytest.approx(20, abs=0.1)


# --- saving ----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["wav", "flac", "mp3"])
def test_save_adds_the_suffix(tmp_path, fmt):
    path = Clip.from_bytes(ALL[fmt]).save(tmp_path / "deep" / "er" / "hello")
    assert path == tmp_path / "deep" / "er" / f"hello.{fmt}"
    assert path.read_bytes() == ALL[fmt]


def test_save_keeps_a_matching_suffix_and_accepts_str(tmp_path):
    path = Clip.from_bytes(FLAC).save(str(tmp_path / "x.FLAC"))
    assert path.name == "x.FLAC" and path.read_bytes() == FLAC


def test_save_refuses_a_suffix_of_another_format(tmp_path):
    with pytest.raises(InvalidInput) as caught:
        Clip.from_bytes(FLAC).save(tmp_path / "hello.wav")
    assert ".wav" in str(caught.value) and "FLAC" in str(caught.value)
    assert "hello.flac" in str(caught.value)
    assert not (tmp_path / "hello.wav").exists()


def test_save_refuses_a_folder(tmp_path):
    with pytest.raises(InvalidInput, match="folder"):
        Clip.from_bytes(WAV).save(tmp_path)


# --- notebook display ------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["wav", "flac", "mp3"])
def test_player(fmt):
    audio = Clip.from_bytes(ALL[fmt]).player()
    assert audio.mimetype == MIMES[fmt]
    assert audio.data == ALL[fmt]  # bytes untouched: nothing normalised
    rendered = audio._repr_html_()
    assert f"data:{MIMES[fmt]};base64," in rendered and "autoplay" not in rendered
    assert "autoplay" in Clip.from_bytes(ALL[fmt]).player(autoplay=True)._repr_html_()


@pytest.mark.parametrize("fmt", ["wav", "flac", "mp3"])
def test_repr_html(fmt):
    clip = Clip.from_bytes(ALL[fmt], voice="sim:Olivia", text="Hi")
    rendered = clip._repr_html_()
    assert '<audio controls preload="metadata"' in rendered
    assert f"data:{MIMES[fmt]};base64," in rendered
    assert "autoplay" not in rendered
    assert "sim:Olivia" in rendered and "22050 Hz" in rendered and "1.00 s" in rendered
    assert fmt.upper() in rendered and "kB" in rendered


def test_repr_html_escapes_voice_and_text():
    clip = Clip.from_bytes(WAV, voice="<script>alert(1)</script>", text="<script>x</script> & co")
    rendered = clip._repr_html_()
    assert "<script>" not in rendered
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered
    assert "&lt;script&gt;x&lt;/script&gt; &amp; co" in rendered


def test_repr_html_shortens_long_text():
    rendered = Clip.from_bytes(WAV, text="word " * 1000)._repr_html_()
    assert rendered.count("word") < 100 and "…" in rendered


def test_repr_is_one_line():
    clip = Clip.from_bytes(WAV, voice="typecast:Olivia")
    size_kb = len(WAV) / 1000
    assert repr(clip) == f"<Clip wav 22050 Hz 1.00 s {size_kb:.1f} kB voice='typecast:Olivia'>"
    assert repr(Clip.from_bytes(FLAC)).endswith("kB>")


# --- what is refused, and what the message says ----------------------------------------------


def bad(data: bytes, **kwargs) -> str:
    with pytest.raises(BadAudio) as caught:
        Clip.from_bytes(data, **kwargs)
    return str(caught.value)


def test_empty():
    message = bad(b"", content_type="audio/wav")
    assert "empty" in message and "0 bytes" in message and "audio/wav" in message
    assert "submit again" in message


def test_json_error_body():
    message = bad(b'{"error": "x"}', content_type="application/json")
    assert "JSON" in message
    assert "14 bytes" in message and "7b 22 65 72" in message  # size and first bytes in hex
    assert "application/json" in message
    assert '{"error": "x"}' in message  # what the server said
    assert "fix the request or submit again" in message


def test_html_error_page():
    message = bad(b"<!DOCTYPE html><html><body>502 Bad Gateway</body></html>")
    assert "HTML" in message and "502 Bad Gateway" in message


def test_plain_text_body():
    assert "text" in bad(b"Internal Server Error")


@pytest.mark.parametrize(
    "data, named",
    [(b"OggS\x00\x02" + bytes(50), "Ogg"), (b"\xff\xf1\x50\x80" + bytes(50), "AAC")],
)
def test_other_audio_formats_are_named(data, named):
    message = bad(data)
    assert named in message and "WAV, MP3 and FLAC" in message


def test_random_bytes():
    noise = np.random.default_rng(0).integers(1, 255, 4096, dtype=np.uint8).tobytes()
    message = bad(b"\x00" + noise)
    assert "4097 bytes" in message and "unknown" in message and "pcm" in message


@pytest.mark.parametrize("cut", [4, 11, 20, 30])
def test_truncated_wav_header(cut):
    message = bad(WAV[:cut])
    assert f"{cut} bytes" in message


def test_wav_header_without_samples():
    message = bad(WAV[:44])
    assert "no sound" in message and "0 frames" in message


def test_riff_header_with_garbage():
    garbage = bytes(range(256)) * 4
    message = bad(b"RIFF" + (len(garbage) + 4).to_bytes(4, "little") + b"WAVE" + garbage)
    assert "looks like WAV but cannot be decoded" in message
    assert "<_io.BytesIO" not in message  # libsndfile's words, without the object address


def test_mp3_sync_with_garbage():
    assert "looks like MP3 but cannot be decoded" in bad(MP3[:100])


def test_flac_magic_with_garbage():
    assert "looks like FLAC but cannot be decoded" in bad(b"fLaC" + bytes(200))


def test_magic_that_disagrees_with_the_decoder():
    message = bad(ID3_TAG + WAV)  # sniffed as MP3 (ID3 tag), decoded as WAV by libsndfile
    assert "starts like MP3 but decodes as WAV" in message


def test_bad_audio_is_a_provider_error():
    from tts_nb.errors import ProviderError

    with pytest.raises(ProviderError):
        Clip.from_bytes(b"nope")


# --- property: any bytes give a valid Clip or BadAudio, never another error -------------------

PREFIXES = [
    b"",
    b"RIFF",
    b"RIFF\x24\x08\x00\x00WAVE",
    WAV[:12],
    WAV[:36],
    WAV[:44],
    b"fLaC",
    FLAC[:42],
    b"ID3",
    ID3_TAG,
    b"\xff\xfb",
    b"\xff\xf3",
    MP3[:4],
    b'{"',
    b"<",
]


def _mutate(data: bytes, edits: list[tuple[int, int]], cut: int) -> bytes:
    """Overwrite some bytes of a real file, then maybe cut it short."""
    mutable = bytearray(data)
    for position, value in edits:
        mutable[position % len(mutable)] = value
    return bytes(mutable[: max(0, cut)])


arbitrary_audio = st.one_of(
    st.binary(max_size=256),
    st.tuples(st.sampled_from(PREFIXES), st.binary(max_size=2048)).map(lambda p: p[0] + p[1]),
    st.builds(
        _mutate,
        st.sampled_from([WAV, FLAC, MP3]),
        st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=8),
        st.integers(0, 30_000),
    ),
)


@settings(
    max_examples=400,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(arbitrary_audio)
def test_any_bytes_give_a_clip_or_bad_audio(data):
    try:
        clip = Clip.from_bytes(data)
    except BadAudio as error:
        assert str(error)
        return
    # the oracle is libsndfile's own reading of the container, not tts_nb's sniffing
    container = sf.info(io.BytesIO(data)).format
    assert clip.format == {"WAV": "wav", "WAVEX": "wav", "FLAC": "flac", "MP3": "mp3"}[container]
    assert clip.data == data
    assert clip.sample_rate > 0 and clip.channels > 0 and clip.duration_s > 0
    assert isinstance(clip.rms_dbfs, float)
    assert clip.mimetype in clip._repr_html_() and repr(clip).startswith("<Clip ")
