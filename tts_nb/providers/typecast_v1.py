"""Typecast's current API (``https://api.typecast.ai``): the protocol half of `tn.Typecast`
when a key belongs to it.

What it follows, from the official SDK typecast-python 0.5.2 (``client.py``, ``models/``,
``exceptions.py``) and Typecast's API reference:

* auth: ``X-API-KEY: <key>``; keys of the legacy API (``typecast.ai/api``) get 403 here;
* ``POST /v1/text-to-speech`` is synchronous: the answer *is* the audio, with its format in
  ``Content-Type`` and its length in ``X-Audio-Duration``. A job therefore finishes at submit;
  it is still a normal `Job` (history, ledger, reuse, comparisons);
* ``GET /v2/voices`` (filters model, gender, age, use_cases) and
  ``GET /v1/users/me/subscription`` (plan, credits, concurrency limit);
* errors: 400/422 bad input, 401 bad key, 402 no credits, 403 key of the other API,
  404 unknown voice, 429 over the plan's concurrency limit (the request was not accepted).

Every field is checked here before anything is sent, so a mistake costs no credits.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..clip import Clip
from ..errors import InvalidInput, ProviderError, QuotaError
from ..job import Call, Observation
from ..state import State

PROVIDER = "typecast"
REAL_URL = "https://api.typecast.ai"
URL_ENV = "TTS_NB_TYPECAST_V1_URL"
SUBSCRIPTION_PATH = "/v1/users/me/subscription"
MODELS = ("ssfm-v30", "ssfm-v21")
# ISO 639-3 codes of models/tts.py LanguageCode: 27 on ssfm-v21, 37 on ssfm-v30.
LANGUAGES_V21 = frozenset(
    (
        "eng kor spa deu fra ita pol nld rus jpn ell tam tgl fin zho slk ara hrv ukr ind dan "
        "swe msa ces por bul ron"
    ).split()
)
LANGUAGES_V30 = LANGUAGES_V21 | frozenset("ben hin hun nan nor pan tha tur vie yue".split())
LANGUAGES = {"ssfm-v21": LANGUAGES_V21, "ssfm-v30": LANGUAGES_V30}
PRESETS = {
    "ssfm-v21": ("normal", "happy", "sad", "angry"),
    "ssfm-v30": ("normal", "happy", "sad", "angry", "whisper", "toneup", "tonedown"),
}
GENDERS = ("male", "female")
AGES = ("child", "teenager", "young_adult", "middle_age", "elder")  # the SDK's AgeEnum
USE_CASES = (
    "Announcer",
    "Anime",
    "Audiobook",
    "Conversational",
    "Documentary",
    "E-learning",
    "Rapper",
    "Game",
    "Tiktok/Reels",
    "News",
    "Podcast",
    "Voicemail",
    "Ads",
)
TEXT_MAX = 2000  # the API reference says 1–2000 (an older page said 5000: the newer wins)
# models/tts.py Output and prompts: (low, high, whole numbers only)
RANGES: dict[str, tuple[float, float, bool]] = {
    "emotion_intensity": (0.0, 2.0, False),
    "volume": (0, 200, True),
    "target_lufs": (-70.0, 0.0, False),
    "audio_pitch": (-12, 12, True),
    "audio_tempo": (0.5, 2.0, False),
    "remove_silence_ms": (0, 1000, True),
}
RESEND_AFTER_S = 0.5  # a 429 carries no Retry-After: look for a free slot again this soon
HINTS = {
    401: "Typecast did not accept TYPECAST_API_KEY. The usual cause is a space or newline "
    "copied along with the key; copy it again from typecast.ai/developers.",
    402: "No speech was generated and nothing was charged: tc.account() shows your plan and "
    "the credits left.",
    403: "This key belongs to Typecast's other API: keys of api.typecast.ai (v1) and of the "
    "legacy typecast.ai/api do not mix. Use tn.Typecast(api='legacy') for a legacy key, or "
    "set TYPECAST_API_KEY to a key of the current API (the endpoint is "
    "TTS_NB_TYPECAST_V1_URL, default https://api.typecast.ai).",
    404: "Typecast does not know this voice_id (ids look like 'tc_…' or 'uc_…', lowercase): "
    "pick one from tc.voices().",
    429: "More requests are in flight than your Typecast plan allows (Free 2, Lite 5, Plus 15); "
    "this one was not accepted and nothing was charged. Lower max_concurrent= to your plan's "
    "limit (tc.account() shows it).",
}


def describe_error(response) -> str | None:
    """The API's own words, as the SDK's mock server shapes them (``{"error": {"code",
    "message", "field"}}``), or FastAPI's ``{"detail": …}``, or ``{"message": …}``; plus what
    to do."""
    said = None
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict):
        inner = data.get("error")
        if isinstance(inner, dict):
            field = f" (field {inner['field']})" if inner.get("field") else ""
            said = f"{inner.get('message', '')}{field} [{inner.get('code', 'no code')}]"
        elif isinstance(data.get("detail"), list):  # FastAPI validation errors
            said = "; ".join(
                f"{'.'.join(str(p) for p in item.get('loc', ()))}: {item.get('msg', '')}"
                for item in data["detail"]
                if isinstance(item, dict)
            )
        elif data.get("detail") is not None:
            said = str(data["detail"])
        elif isinstance(data.get("message"), dict):
            message = data["message"]
            said = f"{message.get('msg', '')} ({message.get('error_code', 'no code')})"
        elif data.get("message") is not None:
            said = str(data["message"])
    hint = HINTS.get(response.status_code)
    return " ".join(part for part in (said, hint) if part) or None


# ----------------------------------------------------------------------------- validation
def _bad(message: str) -> InvalidInput:
    return InvalidInput(message, provider=PROVIDER)


def _number(name: str, value: Any) -> float:
    low, high, whole = RANGES[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _bad(f"{name} must be a number in {low}..{high}.")
    if whole and value != int(value):
        raise _bad(f"{name} must be a whole number in {low}..{high}.")
    if not low <= value <= high:
        raise _bad(f"{name}={value} is out of range: Typecast accepts {low}..{high}.")
    return int(value) if whole else float(value)


def _choice(name: str, value: Any, allowed) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise _bad(f"{name}={value!r} is not accepted: use one of {', '.join(sorted(allowed))}.")
    return value


def tts_body(
    text: str,
    voice_id: str,
    *,
    model: str = "ssfm-v30",
    language: str | None = None,
    emotion_type: str | None = None,
    emotion_preset: str | None = None,
    emotion_intensity: float | None = None,
    previous_text: str | None = None,
    next_text: str | None = None,
    output: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``POST /v1/text-to-speech`` body, checked field by field (`InvalidInput` names the
    field and the fix). Only what was given is sent: the API's defaults apply to the rest."""
    if not isinstance(text, str) or not text.strip():
        raise _bad("text is empty: give the sentence to speak.")
    text = text.strip()
    if len(text) > TEXT_MAX:
        raise _bad(
            f"text has {len(text)} characters; Typecast accepts at most {TEXT_MAX} per request. "
            "Split it into several requests."
        )
    model = _choice("model", model, MODELS)
    body: dict[str, Any] = {"voice_id": voice_id, "text": text, "model": model}
    if language is not None:
        code = language.lower() if isinstance(language, str) else language
        if code not in LANGUAGES[model]:
            other = [m for m in MODELS if m != model and code in LANGUAGES[m]]
            also = f" ({other[0]} speaks it)" if other else ""
            raise _bad(
                f"language={language!r} is not supported by {model}{also}: use an ISO 639-3 "
                "code such as 'eng', 'kor', 'jpn', 'spa', or leave it out to auto-detect."
            )
        body["language"] = code
    prompt = _prompt(
        model, emotion_type, emotion_preset, emotion_intensity, previous_text, next_text
    )
    if prompt:
        body["prompt"] = prompt
    out = _output(output or {})
    if out:
        body["output"] = out
    return body


def _prompt(model, emotion_type, preset, intensity, previous_text, next_text) -> dict[str, Any]:
    """The SDK's three prompt models: Prompt (v21), PresetPrompt and SmartPrompt (v30)."""
    smart_fields = previous_text is not None or next_text is not None
    preset_fields = preset is not None or intensity is not None
    if emotion_type is None and model == "ssfm-v30":
        emotion_type = "smart" if smart_fields and not preset_fields else None
        emotion_type = emotion_type or ("preset" if preset_fields else None)
    if emotion_type is not None:
        if model != "ssfm-v30":
            raise _bad(
                f"emotion_type is for model='ssfm-v30'; {model} takes only emotion_preset "
                "and emotion_intensity."
            )
        _choice("emotion_type", emotion_type, ("preset", "smart"))
    if smart_fields and emotion_type != "smart":
        raise _bad(
            "previous_text and next_text need emotion_type='smart' (model 'ssfm-v30'), "
            "which infers the emotion from the context."
        )
    if emotion_type == "smart":
        if preset_fields:
            raise _bad(
                "emotion_preset and emotion_intensity are for emotion_type='preset'; "
                "emotion_type='smart' infers the emotion from previous_text and next_text."
            )
        prompt: dict[str, Any] = {"emotion_type": "smart"}
        for name, value in (("previous_text", previous_text), ("next_text", next_text)):
            if value is not None:
                if not isinstance(value, str) or len(value) > TEXT_MAX:
                    raise _bad(f"{name} must be a string of at most {TEXT_MAX} characters.")
                prompt[name] = value
        return prompt
    prompt = {"emotion_type": emotion_type} if emotion_type else {}
    if preset is not None:
        prompt["emotion_preset"] = _choice("emotion_preset", preset, PRESETS[model])
    if intensity is not None:
        prompt["emotion_intensity"] = _number("emotion_intensity", intensity)
    return prompt


def _output(given: Mapping[str, Any]) -> dict[str, Any]:
    """models/tts.py Output: volume XOR target_lufs, pitch, tempo, format, silence trimming."""
    out: dict[str, Any] = {}
    if given.get("volume") is not None and given.get("target_lufs") is not None:
        raise _bad(
            "volume and target_lufs cannot be used together: volume scales (0–200, 100 = as "
            "is), target_lufs normalizes loudness (−70–0 LUFS). Pass one of them."
        )
    for name, value in given.items():
        if value is None:
            continue
        if name == "audio_format":
            out[name] = _choice("audio_format", value, ("wav", "mp3"))
        else:
            out[name] = _number(name, value)
    return out


# ------------------------------------------------------------------------------ results
class TextToSpeechOperation:
    """One ``POST /v1/text-to-speech``: the answer is the audio, so the job ends at submit."""

    provider = PROVIDER
    kind = "text_to_speech"
    api = "v1"  # which Typecast API, for continuation tokens

    def __init__(self, body: Mapping[str, Any], voice: str) -> None:
        self.body = dict(body)
        self.voice = voice

    def submit(self, call: Call) -> Observation:
        try:
            response = call.request("POST", "/v1/text-to-speech", json_body=self.body)
        except QuotaError as exc:
            if exc.status_code == 429 and exc.retry_after is None:
                # Not accepted (the concurrency limit), and v1 names no wait: the job sends
                # again shortly, as the client's `retry` allows (its predicate and timeout)
                # and within its deadline (lifecycle.Driver.resubmit_allowed).
                exc.retry_after = RESEND_AFTER_S
            raise
        seconds = _seconds(response.headers.get("X-Audio-Duration"))
        said = f"X-Audio-Duration: {seconds:g} s" if seconds is not None else None
        return Observation(
            State.SUCCEEDED,
            message=said,
            payload=(response.content, response.headers.get("Content-Type"), seconds),
        )

    def poll(self, call: Call, ids: Mapping[str, Any]) -> Observation:
        raise ProviderError(
            "typecast: a v1 text-to-speech job has nothing to poll (the audio came with the "
            "answer).",
            provider=PROVIDER,
        )

    def fetch(self, call: Call, ids: Mapping[str, Any], seen: Observation) -> Clip:
        data, content_type, seconds = seen.payload
        return Clip.from_bytes(
            data,
            text=self.body["text"],
            voice=self.voice,
            content_type=content_type,
            meta={"model": self.body["model"], "audio_duration_s": seconds},
        )


def _seconds(value: str | None) -> float | None:
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and math.isfinite(seconds) else None


def voices_frame(items: Any):
    """``GET /v2/voices`` as a DataFrame; ``emotions`` maps each model to its emotions, as
    the SDK's ``VoiceV2Response.models`` does."""
    import pandas as pd

    if not isinstance(items, list):
        raise ProviderError(
            f"typecast: unexpected voice list {str(items)[:200]!r}.", provider=PROVIDER
        )
    rows = []
    for item in items:
        if not isinstance(item, dict) or not item.get("voice_id"):
            continue
        models = [m for m in item.get("models") or [] if isinstance(m, dict)]
        rows.append(
            {
                "voice_id": str(item["voice_id"]),
                "name": str(item.get("voice_name") or ""),
                "gender": item.get("gender"),
                "age": item.get("age"),
                "use_cases": list(item.get("use_cases") or []),
                "models": [str(m.get("version")) for m in models],
                "emotions": {str(m.get("version")): list(m.get("emotions") or []) for m in models},
            }
        )
    columns = ["voice_id", "name", "gender", "age", "use_cases", "models", "emotions"]
    return pd.DataFrame(rows, columns=columns)


def voice_filters(model, gender, age, use_cases) -> dict[str, str]:
    """``GET /v2/voices`` query parameters, checked against the SDK's VoicesV2Filter enums."""
    given = {"model": (model, MODELS), "gender": (gender, GENDERS), "age": (age, AGES)}
    given["use_cases"] = (use_cases, USE_CASES)
    return {k: _choice(k, v, allowed) for k, (v, allowed) in given.items() if v is not None}


@dataclass(frozen=True)
class Account:
    """A v1 key's subscription (``GET /v1/users/me/subscription``)."""

    plan: str
    credits_total: int
    credits_used: int
    concurrency_limit: int

    @property
    def credits_left(self) -> int:
        return max(0, self.credits_total - self.credits_used)

    @classmethod
    def from_json(cls, data: Any) -> Account:
        try:
            return cls(
                plan=str(data["plan"]),
                credits_total=int(data["credits"]["plan_credits"]),
                credits_used=int(data["credits"]["used_credits"]),
                concurrency_limit=int(data["limits"]["concurrency_limit"]),
            )
        except (KeyError, TypeError, ValueError):
            raise ProviderError(
                f"typecast: unexpected subscription answer {str(data)[:200]!r}.",
                provider=PROVIDER,
            ) from None

    def __repr__(self) -> str:
        return (
            f"<Typecast account: plan {self.plan}, credits {self.credits_left:,} left of "
            f"{self.credits_total:,} ({self.credits_used:,} used), "
            f"{self.concurrency_limit} requests at once>"
        )

    def _repr_html_(self) -> str:
        cells = [
            ("plan", self.plan),
            ("credits left", f"{self.credits_left:,} of {self.credits_total:,}"),
            ("credits used", f"{self.credits_used:,}"),
            ("requests at once", str(self.concurrency_limit)),
        ]
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
            for k, v in cells
        )
        return f"<table class='tts-nb-account'><caption>Typecast account</caption>{rows}</table>"
