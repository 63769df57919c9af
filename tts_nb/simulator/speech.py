"""Real speech for the simulator: espeak-ng through the `espeakng-loader` wheel (no system install).

espeak-ng keeps global state and is not thread-safe, while the simulator's HTTP server answers
from many threads: every call goes through one lock.
"""

from __future__ import annotations

import ctypes
import io
import threading
from dataclasses import dataclass

import numpy as np

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_RATE, _VOLUME, _PITCH = 1, 2, 3

# Language codes and names (lower case) → espeak-ng voice names.
LANGUAGES = {
    "en-us": "en-us",
    "en": "en-us",
    "english": "en-us",
    "en-gb": "en",
    "british english": "en",
    "ko-kr": "ko",
    "ko": "ko",
    "korean": "ko",
    "ja-jp": "ja",
    "ja": "ja",
    "japanese": "ja",
    "es-es": "es",
    "es": "es",
    "spanish": "es",
    "es-mx": "es-419",
    "zh-cn": "cmn",
    "zh": "cmn",
    "chinese": "cmn",
    "mandarin": "cmn",
    "fr-fr": "fr",
    "fr": "fr",
    "french": "fr",
    "de-de": "de",
    "de": "de",
    "german": "de",
    "it-it": "it",
    "it": "it",
    "italian": "it",
    "pt-br": "pt-br",
    "pt": "pt",
    "pt-pt": "pt",
    "portuguese": "pt",
    "ru-ru": "ru",
    "ru": "ru",
    "russian": "ru",
    "ar": "ar",
    "ar-sa": "ar",
    "arabic": "ar",
    "hi-in": "hi",
    "hi": "hi",
    "hindi": "hi",
    "nl-nl": "nl",
    "nl": "nl",
    "dutch": "nl",
    "pl-pl": "pl",
    "pl": "pl",
    "polish": "pl",
    "tr-tr": "tr",
    "tr": "tr",
    "turkish": "tr",
    "sv-se": "sv",
    "sv": "sv",
    "swedish": "sv",
    "vi-vn": "vi",
    "vi": "vi",
    "vietnamese": "vi",
    "id-id": "id",
    "id": "id",
    "indonesian": "id",
    "uk-ua": "uk",
    "uk": "uk",
    "ukrainian": "uk",
    "el-gr": "el",
    "el": "el",
    "greek": "el",
    "cs-cz": "cs",
    "cs": "cs",
    "czech": "cs",
    "fi-fi": "fi",
    "fi": "fi",
    "finnish": "fi",
    "da-dk": "da",
    "da": "da",
    "danish": "da",
}


@dataclass(frozen=True)
class Speech:
    samples: np.ndarray  # float32 mono in [-1, 1]
    sample_rate: int

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate


class _Engine:
    """The loaded library, its callback and the lock that serialises every use."""

    def __init__(self) -> None:
        import espeakng_loader

        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        lib.espeak_Synth.restype = ctypes.c_int
        data = espeakng_loader.get_data_path().encode()
        self.sample_rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data, 0)
        if self.sample_rate <= 0:
            raise RuntimeError("espeak-ng failed to initialise")
        self._chunks: list[bytes] = []
        callback_type = ctypes.CFUNCTYPE(
            ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
        )
        self._callback = callback_type(self._collect)  # kept referenced: C holds a pointer
        lib.espeak_SetSynthCallback(self._callback)
        self.lib = lib
        self.lock = threading.Lock()

    def _collect(self, wav, count, events) -> int:
        if count > 0:
            self._chunks.append(ctypes.string_at(wav, count * 2))
        return 0

    def voice_exists(self, name: str) -> bool:
        with self.lock:
            return self.lib.espeak_SetVoiceByName(name.encode()) == 0

    def speak(self, text: str, voice: str, rate: int, pitch: int) -> np.ndarray:
        encoded = text.encode("utf-8") + b"\0"
        with self.lock:
            if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise ValueError(f"espeak-ng has no voice {voice!r}")
            self.lib.espeak_SetParameter(_RATE, rate, 0)
            self.lib.espeak_SetParameter(_PITCH, pitch, 0)
            self.lib.espeak_SetParameter(_VOLUME, 100, 0)
            self._chunks = []
            buffer = ctypes.create_string_buffer(encoded)
            self.lib.espeak_Synth(
                buffer, len(encoded), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None
            )
            self.lib.espeak_Synchronize()
            pcm = b"".join(self._chunks)
        return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0


_engine: _Engine | None = None
_engine_lock = threading.Lock()


def _get_engine() -> _Engine:
    global _engine
    with _engine_lock:
        if _engine is None:
            _engine = _Engine()
        return _engine


def espeak_voice_exists(name: str) -> bool:
    """True if espeak-ng accepts this voice name (e.g. 'en-us', 'fr', 'en-us+f3')."""
    return _get_engine().voice_exists(name)


def language_voice(code: str) -> str | None:
    """The espeak-ng voice for a language code or English name, or None if there is none."""
    return LANGUAGES.get(code.strip().lower().replace("_", "-"))


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
    """Real speech of `text`: espeak-ng at 22.05 kHz, then gain, resampling and truncation."""
    if not text or not text.strip():
        raise ValueError("nothing to say: the text is empty")
    engine = _get_engine()
    rate = int(min(450, max(80, rate_wpm)))
    samples = engine.speak(text, voice, rate, int(min(100, max(0, pitch))))
    rate_in = engine.sample_rate
    if volume != 1.0:
        samples = np.clip(samples * volume, -1.0, 1.0)
    if sample_rate and sample_rate != rate_in and len(samples):
        count = int(round(len(samples) * sample_rate / rate_in))
        positions = np.arange(count) * (rate_in / sample_rate)
        samples = np.interp(positions, np.arange(len(samples)), samples).astype(np.float32)
        rate_in = sample_rate
    if max_seconds is not None:
        samples = samples[: int(max_seconds * rate_in)]
    return Speech(samples.astype(np.float32), rate_in)


def encode(speech: Speech, fmt: str) -> bytes:
    """The speech as a 'wav' (16-bit PCM), 'flac' (16-bit) or 'mp3' file."""
    import soundfile

    formats = {"wav": ("WAV", "PCM_16"), "flac": ("FLAC", "PCM_16"), "mp3": ("MP3", None)}
    if fmt not in formats:
        raise ValueError(f"cannot encode {fmt!r}; choose wav, flac or mp3")
    container, subtype = formats[fmt]
    buffer = io.BytesIO()
    soundfile.write(buffer, speech.samples, speech.sample_rate, format=container, subtype=subtype)
    return buffer.getvalue()
