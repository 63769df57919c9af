"""One small adapter per provider, so panels and `compare` stay generic.

Each provider names things its own way (Typecast v1's `voice_id` and ISO 639-3 `language`,
legacy Typecast's `actor_id` and `lang`, CAMB's integer
`voice_id` and language ids, Aspose's language names and no voice catalogue). An `Adapter`
answers the four questions a generic UI asks: which voices are there (a DataFrame), which
column holds the id to send, which languages may be picked, and how to start speech.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import InvalidInput


@dataclass(frozen=True)
class Adapter:
    """How a generic UI talks to one provider's client.

    Attributes:
        provider: the client's `provider` name.
        catalogue: client → DataFrame of voices (empty when the provider has none).
        voice_column: the catalogue column whose value is sent as the voice.
        label_column: the catalogue column shown to people.
        languages: client → [(label, value)] for a language picker.
        default_language: the value picked first.
        speak: (client, text, voice, language, options) → a running Job.
    """

    provider: str
    catalogue: Callable[[Any], Any]
    voice_column: str | None
    label_column: str | None
    languages: Callable[[Any], list[tuple[str, Any]]]
    default_language: Any
    speak: Callable[[Any, str, Any, Any, dict], Any]

    def voice_options(self, client: Any) -> list[tuple[str, Any]]:
        """[(label, voice)] for a dropdown, from the catalogue table."""
        if self.voice_column is None:
            return []
        frame = self.catalogue(client)
        labels = frame[self.label_column] if self.label_column else frame[self.voice_column]
        return [
            (f"{label} ({voice})" if str(label) != str(voice) else str(voice), _plain(voice))
            for label, voice in zip(labels, frame[self.voice_column])
        ]


def _plain(value: Any) -> Any:
    """numpy scalars from a DataFrame become plain Python (JSON bodies, widget values)."""
    return value.item() if hasattr(value, "item") else value


def _typecast_languages(client: Any) -> list[tuple[str, str]]:
    from .providers.typecast import LANGS

    return [(lang, lang) for lang in LANGS]


def _typecast_speak(client: Any, text: str, voice: Any, language: Any, options: dict):
    return client.speak(text, actor_id=voice, lang=language or "auto", **options)


def _typecast_v1_languages(client: Any) -> list[tuple[str, str]]:
    from .providers.typecast_v1 import LANGUAGES_V30

    return [("auto-detect", "auto")] + [(code, code) for code in sorted(LANGUAGES_V30)]


def _typecast_v1_speak(client: Any, text: str, voice: Any, language: Any, options: dict):
    language = None if language in (None, "auto") else language
    return client.speak(text, voice_id=voice, language=language, **options)


def _camb_catalogue(client: Any):
    return client.voices()


def _camb_languages(client: Any) -> list[tuple[str, Any]]:
    frame = client.languages()
    id_column = "id" if "id" in frame.columns else frame.columns[0]
    name_column = "language" if "language" in frame.columns else frame.columns[-1]
    return [(str(name), _plain(i)) for i, name in zip(frame[id_column], frame[name_column])]


def _camb_speak(client: Any, text: str, voice: Any, language: Any, options: dict):
    kwargs = dict(options)
    if language is not None:
        kwargs["language"] = language
    return client.tts(text, voice_id=voice, **kwargs)


def _aspose_catalogue(client: Any):
    import pandas as pd

    return pd.DataFrame(columns=["voice"])


def _aspose_languages(client: Any) -> list[tuple[str, str]]:
    from .providers import aspose

    names = getattr(aspose, "LANGUAGES", ("English",))
    return [(str(name), str(name)) for name in names]


def _aspose_speak(client: Any, text: str, voice: Any, language: Any, options: dict):
    return client.text_to_speech(text, language=language or "English", **options)


# One adapter per API; each client class names its own as its `adapter` attribute.
TYPECAST = Adapter(
    provider="typecast",
    catalogue=lambda client: client.actors(),
    voice_column="actor_id",
    label_column="name",
    languages=_typecast_languages,
    default_language="auto",
    speak=_typecast_speak,
)
# Typecast's current API (a client with api == "v1"): same provider, its own names.
TYPECAST_V1 = Adapter(
    provider="typecast",
    catalogue=lambda client: client.voices(),
    voice_column="voice_id",
    label_column="name",
    languages=_typecast_v1_languages,
    default_language="auto",
    speak=_typecast_v1_speak,
)
CAMB = Adapter(
    provider="camb",
    catalogue=_camb_catalogue,
    voice_column="voice_id",
    label_column="voice_name",
    languages=_camb_languages,
    default_language=1,
    speak=_camb_speak,
)
ASPOSE = Adapter(
    provider="aspose",
    catalogue=_aspose_catalogue,
    voice_column=None,
    label_column=None,
    languages=_aspose_languages,
    default_language="English",
    speak=_aspose_speak,
)


def adapter_for(client: Any) -> Adapter:
    """The adapter of `client`: its `adapter` attribute (a Typecast client's is its API's)."""
    adapter = getattr(client, "adapter", None)
    if not isinstance(adapter, Adapter):
        raise InvalidInput(
            f"{client!r} is not a tts_nb client: pass tn.Typecast(), tn.Camb() or tn.Aspose()."
        )
    return adapter
