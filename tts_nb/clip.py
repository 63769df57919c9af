"""`Clip`: a job's audio, validated before the job may succeed.

Providers' documents disagree with their servers about formats (CAMB's "WAV" that is FLAC),
and broken services answer 200 with empty or non-audio bodies. So the format is sniffed from
the bytes, the audio is decoded once to learn its real sample rate and length, and anything
empty or undecodable fails the job with `BadAudio` instead of reaching a player.
"""

from __future__ import annotations

import base64
import html
import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import BadAudio, InvalidInput

MIMETYPES = {"wav": "audio/wav", "mp3": "audio/mpeg", "flac": "audio/flac"}


def sniff_format(data: bytes) -> str | None:
    """'wav', 'flac' or 'mp3' from the magic bytes, or None."""
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "wav"
    if data[:4] == b"fLaC":
        return "flac"
    if data[:3] == b"ID3" or (len(data) >= 2 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0):
        return "mp3"
    return None


def _describe(data: bytes, content_type: str | None) -> str:
    head = data[:16]
    stripped = data.lstrip()[:1]
    if stripped in (b"{", b"["):
        looks = "looks like JSON, not audio"
    elif stripped == b"<":
        looks = "looks like HTML/XML, not audio"
    else:
        looks = "unknown format"
    kind = f", Content-Type {content_type}" if content_type else ""
    return f"{len(data)} bytes starting {head.hex(' ')} ({looks}{kind})"


@dataclass(frozen=True, eq=False)
class Clip:
    """Validated audio. Its repr in a notebook is an inline player (no autoplay).

    Example:
        >>> clip = job.wait(60)
        >>> clip.duration_s, clip.sample_rate, clip.format
        >>> clip.save("hello.wav")
    """

    data: bytes = field(repr=False)
    format: str
    sample_rate: int
    channels: int
    duration_s: float
    text: str | None = None
    voice: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_bytes(
        cls,
        data: bytes,
        *,
        text: str | None = None,
        voice: str | None = None,
        meta: dict[str, Any] | None = None,
        content_type: str | None = None,
    ) -> Clip:
        """Sniff, decode and validate `data`; raise `BadAudio` saying what arrived instead."""
        data = bytes(data or b"")
        advice = "The provider sent no usable audio: submit the request again, or report it."
        if not data:
            raise BadAudio(f"The result is empty (0 bytes). {advice}")
        fmt = sniff_format(data)
        if fmt is None:
            raise BadAudio(f"The result is not audio: {_describe(data, content_type)}. {advice}")
        import soundfile

        try:
            info = soundfile.info(io.BytesIO(data))
        except Exception as exc:  # libsndfile reports every decoding failure its own way
            raise BadAudio(
                f"The result looks like {fmt.upper()} but cannot be decoded "
                f"({_describe(data, content_type)}: {exc}). {advice}"
            ) from None
        if info.frames <= 0 or info.samplerate <= 0:
            raise BadAudio(f"The {fmt.upper()} result holds no sound (0 samples). {advice}")
        return cls(
            data=data,
            format=fmt,
            sample_rate=int(info.samplerate),
            channels=int(info.channels),
            duration_s=info.frames / info.samplerate,
            text=text,
            voice=voice,
            meta=dict(meta or {}),
        )

    @property
    def mimetype(self) -> str:
        return MIMETYPES[self.format]

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def rms_dbfs(self) -> float:
        """Loudness as RMS in dBFS (−inf for digital silence): how loud it really is."""
        import numpy as np
        import soundfile

        samples, _ = soundfile.read(io.BytesIO(self.data), dtype="float32", always_2d=True)
        rms = float(np.sqrt(np.mean(np.square(samples)))) if samples.size else 0.0
        return 20 * math.log10(rms) if rms > 0 else float("-inf")

    def save(self, path: str | Path) -> Path:
        """Write the bytes as they came; a missing suffix is added, a wrong one refused."""
        path = Path(path)
        suffix = "." + ("wav" if self.format == "wav" else self.format)
        if not path.suffix:
            path = path.with_suffix(suffix)
        elif path.suffix.lower() != suffix:
            raise InvalidInput(
                f"{path.name} has the suffix {path.suffix} but the audio is {self.format.upper()}: "
                f"save it as {path.with_suffix(suffix).name}."
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.data)
        return path

    def player(self, autoplay: bool = False):
        """An `IPython.display.Audio` of these exact bytes (never normalised), typed correctly."""
        from IPython.display import Audio

        audio = Audio(data=self.data, autoplay=autoplay)
        audio.mimetype = self.mimetype
        return audio

    def caption(self) -> str:
        """Voice, format, rate, length and size in one line of text."""
        voice = f"{self.voice} · " if self.voice else ""
        return (
            f"{voice}{self.format.upper()} {self.sample_rate} Hz · {self.duration_s:.2f} s · "
            f"{self.size / 1024:.1f} kB"
        )

    def _repr_html_(self) -> str:
        encoded = base64.b64encode(self.data).decode("ascii")
        text = f'<div style="color:#555">“{html.escape(self.text)}”</div>' if self.text else ""
        return (
            f'<div class="tts-nb-clip"><div>{html.escape(self.caption())}</div>{text}'
            f'<audio controls preload="metadata">'
            f'<source src="data:{self.mimetype};base64,{encoded}" type="{self.mimetype}">'
            "</audio></div>"
        )

    def __repr__(self) -> str:
        voice = f" voice={self.voice!r}" if self.voice else ""
        return (
            f"<Clip {self.format} {self.sample_rate} Hz {self.duration_s:.2f} s "
            f"{self.size / 1024:.1f} kB{voice}>"
        )
