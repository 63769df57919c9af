"""Typecast's legacy polling API (``https://typecast.ai/api``, Bearer token): its fields,
their checks, its error bodies and the speak Operation. `tn.Typecast` (in
`tts_nb.providers.typecast`) uses it for a legacy key.

* ``POST /api/speak`` answers ``{"result": {"speak_v2_url": …}}`` (older answers also or only
  carry ``speak_url``, whose status has the audio under ``result.audio.url``);
* the status is ``started`` → ``progress`` → ``done`` | ``failed``; poll no faster than once
  a second (polling is free);
* ``audio_download_url`` is on the CDN, another origin: it is fetched without credentials,
  and it expires after 24 hours (only a new, charged ``POST /api/speak`` recovers the audio).
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping
from typing import Any

from ..clip import Clip
from ..errors import InvalidInput, NotFound, ProviderError, TTSError
from ..job import Call, Observation
from ..state import State
from ._common import expired, get_result, not_found, raw_status, unknown_status

PROVIDER = "typecast"
LANGS = ("auto", "en-us", "ko-kr", "ja-jp", "es-es", "zh-cn")
ACTOR_ID = re.compile(r"^[0-9a-fA-F]{24}$")
RANGES: dict[str, tuple[float, float, type]] = {
    "volume": (50, 200, int),
    "speed_x": (0.5, 1.5, float),
    "tempo": (0.5, 2.0, float),
    "pitch": (-12, 12, int),
    "max_seconds": (1, 60, float),
    "emotion_scale": (0.0, 2.0, float),
    "last_pitch": (-2, 2, int),
}
TEXT_OPTIONS = ("model_version", "emotion_tone_preset", "emotion_prompt", "emotion_label")
STATUS = {
    "started": State.PENDING,
    "progress": State.RUNNING,
    "done": State.SUCCEEDED,
    "failed": State.FAILED,
}
# The legacy API documents 401 and 403 (both ``auth/not-authorized``); its "request limit
# exceeded" error has no documented status, so no quota or rate-limit advice is invented here.
HINTS = {
    401: "Check TYPECAST_API_KEY: it must be a token of Typecast's legacy API (typecast.ai/api), "
    "and stray spaces or newlines break it.",
    403: "This key may not use the legacy API: keys of Typecast's current API (api.typecast.ai) "
    "do not work here. Use tn.Typecast(api='v1') for such a key (or let tn.Typecast() detect "
    "it); for a legacy key that is refused, Typecast says to contact their sales team.",
}


def option(name: str, value: Any) -> Any:
    """A legacy body field, checked (range, type, spelling) before anything is sent."""
    if name in RANGES:
        low, high, kind = RANGES[name]
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
        ):
            raise InvalidInput(f"{name} must be a number in {low}..{high}.", provider=PROVIDER)
        if kind is int and value != int(value):
            raise InvalidInput(
                f"{name} must be a whole number in {low}..{high}.", provider=PROVIDER
            )
        if not low <= value <= high:
            raise InvalidInput(
                f"{name}={value} is out of range: Typecast accepts {low}..{high}.",
                provider=PROVIDER,
            )
        return kind(value)
    if name == "xapi_hd":
        if not isinstance(value, bool):
            raise InvalidInput(
                "xapi_hd must be True (44.1 kHz) or False (16 kHz).", provider=PROVIDER
            )
        return value
    if name == "xapi_audio_format":
        if value not in ("wav", "mp3"):
            raise InvalidInput("xapi_audio_format must be 'wav' or 'mp3'.", provider=PROVIDER)
        return value
    if name == "duration":
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
            or value <= 0
        ):
            raise InvalidInput("duration must be a positive number of seconds.", provider=PROVIDER)
        return value
    if name in TEXT_OPTIONS:
        if not isinstance(value, str) or not value:
            raise InvalidInput(f"{name} must be a non-empty string.", provider=PROVIDER)
        return value
    known = sorted([*RANGES, "xapi_hd", "xapi_audio_format", "duration", *TEXT_OPTIONS])
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else f" Known options: {', '.join(known)}."
    raise InvalidInput(f"Unknown Typecast option {name!r}.{hint}", provider=PROVIDER)


def check_text_and_lang(text: Any, lang: Any) -> dict[str, Any]:
    """The start of a speak body: the text (stripped) and a supported `lang`; the actor is
    resolved by the client (it may need the actor list)."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("text is empty: give the sentence to speak.", provider=PROVIDER)
    if lang not in LANGS:
        raise InvalidInput(
            f"lang={lang!r} is not supported by Typecast; use one of {', '.join(LANGS)}.",
            provider=PROVIDER,
        )
    return {"text": text.strip(), "lang": lang, "actor_id": None}


def actor_list(data: Any) -> list[dict[str, Any]]:
    """``GET /api/actor``'s answer as [{"actor_id", "name": {"en", "ko"}}]."""
    result = data.get("result") if isinstance(data, dict) else None
    if not isinstance(result, list):
        raise ProviderError(
            f"typecast: unexpected actor list {str(data)[:200]!r}.", provider=PROVIDER
        )
    return [
        {"actor_id": str(a.get("actor_id")), "name": names(a.get("name"))}
        for a in result
        if isinstance(a, dict) and a.get("actor_id")
    ]


def _expired_link(error: TTSError) -> TTSError:
    """Any refusal of the CDN link means it expired (400: how storage says "expired")."""
    return expired(
        error,
        "The Typecast audio link no longer works",
        "links expire 24 hours after synthesis. Only a new speak() request recovers the "
        "audio, and it costs quota again.",
        provider=PROVIDER,
        any_invalid=True,
    )


def describe_error(response) -> str | None:
    """Legacy errors are ``{"message": {"msg", "error_code"}}``; add what to do."""
    said = None
    try:
        message = response.json().get("message")
        if isinstance(message, dict):
            text, code = message.get("msg"), message.get("error_code", "no code")
            said = f"{text} ({code})" if text else f"({code})"
        elif isinstance(message, str):
            said = message
    except (ValueError, AttributeError):
        pass
    hint = HINTS.get(response.status_code)
    return " ".join(part for part in (said, hint) if part) or None


def names(name: Any) -> dict[str, str]:
    """An actor's name as {"en", "ko"}: the API sends a dict, older answers a string."""
    if isinstance(name, dict):
        return {"en": str(name.get("en") or ""), "ko": str(name.get("ko") or "")}
    return {"en": str(name or ""), "ko": ""}


class SpeakOperation:
    """One ``/api/speak`` job: pure protocol translation (the engine owns time)."""

    provider = PROVIDER
    kind = "speak"
    api = "legacy"  # which Typecast API, for continuation tokens

    def __init__(self, body: Mapping[str, Any], voice: str) -> None:
        self.body = dict(body)
        self.voice = voice

    def submit(self, call: Call) -> Observation:
        data = call.request_json("POST", "/api/speak", json_body=self.body)
        result = data.get("result") if isinstance(data, dict) else None
        if not isinstance(result, dict):
            raise ProviderError(
                f"typecast: the speak answer has no result: {str(data)[:200]!r}.", provider=PROVIDER
            )
        ids = {
            k: result[k] for k in ("speak_v2_url", "speak_url") if isinstance(result.get(k), str)
        }
        if not ids:
            raise ProviderError(
                "typecast: the speak answer has neither speak_v2_url nor speak_url.",
                provider=PROVIDER,
            )
        return Observation(State.PENDING, ids=ids)

    def poll(self, call: Call, ids: Mapping[str, Any]) -> Observation:
        url = ids.get("speak_v2_url") or ids["speak_url"]
        try:
            data = call.request_json("GET", url)
        except NotFound:
            return not_found("Typecast no longer knows this speak request (404).")
        result = data.get("result") if isinstance(data, dict) else None
        if not isinstance(result, dict):
            raise ProviderError(
                f"typecast: unexpected status answer {str(data)[:200]!r}.", provider=PROVIDER
            )
        raw = raw_status(result.get("status"))
        state = STATUS.get(raw)
        audio = result.get("audio_download_url")
        if audio is None and isinstance(result.get("audio"), dict):  # the deprecated answer
            audio = result["audio"].get("url")
        if state is None:
            return unknown_status("Typecast status", raw)
        if state is State.FAILED:
            return Observation(
                State.FAILED,
                raw_status=raw,
                message="Typecast reported the speak as failed. Check the text and options "
                "(actor, language, max_seconds) and submit again.",
            )
        if state is State.SUCCEEDED and not isinstance(audio, str):
            return Observation(
                State.RUNNING, raw_status=raw, message="done but no audio URL yet; looking again"
            )
        return Observation(state, raw_status=raw, payload=audio)

    def fetch(self, call: Call, ids: Mapping[str, Any], seen: Observation) -> Clip:
        url = seen.payload
        # The CDN is another origin: it gets no credentials (the transport would refuse
        # anyway). The deprecated answer's audio lives on the API origin and needs them.
        authed = "speak_v2_url" not in ids
        response = get_result(call, url, _expired_link, authed=authed)
        return Clip.from_bytes(
            response.content,
            text=self.body["text"],
            voice=self.voice,
            content_type=response.headers.get("Content-Type"),
            meta={"speak_id": (ids.get("speak_v2_url") or ids["speak_url"]).rsplit("/", 1)[-1]},
        )
