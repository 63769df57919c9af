"""Real speech for the simulator: espeak-ng through the `espeakng-loader` wheel (no system install).

The simulator must return audio a person (and a decoder) recognises as speech, offline and in a
few milliseconds, so it drives espeak-ng's C library with ctypes. espeak-ng keeps global state
(current voice, parameters, one output callback) and is not thread-safe, while the simulator's
HTTP server synthesizes from many threads: everything touching it runs under `_lock`.
"""

from __future__ import annotations

import ctypes
import io
import math
import os
import threading
from dataclasses import dataclass, field

import numpy as np

_AUDIO_OUTPUT_SYNCHRONOUS = 2  # espeak_Synth returns once every sample went to the callback
_INITIALIZE_DONT_EXIT = 0x8000  # report a broken data dir instead of exit()ing the process
_POS_CHARACTER = 1
_CHARS_UTF8 = 1  # plain UTF-8 text: no SSML, so markup in user text is read, not obeyed
_RATE, _VOLUME, _PITCH = 1, 2, 3

# (ISO 639-1, ISO 639-3, English name, espeak-ng voice): the languages the simulator speaks.
_LANGUAGES = (
    ("en", "eng", "English", "en-us"),
    ("ko", "kor", "Korean", "ko"),
    ("ja", "jpn", "Japanese", "ja"),
    ("zh", "zho", "Chinese", "cmn"),
    ("es", "spa", "Spanish", "es"),
    ("fr", "fra", "French", "fr"),
    ("de", "deu", "German", "de"),
    ("it", "ita", "Italian", "it"),
    ("pt", "por", "Portuguese", "pt"),
    ("ru", "rus", "Russian", "ru"),
    ("ar", "ara", "Arabic", "ar"),
    ("hi", "hin", "Hindi", "hi"),
    ("nl", "nld", "Dutch", "nl"),
    ("pl", "pol", "Polish", "pl"),
    ("tr", "tur", "Turkish", "tr"),
    ("sv", "swe", "Swedish", "sv"),
    ("no", "nor", "Norwegian", "nb"),
    ("da", "dan", "Danish", "da"),
    ("fi", "fin", "Finnish", "fi"),
    ("cs", "ces", "Czech", "cs"),
    ("el", "ell", "Greek", "el"),
    ("uk", "ukr", "Ukrainian", "uk"),
    ("he", "heb", "Hebrew", "he"),
    ("vi", "vie", "Vietnamese", "vi"),
    ("id", "ind", "Indonesian", "id"),
    ("th", "tha", "Thai", "th"),
    ("ro", "ron", "Romanian", "ro"),
    ("hu", "hun", "Hungarian", "hu"),
)
# Regional variants espeak-ng speaks differently, and other names for its voices.
_REGIONAL = {
    "en-gb": "en",
    "british english": "en",
    "pt-br": "pt-br",
    "brazilian portuguese": "pt-br",
    "es-419": "es-419",
    "es-mx": "es-419",
    "zh-hk": "yue",
    "yue": "yue",
    "cantonese": "yue",
    "cmn": "cmn",
    "mandarin": "cmn",
    "nb": "nb",
}
_VOICE_OF = {
    alias: voice for code, code3, name, voice in _LANGUAGES for alias in (code, code3, name.lower())
} | _REGIONAL

_SynthCallback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)


@dataclass(frozen=True, eq=False)  # eq=False: comparing arrays field-wise has no single answer
class Speech:
    samples: np.ndarray  # float32 mono in [-1, 1]
    sample_rate: int

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate


@dataclass
class _Capture:
    """Where the callback puts the utterance being synthesized (only ever used under `_lock`)."""

    chunks: list[bytes] = field(default_factory=list)
    remaining: float = math.inf  # samples still wanted; the callback stops synthesis at zero


def _collect(wav: ctypes._Pointer[ctypes.c_short], count: int, _events: int | None) -> int:
    if count > 0:
        _capture.chunks.append(ctypes.string_at(wav, count * 2))
        _capture.remaining -= count
    return 1 if _capture.remaining <= 0 else 0  # 1 asks espeak-ng to stop: enough audio


_capture = _Capture()
_CALLBACK = _SynthCallback(_collect)  # module-level: C keeps only a raw pointer to it
_lock = threading.Lock()
_lib: ctypes.CDLL | None = None
_native_rate = 0
_variants: frozenset[str] = frozenset()


def _engine() -> ctypes.CDLL:
    """The initialized library, loaded on first use (call with `_lock` held)."""
    global _lib, _native_rate, _variants
    if _lib is not None:
        return _lib
    import espeakng_loader

    lib = ctypes.CDLL(espeakng_loader.get_library_path())
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_Initialize.restype = ctypes.c_int
    lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
    lib.espeak_SetSynthCallback.restype = None
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetVoiceByName.restype = ctypes.c_int
    lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.espeak_SetParameter.restype = ctypes.c_int
    lib.espeak_Synth.argtypes = [
        ctypes.c_char_p,  # text
        ctypes.c_size_t,  # its size in bytes, NUL included
        ctypes.c_uint,  # position
        ctypes.c_int,  # position type
        ctypes.c_uint,  # end position (0: none)
        ctypes.c_uint,  # flags
        ctypes.c_void_p,  # unique identifier out (unused)
        ctypes.c_void_p,  # user data (unused)
    ]
    lib.espeak_Synth.restype = ctypes.c_int
    lib.espeak_Synchronize.argtypes = []
    lib.espeak_Synchronize.restype = ctypes.c_int
    data = espeakng_loader.get_data_path()
    rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data.encode(), _INITIALIZE_DONT_EXIT)
    if rate <= 0:
        raise RuntimeError(f"espeak-ng failed to initialize from {data}")
    lib.espeak_SetSynthCallback(_CALLBACK)
    _variants = frozenset(os.listdir(os.path.join(data, "voices", "!v")))
    _native_rate, _lib = rate, lib
    return lib


def _select_voice(lib: ctypes.CDLL, name: str) -> bool:
    """Make `name` espeak-ng's current voice; False if it has no such voice (or variant).

    espeak-ng silently ignores an unknown "+variant", which would give every misspelled
    actor the default timbre, so variants are checked against the data dir.
    """
    language, _, variant = name.partition("+")
    if not language or (variant and variant not in _variants):
        return False
    return lib.espeak_SetVoiceByName(name.encode()) == 0


def espeak_voice_exists(name: str) -> bool:
    """True if espeak-ng accepts this voice name (e.g. 'en-us', 'fr', 'en-us+f3')."""
    with _lock:
        return _select_voice(_engine(), name)


def language_voice(code: str) -> str | None:
    """The espeak-ng voice for a language code or English name, or None if there is none.

    Providers label languages every which way ('ko-KR', 'kor', 'Korean', 'en_US'), so codes
    are matched case-insensitively and an unknown region falls back to its language.
    """
    key = code.strip().lower().replace("_", "-")
    return _VOICE_OF.get(key) or _VOICE_OF.get(key.split("-")[0])


def synthesize(
    text: str,
    voice: str = "en-us",
    *,
    rate_wpm: int = 175,
    pitch: int = 50,
    volume: float = 1.0,
    sample_rate: int | None = None,
    max_seconds: float | None = None,
) -> Speech:
    """Real speech of `text` spoken by espeak-ng voice `voice` (see `espeak_voice_exists`).

    rate_wpm (words per minute) and pitch are clamped to espeak-ng's 80..450 and 0..100;
    volume is a linear gain, clipped to [-1, 1]; sample_rate resamples espeak-ng's 22050 Hz;
    max_seconds truncates, and stops synthesis as soon as enough audio exists, so a long text
    costs no more than its first seconds. Raises ValueError for empty text or an unknown voice.
    """
    if not text.strip():
        raise ValueError("nothing to say: the text is empty")
    if sample_rate is not None and sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, not {sample_rate}")
    encoded = text.encode("utf-8")
    with _lock:
        lib = _engine()
        if not _select_voice(lib, voice):
            raise ValueError(f"espeak-ng has no voice {voice!r}")
        lib.espeak_SetParameter(_RATE, int(min(450, max(80, rate_wpm))), 0)
        lib.espeak_SetParameter(_PITCH, int(min(100, max(0, pitch))), 0)
        lib.espeak_SetParameter(_VOLUME, 100, 0)  # gain is applied below, without clipping
        _capture.chunks = []
        _capture.remaining = math.inf if max_seconds is None else max_seconds * _native_rate
        status = lib.espeak_Synth(
            encoded, len(encoded) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None
        )
        lib.espeak_Synchronize()
        pcm, native_rate = b"".join(_capture.chunks), _native_rate
        _capture.chunks = []
    if status != 0:
        raise RuntimeError(f"espeak-ng failed to synthesize (error {status})")
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
    if volume != 1.0:
        samples = np.clip(samples * volume, -1.0, 1.0)
    rate = sample_rate or native_rate
    if rate != native_rate:
        samples = _resample(samples, native_rate, rate)
    if max_seconds is not None:
        samples = samples[: max(0, int(max_seconds * rate))]
    return Speech(samples.astype(np.float32), rate)


def _resample(samples: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Linear interpolation to `rate_out`, low-passed first when downsampling.

    Without the windowed-sinc filter, sibilants above the new Nyquist frequency would fold
    back as audible hiss (aliasing); upsampling needs no filter for speech.
    """
    if rate_out < rate_in:
        cutoff = 0.45 * rate_out / rate_in  # cycles per input sample, a little below Nyquist
        taps = np.arange(-32, 33)
        kernel = np.sinc(2 * cutoff * taps) * np.hamming(len(taps))
        samples = np.convolve(samples, kernel / kernel.sum(), mode="same")
    count = round(len(samples) * rate_out / rate_in)
    positions = np.arange(count) * (rate_in / rate_out)
    return np.interp(positions, np.arange(len(samples)), samples)


def encode(speech: Speech, fmt: str) -> bytes:
    """The speech as a 'wav' (16-bit PCM), 'flac' (16-bit) or 'mp3' file, in memory."""
    import soundfile

    formats = {"wav": ("WAV", "PCM_16"), "flac": ("FLAC", "PCM_16"), "mp3": ("MP3", None)}
    if fmt.lower() not in formats:
        raise ValueError(f"cannot encode {fmt!r}: choose wav, flac or mp3")
    container, subtype = formats[fmt.lower()]
    buffer = io.BytesIO()
    soundfile.write(buffer, speech.samples, speech.sample_rate, format=container, subtype=subtype)
    return buffer.getvalue()
