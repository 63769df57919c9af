"""`Clip`: a job's audio, validated before the job may succeed.

Providers' documents disagree with their servers about formats (CAMB's "WAV" that is FLAC), and
broken services answer 200 with empty, truncated or non-audio bodies. So the format is sniffed from
the bytes, never taken from headers or docs; the audio is decoded once, completely, to learn its
real sample rate and length (a cut-off download is shorter than its header claims); and anything
empty or undecodable fails the job with `BadAudio`, saying what arrived, instead of reaching a
player.

soundfile, numpy and IPython are imported inside the functions that need them, so that
`import tts_nb` stays light.
"""

from __future__ import annotations

import base64
import html
import io
import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import BadAudio, InvalidInput

if TYPE_CHECKING:
    from collections.abc import Iterator

    import numpy as np
    from IPython.display import Audio
    from soundfile import SoundFile

MIMETYPES = {"wav": "audio/wav", "mp3": "audio/mpeg", "flac": "audio/flac"}

# What libsndfile calls the formats we sniff; anything else means the sniff was wrong.
_DECODED_AS = {"WAV": "wav", "WAVEX": "wav", "FLAC": "flac", "MP3": "mp3"}

# Samples decoded per block: bounded memory whatever the clip's length.
_BLOCK_SAMPLES = 1 << 18

# The most samples (frames x channels) a result may decode to: an hour of 48 kHz stereo. A few
# hundred kB of FLAC can hold days of audio, and each second costs a worker decoding time.
MAX_SAMPLES = 60 * 60 * 48_000 * 2

_CAPTION_TEXT_CHARS = 200


def _id3_end(data: bytes) -> int:
    """Offset just past a leading ID3v2 tag (0 without one): ID3 can prefix FLAC and AAC too."""
    if data[:3] != b"ID3" or len(data) < 10:
        return 0
    size = 0
    for byte in data[6:10]:  # "syncsafe" integer: 7 bits per byte
        size = (size << 7) | (byte & 0x7F)
    footer = 10 if data[5] & 0x10 else 0
    return 10 + size + footer


def _is_adts(head: bytes) -> bool:
    """AAC in ADTS frames: the MPEG sync word with layer bits 00 (CAMB's `adts` output)."""
    return len(head) >= 2 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0


def _is_mpeg_audio(head: bytes) -> bool:
    """An MPEG audio frame sync (11 bits set) whose layer is not the reserved 00 that ADTS uses."""
    return len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and head[1] & 0x06 != 0


def sniff_format(data: bytes) -> str | None:
    """Return "wav", "flac" or "mp3" from the magic bytes, or None when it is none of them.

    Only the bytes decide: Content-Type headers and API documents have both been wrong.
    A leading ID3 tag means MP3 unless FLAC follows it.
    """
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "wav"
    if data[:4] == b"fLaC":
        return "flac"
    if data[:3] == b"ID3":
        after = data[_id3_end(data) :]
        if after[:4] == b"fLaC":
            return "flac"
        return None if _is_adts(after) else "mp3"
    if _is_mpeg_audio(data):
        return "mp3"
    return None


def _what_it_looks_like(data: bytes) -> tuple[str, str]:
    """A short description of non-audio bytes, and the advice that goes with it."""
    head = data[_id3_end(data) :]
    text = data[:2000].decode("utf-8", errors="replace")
    stripped = text.lstrip()
    preview = " ".join(stripped.split())[:120]
    message_advice = (
        "The server sent a message instead of audio: read it, then fix the request or submit again."
    )
    if stripped[:1] in ("{", "["):
        return f"it looks like JSON, not audio: {preview!r}", message_advice
    if stripped[:1] == "<":
        return f"it looks like HTML/XML, not audio: {preview!r}", message_advice
    other_advice = (
        "tts_nb plays WAV, MP3 and FLAC only: ask the provider for one of those (its output "
        "format option)."
    )
    if head[:4] == b"OggS":
        return "it looks like Ogg (Opus/Vorbis) audio", other_advice
    if head[4:8] == b"ftyp":
        return "it looks like MP4/M4A (AAC) audio", other_advice
    if _is_adts(head):
        return "it looks like AAC audio in ADTS frames", other_advice
    sample = text[:200]  # far from where a multi-byte character may have been cut
    if stripped and "\ufffd" not in sample and all(c.isprintable() or c.isspace() for c in sample):
        return f"it looks like text, not audio: {preview!r}", message_advice
    return "its format is unknown", (
        "Raw PCM has no header and cannot be told apart from noise: if you asked for pcm_*, ask "
        "for wav instead. Otherwise submit again, and report it to the provider if it repeats."
    )


def _received(data: bytes, content_type: str | None) -> str:
    """Size, first bytes in hex and the declared Content-Type: what actually arrived."""
    declared = f", declared as {content_type!r}" if content_type else ""
    return f"{len(data)} bytes starting {data[:16].hex(' ')}{declared}"


def _decoded_blocks(decoder: SoundFile) -> Iterator[np.ndarray]:
    """Blocks of float32 samples (frames x channels) until the decoder runs dry.

    Not `SoundFile.blocks`: it yields full-size blocks even when the data ends before the
    header's frame count, padding with uninitialised memory and hiding the very truncation
    this module is there to catch.
    """
    size = max(1, _BLOCK_SAMPLES // max(1, decoder.channels))
    while True:
        block = decoder.read(size, dtype="float32", always_2d=True)
        if len(block):
            yield block
        if len(block) < size:
            return


def _count_frames(decoder: SoundFile) -> int | None:
    """The frames decoded, or None once they pass `MAX_SAMPLES` (counted as decoded, since a
    header's claimed length may be anything)."""
    limit = MAX_SAMPLES // max(1, decoder.channels)
    frames = 0
    for block in _decoded_blocks(decoder):
        frames += len(block)
        if frames > limit:
            return None
    return frames


def _decode_error(exc: Exception) -> str:
    """libsndfile's own words, without the BytesIO object address it prefixes."""
    return f"libsndfile: {getattr(exc, 'error_string', None) or exc}"


@dataclass(frozen=True, repr=False)
class Clip:
    """Validated audio, as the provider sent it. In a notebook its repr is an inline player.

    Build one with `Clip.from_bytes`, which refuses anything that is not playable audio.
    Equal clips have the same bytes, format facts, text and voice (`meta` is not compared).

    Example:
        >>> clip = job.wait(60)
        >>> clip.format, clip.sample_rate, clip.duration_s
        ('wav', 22050, 1.84)
        >>> clip.save("hello")            # writes hello.wav
    """

    data: bytes
    format: str
    sample_rate: int
    channels: int
    duration_s: float
    text: str | None = None
    voice: str | None = None
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

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
        """Sniff, decode completely and validate `data`, or raise `BadAudio` saying what came.

        `content_type` is only reported in error messages, never trusted. The duration is
        the decoded length, so a truncated download shows up as a short clip.
        """
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"Clip.from_bytes needs bytes, not {type(data).__name__}")
        data = bytes(data)
        if not data:
            declared = f" (declared as {content_type!r})" if content_type else ""
            raise BadAudio(
                f"The audio is empty: 0 bytes arrived{declared}. Providers sometimes answer "
                "success with no body: submit again, and report it to the provider if it repeats."
            )
        fmt = sniff_format(data)
        if fmt is None:
            looks, advice = _what_it_looks_like(data)
            raise BadAudio(
                f"The result is not WAV, MP3 or FLAC audio: {_received(data, content_type)}; "
                f"{looks}. {advice}"
            )
        import soundfile

        retry = "It is probably truncated or corrupt: submit again, or fetch the result again."
        try:
            with soundfile.SoundFile(io.BytesIO(data)) as decoder:
                decoded_as = decoder.format
                sample_rate, channels = decoder.samplerate, decoder.channels
                frames = _count_frames(decoder)
        except Exception as exc:  # libsndfile reports each failure its own way, via several types
            raise BadAudio(
                f"The result looks like {fmt.upper()} but cannot be decoded "
                f"({_decode_error(exc)}): {_received(data, content_type)}. {retry}"
            ) from None
        if frames is None:
            hours = MAX_SAMPLES / max(1, sample_rate * channels) / 3600
            raise BadAudio(
                f"The {fmt.upper()} result is longer than tts_nb decodes: more than "
                f"{hours:.3g} h at {sample_rate} Hz x {channels} ch (tts_nb.clip.MAX_SAMPLES = "
                f"{MAX_SAMPLES:,} samples): {_received(data, content_type)}. Speech that long "
                "is unlikely: split the text, or raise tts_nb.clip.MAX_SAMPLES if you expect it."
            )
        if _DECODED_AS.get(decoded_as) != fmt:
            raise BadAudio(
                f"The result starts like {fmt.upper()} but decodes as {decoded_as}: "
                f"{_received(data, content_type)}. A player would be told the wrong type: ask "
                "the provider for plain wav, mp3 or flac, and report it if it repeats."
            )
        if frames <= 0 or sample_rate <= 0 or channels <= 0:
            raise BadAudio(
                f"The {fmt.upper()} result holds no sound ({frames} frames, {sample_rate} Hz, "
                f"{channels} ch): {_received(data, content_type)}. Check that the text is "
                "not empty, then submit again."
            )
        return cls(
            data=data,
            format=fmt,
            sample_rate=int(sample_rate),
            channels=int(channels),
            duration_s=frames / sample_rate,
            text=text,
            voice=voice,
            meta=dict(meta or {}),
        )

    @property
    def mimetype(self) -> str:
        """The MIME type of the sniffed format, for players and downloads."""
        return MIMETYPES[self.format]

    @property
    def size(self) -> int:
        """Bytes of audio, as sent (what a notebook output or a download will weigh)."""
        return len(self.data)

    @cached_property
    def rms_dbfs(self) -> float:
        """Level as plain RMS in dBFS, -inf for digital silence: a quick "is there sound" check.
        To compare voices, use `metrics()["lufs"]`: weighted and gated as the ear hears.
        Decoded on first use, then cached."""
        import numpy as np
        import soundfile

        total, count = 0.0, 0
        try:
            with soundfile.SoundFile(io.BytesIO(self.data)) as decoder:
                for block in _decoded_blocks(decoder):
                    total += float(np.square(block, dtype=np.float64).sum())
                    count += block.size
        except Exception as exc:  # only reachable for a Clip built without from_bytes
            raise BadAudio(f"This clip's audio cannot be decoded ({_decode_error(exc)}).") from None
        rms = math.sqrt(total / count) if count else 0.0
        return 20 * math.log10(rms) if rms != 0 else float("-inf")

    def envelope(self, columns: int = 300) -> tuple[np.ndarray, np.ndarray]:
        """The lowest and highest sample in each of `columns` equal slices (read-only arrays):
        what a waveform picture draws. Decoded on first use, then cached per column count, so
        a view redrawn at every job update does not decode again."""
        cache = self.__dict__.setdefault("_envelopes", {})  # frozen: no attribute to assign
        if columns not in cache:
            from .waveform import envelope

            low, high = envelope(self, columns)
            low.flags.writeable = high.flags.writeable = False
            cache[columns] = (low, high)
        return cache[columns]

    def plot(self, *, spectrogram: bool = True):
        """Draw the waveform (and, below it, the spectrogram in dBFS) over time in seconds.

        Needs matplotlib (``pip install 'tts_nb[plot]'``), imported only here. Returns the
        matplotlib Figure: a notebook shows it once, a script can ``fig.savefig("clip.png")``.
        """
        from .pictures import plot_clip

        return plot_clip(self, spectrogram=spectrogram)

    def metrics(self) -> dict[str, Any]:
        """What a listening lab measures, as a dict (see `tts_nb.loudness`):

        ``duration_s``; ``lufs``, integrated loudness (ITU-R BS.1770-4 / EBU R128);
        ``true_peak_dbtp`` (4x oversampled); ``words_per_min`` over the spoken part (from `text`);
        ``leading_silence_s`` and ``trailing_silence_s`` (quieter than 50 dB below the peak);
        ``clipped_samples`` (at full scale); and ``note``, saying why a figure is NaN (a clip
        shorter than BS.1770's 400 ms gating block has no integrated loudness). Decoded on first
        use, then cached.
        """
        return dict(self._metrics)

    @cached_property
    def _metrics(self) -> dict[str, Any]:
        from .loudness import measure

        return measure(self)

    def save(self, path: str | Path) -> Path:
        """Write the bytes exactly as they came and return the path written.

        A missing suffix is added (``"hello"`` → ``hello.wav``); a suffix that names another
        format is refused, since a player trusting it would fail. Parent folders are created.
        """
        path = Path(path).expanduser()
        suffix = f".{self.format}"
        if path.is_dir():
            raise InvalidInput(
                f"{path} is a folder: give a file name, such as {path / ('clip' + suffix)}."
            )
        if not path.suffix:
            path = path.with_suffix(suffix)
        elif path.suffix.lower() != suffix:
            raise InvalidInput(
                f"{path.name} has the suffix {path.suffix} but the audio is {self.format.upper()}: "
                f"save it as {path.with_suffix(suffix).name}, or with no suffix."
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.data)
        return path

    def player(self, autoplay: bool = False) -> Audio:
        """An `IPython.display.Audio` of these exact bytes, labelled with the right mimetype.

        Bytes are never normalised by IPython (only arrays are), so loudness stays honest.
        IPython labels all bytes audio/wav; the label is corrected for MP3 and FLAC.
        """
        from IPython.display import Audio

        audio = Audio(data=self.data, autoplay=autoplay)
        audio.mimetype = self.mimetype
        return audio

    def _caption(self) -> str:
        voice = f"{self.voice} · " if self.voice else ""
        layout = {1: "mono", 2: "stereo"}.get(self.channels, f"{self.channels} ch")
        return (
            f"{voice}{self.format.upper()} · {self.sample_rate} Hz {layout} · "
            f"{self.duration_s:.2f} s · {_human_size(self.size)}"
        )

    def _repr_html_(self) -> str:
        """A caption, a player that never autoplays (the audio embedded untouched) and a
        waveform thumbnail."""
        from .waveform import svg

        said = ""
        if self.text:
            shown = self.text[:_CAPTION_TEXT_CHARS]
            shown += "…" if len(self.text) > _CAPTION_TEXT_CHARS else ""
            said = f'<div style="color:#555">“{html.escape(shown)}”</div>'
        encoded = base64.b64encode(self.data).decode("ascii")
        return (
            f'<div class="tts-nb-clip"><div>{html.escape(self._caption())}</div>{said}'
            '<audio controls preload="metadata">'
            f'<source src="data:{self.mimetype};base64,{encoded}" type="{self.mimetype}">'
            f"Your browser cannot play this audio.</audio>{svg(self)}</div>"
        )

    def __repr__(self) -> str:
        voice = f" voice={self.voice!r}" if self.voice else ""
        return (
            f"<Clip {self.format} {self.sample_rate} Hz {self.duration_s:.2f} s "
            f"{_human_size(self.size)}{voice}>"
        )


def _human_size(size: int) -> str:
    """Decimal units, as file browsers show them: 81.2 kB, 2.9 MB."""
    if size < 1000:
        return f"{size} B"
    if size < 1_000_000:
        return f"{size / 1000:.1f} kB"
    return f"{size / 1_000_000:.1f} MB"
