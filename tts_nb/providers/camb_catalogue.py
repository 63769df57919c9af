"""CAMB.AI's catalogues, and the names people use for what CAMB wants as integer ids.

CAMB takes voices and languages as integer ids; people think in names ("Alice", "French",
"fr-fr"). `CambCatalogue` reads ``/list-voices`` and ``/source-languages`` /
``/target-languages`` once per client and resolves names against them, so a typo is caught
before a charged request and answered with the closest names.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from ..errors import InvalidInput, ProviderError, TTSError
from ..transport import Transport
from .camb_protocol import PROVIDER, as_int, is_int
from .camb_stream import STREAM_LOCALES


class CambCatalogue:
    """The catalogue half of `tts_nb.providers.camb.Camb`: voices, languages, name lookup.

    It needs the client's `transport`, and keeps its lists in ``_voices`` (None: not read
    yet) and ``_languages`` (by "source"/"target").
    """

    transport: Transport
    _voices: list[dict[str, Any]] | None = None
    # "source"/"target" → its list; replaced, never changed in place, so the empty default
    # can be shared by every client.
    _languages: Mapping[str, list[dict[str, Any]]] = MappingProxyType({})

    def voices(self):
        """The voices this key can use, as a DataFrame (voice_id, voice_name, gender, age…).

        Voices kept with `keep_voice` appear here too.
        """
        import pandas as pd

        self._voices = None  # always fresh: kept voices join the list
        columns = ["voice_id", "voice_name", "gender", "age", "language", "description"]
        rows = [
            {"voice_id": v["id"], **{c: v.get(c) for c in columns[1:]}} for v in self._voice_list()
        ]
        return pd.DataFrame(rows, columns=columns)

    def languages(self):
        """CAMB's languages as a DataFrame: id, language, short_name, and whether each may be
        a source (``/source-languages``) and a target (``/target-languages``)."""
        import pandas as pd

        rows: dict[int, dict[str, Any]] = {}
        for which in ("source", "target"):
            for item in self._language_list(which):
                row = rows.setdefault(item["id"], {**item, "source": False, "target": False})
                row[which] = True
        columns = ["id", "language", "short_name", "source", "target"]
        return pd.DataFrame(list(rows.values()), columns=columns)

    def _voice_list(self) -> list[dict[str, Any]]:
        if self._voices is None:
            data = self.transport.json_of(
                self.transport.request("GET", "/list-voices", step="catalogue")
            )
            if not isinstance(data, list):
                raise ProviderError(
                    f"camb: unexpected voice list {str(data)[:200]!r}.", provider=PROVIDER
                )
            self._voices = [v for v in data if isinstance(v, dict) and is_int(v.get("id"))]
        return self._voices

    def _language_list(self, which: str) -> list[dict[str, Any]]:
        if which not in self._languages:
            path = f"/{which}-languages"
            data = self.transport.json_of(self.transport.request("GET", path, step="catalogue"))
            if not isinstance(data, list):
                raise ProviderError(
                    f"camb: unexpected {which} language list {str(data)[:200]!r}.",
                    provider=PROVIDER,
                )
            listed = [
                {
                    "id": item["id"],
                    "language": str(item.get("language") or ""),
                    "short_name": str(item.get("short_name") or ""),
                }
                for item in data
                if isinstance(item, dict) and is_int(item.get("id"))
            ]
            self._languages = {**self._languages, which: listed}
        return self._languages[which]

    def _resolve_voice(self, voice: int | str) -> int:
        """An integer id passes as is; a name (or digits) is looked up in the voice list."""
        if is_int(voice):
            return int(voice)
        if not isinstance(voice, str) or not voice.strip():
            raise InvalidInput(
                "voice_id is missing: pick an integer id from camb.voices().", provider=PROVIDER
            )
        voice = voice.strip()
        if voice.isdigit():
            return int(voice)
        by_name = {str(v.get("voice_name", "")).lower(): v["id"] for v in self._voice_list()}
        if voice.lower() in by_name:
            return by_name[voice.lower()]
        close = difflib.get_close_matches(voice.lower(), list(by_name), n=3)
        hint = f" Close names: {', '.join(close)}." if close else ""
        raise InvalidInput(
            f"voice_id {voice!r} is neither an integer voice id nor a voice's name.{hint} "
            "See camb.voices().",
            provider=PROVIDER,
        )

    def _voice_name(self, voice_id: int) -> str:
        """The voice's name for labels (one cached catalogue request), else its id."""
        try:
            voices = self._voice_list()
        except TTSError:  # a label is not worth failing for; the job reports real problems
            return str(voice_id)
        for voice in voices:
            if voice["id"] == voice_id:
                return str(voice.get("voice_name") or voice_id)
        return str(voice_id)

    def _stream_locale(self, value: int | str) -> str:
        """The BCP-47 locale /tts-stream wants, from a locale, or an id, name or code of
        `languages()`. A name that matches several languages picks the one the endpoint
        supports ("English" → "en-us" when "en-gb" is not streamable). A locale the endpoint
        does not list is still sent: its 422 names the supported ones (the SDK sends any)."""
        if isinstance(value, str) and value.strip().lower().replace("_", "-") in STREAM_LOCALES:
            return value.strip().lower().replace("_", "-")
        languages = self._language_list("source")
        if as_int(value) is None:
            streamable = [x for x in languages if x["short_name"].lower() in STREAM_LOCALES]
            try:
                value = resolve_language(str(value), streamable, "streaming", "language")
            except InvalidInput:
                value = self._resolve_language(value, "source", "language")
        wanted = as_int(value)
        for item in languages:
            if item["id"] == wanted:
                return item["short_name"].lower()
        raise InvalidInput(
            f"language={value!r} is not one of CAMB.AI's languages. See camb.languages().",
            provider=PROVIDER,
        )

    def _resolve_language(self, value: int | str, which: str, field: str) -> int:
        """CAMB wants integer ids; names and codes are resolved through its own list."""
        if is_int(value):
            return int(value)
        if not isinstance(value, str) or not value.strip():
            raise InvalidInput(
                f"{field} is missing: give an id, code or name from camb.languages().",
                provider=PROVIDER,
            )
        return resolve_language(value, self._language_list(which), which, field)


def resolve_language(value: str, languages: list[dict[str, Any]], which: str, field: str) -> int:
    """The id of `value` in `languages`: an exact code or name, a name without its region
    ("french"), or a bare code ("fr") when only one language matches.

    Raises:
        InvalidInput: ambiguous (naming the candidates) or unknown (naming close matches).
    """
    wanted = value.strip().lower().replace("_", "-")
    if wanted.isdigit():
        return int(wanted)
    exact = [
        lang
        for lang in languages
        if wanted in (lang["short_name"].lower(), lang["language"].lower())
    ]
    if not exact:
        exact = [
            lang
            for lang in languages
            if lang["language"].lower().split(" (")[0] == wanted
            or lang["short_name"].lower().split("-")[0] == wanted
        ]
    if len(exact) == 1:
        return exact[0]["id"]

    def label(lang: dict[str, Any]) -> str:
        return f"{lang['language']} ({lang['short_name']}, id {lang['id']})"

    if exact:
        raise InvalidInput(
            f"{field}={value!r} is ambiguous: it matches {', '.join(label(x) for x in exact)}. "
            "Pass one of their codes or ids.",
            provider=PROVIDER,
        )
    names: dict[str, list[dict[str, Any]]] = {}
    for lang in languages:
        full = lang["language"].lower()
        for name in {full, full.split(" (")[0], lang["short_name"].lower()}:
            names.setdefault(name, []).append(lang)
    seen, hints = set(), []
    for name in difflib.get_close_matches(wanted, list(names), n=3, cutoff=0.6):
        for lang in names[name]:
            if lang["id"] not in seen:
                seen.add(lang["id"])
                hints.append(label(lang))
    hint = f" Close matches: {'; '.join(hints)}." if hints else ""
    raise InvalidInput(
        f"{field}={value!r} is not one of CAMB.AI's {which} languages.{hint} See camb.languages().",
        provider=PROVIDER,
    )
