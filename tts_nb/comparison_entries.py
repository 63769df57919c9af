"""The voices of a `tn.compare`: what `voices=` may be, turned into named `Entry` rows.

Shared by `Comparison` (`tts_nb.comparison`), its blind tests (`tts_nb.ab_test`,
`tts_nb.rating`) and their views, so those modules need not import each other for the small
things they all use: the entries and their labels, which clips finished, a metrics row, file
names, and `_Viewable` (a widget in Jupyter, the repr elsewhere).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .adapters import adapter_for
from .errors import InvalidInput, TTSError
from .kernel import in_kernel

# What `Clip.metrics` measures, shown per voice.
MEASURED_COLUMNS = [
    "lufs",
    "true_peak_dbtp",
    "words_per_min",
    "leading_silence_s",
    "trailing_silence_s",
    "clipped_samples",
]
METRIC_COLUMNS = [
    "label",
    "provider",
    "voice",
    "job",
    "state",
    "time_to_result_s",
    "polls",
    "audio_s",
    "bytes",
    *MEASURED_COLUMNS,
    "error",
    "note",
]
# Decimals of each measured column in `metrics()`: what a meter shows, not float noise.
METRIC_DECIMALS = {
    "time_to_result_s": 2,
    "audio_s": 2,
    "lufs": 1,
    "true_peak_dbtp": 1,
    "words_per_min": 0,
    "leading_silence_s": 2,
    "trailing_silence_s": 2,
}


@dataclass
class Entry:
    """One voice in a comparison: where it came from, and its job (or why it never started)."""

    label: str
    client: Any
    voice: Any
    language: Any = None
    options: dict[str, Any] = field(default_factory=dict)
    job: Any = None
    error: TTSError | None = None

    @property
    def clip(self) -> Any:
        return self.job.clip if self.job is not None else None


def _entries(voices: Any, client: Any, language: Any, options: dict) -> list[Entry]:
    if _is_frame(voices):
        voices = [row for _, row in voices.iterrows()]
    elif isinstance(voices, (Mapping, tuple)) or hasattr(voices, "provider"):
        voices = [voices]
    return [_entry(spec, client, language, options) for spec in voices]


def _name_entries(entries: list[Entry]) -> None:
    """Labels name files and table rows: the voice's display name, unique."""
    seen: dict[str, int] = {}
    for entry in entries:
        if not entry.label:
            provider = adapter_for(entry.client).provider
            shown = entry.job.request.get("voice") if entry.job is not None else None
            shown = shown if shown is not None else entry.voice
            entry.label = provider if shown is None else f"{provider}:{shown}"
        count = seen.get(entry.label, 0)
        seen[entry.label] = count + 1
        if count:
            entry.label = f"{entry.label} #{count + 1}"


def _is_frame(value: Any) -> bool:
    return hasattr(value, "iterrows") and hasattr(value, "columns")


def _entry(spec: Any, client: Any, language: Any, options: dict) -> Entry:
    label = None
    extra: dict[str, Any] = {}
    if isinstance(spec, tuple):
        if len(spec) not in (2, 3):
            raise InvalidInput(f"{spec!r}: use (client, voice) or (client, voice, options).")
        owner, voice = spec[0], spec[1]
        extra = dict(spec[2]) if len(spec) == 3 else {}
    elif isinstance(spec, Mapping):
        owner = spec.get("client", client)
        voice = spec.get("voice")
        label = spec.get("label")
        language = spec.get("language", language)
        extra = dict(spec.get("options") or {})
    elif hasattr(spec, "provider") and not hasattr(spec, "iloc"):
        owner, voice = spec, None
    else:
        owner, voice = client, spec
    if owner is None:
        raise InvalidInput(
            f"{spec!r} names no client: pass (client, voice) pairs, or client= with a "
            "DataFrame of voices."
        )
    adapter = adapter_for(owner)
    if hasattr(voice, "iloc") and adapter.voice_column:  # a DataFrame row
        row = voice
        voice = row[adapter.voice_column]
        if label is None and adapter.label_column in row:
            label = f"{adapter.provider}:{row[adapter.label_column]}"
    if voice is None and adapter.voice_column:
        options_list = adapter.voice_options(owner)
        if not options_list:
            raise InvalidInput(f"{owner!r} has no voices to pick from.")
        voice = options_list[0][1]
    voice = voice.item() if hasattr(voice, "item") else voice
    return Entry(
        label=label or "",
        client=owner,
        voice=voice,
        language=language if language is not None else adapter.default_language,
        options={**options, **extra},
    )


class _Viewable:
    """Shows its widget in Jupyter and its repr elsewhere; the widget is built once, lazily."""

    def _make_view(self):
        raise NotImplementedError

    @property
    def widget(self):
        with _view_lock:
            if getattr(self, "_view", None) is None:
                self._view = self._make_view()
            return self._view

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict[str, Any]:
        if not in_kernel():
            return {"text/plain": repr(self)}
        bundle = self.widget._repr_mimebundle_()
        bundle["text/plain"] = repr(self)
        return bundle


_view_lock = threading.Lock()


def _finished(entries: list[Entry]) -> list[Entry]:
    """The entries with one finished clip (text-to-voice's lists of previews are left out)."""
    return [e for e in entries if e.clip is not None and not isinstance(e.clip, list)]


def _metric_row(entry: Entry) -> dict[str, Any]:
    job, clip = entry.job, entry.clip
    single = clip if clip is not None and not isinstance(clip, list) else None
    error = entry.error if job is None else job.error
    measured = {} if single is None else single.metrics()
    return {
        "label": entry.label,
        "provider": adapter_for(entry.client).provider,
        "voice": None if entry.voice is None else str(entry.voice),
        "job": None if job is None else job.id,
        "state": "FAILED" if job is None else job.state.value,
        "time_to_result_s": job.elapsed_s if job is not None and job.state.terminal else None,
        "polls": None if job is None else job.polls,
        "audio_s": None if single is None else single.duration_s,
        "bytes": None if single is None else single.size,
        **{column: measured.get(column) for column in MEASURED_COLUMNS},
        "error": None if error is None else str(error),
        "note": measured.get("note"),
    }


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "clip"
