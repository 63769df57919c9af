"""Typecast's legacy polling API: ``POST /api/speak`` → poll ``speak_v2_url`` → download.

The protocol, as the seed document and Typecast's reference show it:

* auth: ``Authorization: Bearer <token>`` on every API call;
* ``POST /api/speak`` answers ``{"result": {"speak_v2_url": …}}`` (older answers also or only
  carry ``speak_url``, whose status has the audio under ``result.audio.url``);
* the status is ``started`` → ``progress`` → ``done`` | ``failed``; poll no faster than once a
  second (polling is free);
* ``audio_download_url`` is on the CDN, another origin: it is fetched without credentials, and
  it expires after 24 hours (only a new, charged ``POST /api/speak`` recovers the audio).
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from ..client import Client, resolve_single_key
from ..clip import Clip
from ..errors import AuthError, ExpiredResult, InvalidInput, NotFound, ProviderError
from ..job import Call, Job, Observation
from ..policy import Adaptive, PollPolicy
from ..state import State

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
HINTS = {
    401: "Check TYPECAST_API_KEY: it must be a token of Typecast's legacy API (typecast.ai/api). "
    "Keys of the newer api.typecast.ai do not work here, and stray spaces or newlines break it.",
    403: "This key may not use this API. Typecast says: contact their sales team, or use a key "
    "of the legacy (Starter) API.",
    402: "Your Typecast quota is used up: no speech was generated. Add credits or wait for the "
    "quota to renew.",
    429: "Typecast's request limit was reached (per-minute, per-hour or concurrent requests). "
    "Wait a moment, or lower the client's concurrency.",
}


class Typecast(Client):
    """Typecast's legacy speech API.

    Args:
        api_key: the API token; default ``TYPECAST_API_KEY`` (or a ``.env`` file). Without
            one, the embedded simulator is used and a banner says so.
        base_url: default ``TTS_NB_TYPECAST_URL``, else https://typecast.ai.
        policy: how to poll; default `Adaptive` (first look near the expected finish).
        min_interval: the fastest polling allowed; 1 s as Typecast asks.
        max_concurrent: jobs in flight at once (default 2, the Free plan's limit; Lite 5,
            Plus 15); more wait in a queue instead of getting 429 answers.

    Example:
        >>> tc = tn.Typecast()
        >>> job = tc.speak("Hello there", actor_id=tc.actors().actor_id[0])
        >>> job.wait(60).save("hello.wav")
    """

    provider = PROVIDER
    real_url = "https://typecast.ai"
    url_env = "TTS_NB_TYPECAST_URL"
    default_min_interval = 1.0
    default_max_concurrent = 2  # the Free plan's cap (Lite 5, Plus 15): pass max_concurrent=
    default_timeout = 30 * 60.0
    default_policy: PollPolicy = Adaptive()
    duration_prior = (1.0, 0.06)

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        policy: PollPolicy | None = None,
        min_interval: float | None = None,
        **options: Any,
    ) -> None:
        url, key, simulated = resolve_single_key(
            PROVIDER,
            api_key=api_key,
            key_env="TYPECAST_API_KEY",
            base_url=base_url,
            url_env=self.url_env,
            real_url=self.real_url,
        )
        self._key = key
        self._actors: list[dict[str, Any]] | None = None
        super().__init__(
            base_url=url, simulated=simulated, policy=policy, min_interval=min_interval, **options
        )

    # ---------------------------------------------------------------- plumbing
    def _auth_headers(self) -> dict[str, str]:
        if self._key is None:
            raise AuthError(
                "No Typecast API key: pass api_key= or set TYPECAST_API_KEY.", provider=PROVIDER
            )
        return {"Authorization": f"Bearer {self._key.reveal()}"}

    def _secret_values(self) -> Iterable[str]:
        return (self._key.reveal(),) if self._key else ()

    def _describe_error(self, response) -> str | None:
        """Typecast errors are ``{"message": {"msg", "error_code"}}``; add what to do."""
        said = None
        try:
            message = response.json().get("message")
            if isinstance(message, dict):
                said = f"{message.get('msg', '')} ({message.get('error_code', 'no code')})"
            elif isinstance(message, str):
                said = message
        except (ValueError, AttributeError):
            pass
        hint = HINTS.get(response.status_code)
        return " ".join(part for part in (said, hint) if part) or None

    # ------------------------------------------------------------------ public
    def actors(self):
        """The voices this key can use, as a DataFrame (actor_id, name, name_ko)."""
        import pandas as pd

        rows = [
            {"actor_id": a["actor_id"], "name": a["name"]["en"], "name_ko": a["name"]["ko"]}
            for a in self._actor_list()
        ]
        return pd.DataFrame(rows, columns=["actor_id", "name", "name_ko"])

    def speak(
        self,
        text: str,
        actor_id: str,
        lang: str = "auto",
        *,
        policy: PollPolicy | None = None,
        force: bool = False,
        **options: Any,
    ) -> Job:
        """Start speech synthesis; returns a running `Job` at once.

        An identical request that is still running returns that job, and one that succeeded
        before (in this kernel or in the ledger) returns its stored result at once: nothing is
        sent or charged twice. ``force=True`` submits anyway.

        Args:
            text: what to say.
            actor_id: the 24-character id from `actors()` (an actor's name also works).
            lang: ``auto`` or one of en-us, ko-kr, ja-jp, es-es, zh-cn.
            policy: how to poll this job (default: the client's).
            **options: Typecast's body fields: xapi_hd, xapi_audio_format (wav/mp3),
                model_version, emotion_tone_preset, emotion_prompt, emotion_label,
                emotion_scale, volume (50–200), speed_x (0.5–1.5), tempo (0.5–2),
                pitch (−12–12), max_seconds (1–60), last_pitch (−2–2), duration.

        Raises:
            InvalidInput: before any request, naming the field and the fix.
        """
        body = self._body(text, actor_id, lang, options)
        name = self._actor_name(body["actor_id"])
        operation = SpeakOperation(body, voice=f"typecast:{name}")
        request = {
            "text": body["text"],
            "voice": name,
            "actor_id": body["actor_id"],
            "lang": lang,
            **{k: v for k, v in body.items() if k not in ("text", "actor_id", "lang")},
        }
        return self._start(
            operation, policy=policy, request=request, text=body["text"], force=force
        )

    def _rebuild_operation(
        self, kind: str, body: Mapping[str, Any], request: Mapping[str, Any]
    ) -> SpeakOperation:
        """A recorded speak job's protocol half, so `tn.resume()` can poll it again."""
        if kind != SpeakOperation.kind or not isinstance(body, Mapping):
            raise InvalidInput(f"typecast cannot resume a {kind!r} job.", provider=PROVIDER)
        return SpeakOperation(body, voice=f"typecast:{request.get('voice') or body['actor_id']}")

    # ------------------------------------------------------------- validation
    def _body(self, text: str, actor_id: str, lang: str, options: dict) -> dict[str, Any]:
        if not isinstance(text, str) or not text.strip():
            raise InvalidInput("text is empty: give the sentence to speak.", provider=PROVIDER)
        if lang not in LANGS:
            raise InvalidInput(
                f"lang={lang!r} is not supported by Typecast; use one of {', '.join(LANGS)}.",
                provider=PROVIDER,
            )
        body: dict[str, Any] = {"text": text.strip(), "lang": lang, "actor_id": None}
        body["actor_id"] = self._resolve_actor(actor_id)
        for name, value in options.items():
            body[name] = self._option(name, value)
        return body

    def _option(self, name: str, value: Any) -> Any:
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
                raise InvalidInput(
                    "duration must be a positive number of seconds.", provider=PROVIDER
                )
            return value
        if name in TEXT_OPTIONS:
            if not isinstance(value, str) or not value:
                raise InvalidInput(f"{name} must be a non-empty string.", provider=PROVIDER)
            return value
        known = sorted([*RANGES, "xapi_hd", "xapi_audio_format", "duration", *TEXT_OPTIONS])
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else f" Known options: {', '.join(known)}."
        raise InvalidInput(f"Unknown Typecast option {name!r}.{hint}", provider=PROVIDER)

    def _actor_list(self) -> list[dict[str, Any]]:
        if self._actors is None:
            response = self.transport.request("GET", "/api/actor", step="catalogue")
            data = self.transport.json_of(response)
            result = data.get("result") if isinstance(data, dict) else None
            if not isinstance(result, list):
                raise ProviderError(
                    f"typecast: unexpected actor list {str(data)[:200]!r}.", provider=PROVIDER
                )
            self._actors = [
                {"actor_id": str(a.get("actor_id")), "name": _names(a.get("name"))}
                for a in result
                if isinstance(a, dict) and a.get("actor_id")
            ]
        return self._actors

    def _resolve_actor(self, actor_id: str) -> str:
        """A 24-character id passes as is; a name is looked up in the actor list."""
        if not isinstance(actor_id, str) or not actor_id.strip():
            raise InvalidInput(
                "actor_id is missing: pick one from tc.actors() (24 characters).", provider=PROVIDER
            )
        actor_id = actor_id.strip()
        if ACTOR_ID.match(actor_id):
            return actor_id
        by_name = {a["name"]["en"].lower(): a["actor_id"] for a in self._actor_list()}
        if actor_id.lower() in by_name:
            return by_name[actor_id.lower()]
        close = difflib.get_close_matches(actor_id.lower(), list(by_name), n=3)
        hint = f" Close names: {', '.join(close)}." if close else ""
        raise InvalidInput(
            f"actor_id {actor_id!r} is neither a 24-character actor id nor an actor's name."
            f"{hint} See tc.actors().",
            provider=PROVIDER,
        )

    def _actor_name(self, actor_id: str) -> str:
        if self._actors:
            for actor in self._actors:
                if actor["actor_id"] == actor_id:
                    return actor["name"]["en"]
        return actor_id


def _names(name: Any) -> dict[str, str]:
    if isinstance(name, dict):
        return {"en": str(name.get("en") or ""), "ko": str(name.get("ko") or "")}
    return {"en": str(name or ""), "ko": ""}


class SpeakOperation:
    """One ``/api/speak`` job: pure protocol translation (the engine owns time)."""

    provider = PROVIDER
    kind = "speak"

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
            return Observation(
                State.NOT_FOUND,
                raw_status="404",
                message="Typecast no longer knows this speak request (404).",
            )
        result = data.get("result") if isinstance(data, dict) else None
        if not isinstance(result, dict):
            raise ProviderError(
                f"typecast: unexpected status answer {str(data)[:200]!r}.", provider=PROVIDER
            )
        raw = result.get("status")
        raw = raw if isinstance(raw, str) else repr(raw)
        state = STATUS.get(raw)
        audio = result.get("audio_download_url")
        if audio is None and isinstance(result.get("audio"), dict):  # the deprecated answer
            audio = result["audio"].get("url")
        if state is None:
            return Observation(
                State.RUNNING,
                raw_status=raw,
                message=f"unknown Typecast status {raw!r}: treated as still running until "
                "the deadline",
            )
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
        try:
            response = call.request("GET", url, authed=authed)
        except (AuthError, NotFound) as exc:
            raise ExpiredResult(
                f"The Typecast audio link no longer works ({exc.status_code}): links expire 24 "
                "hours after synthesis. Only a new speak() request recovers the audio, and it "
                "costs quota again.",
                provider=PROVIDER,
                status_code=exc.status_code,
            ) from None
        return Clip.from_bytes(
            response.content,
            text=self.body["text"],
            voice=self.voice,
            content_type=response.headers.get("Content-Type"),
            meta={"speak_id": (ids.get("speak_v2_url") or ids["speak_url"]).rsplit("/", 1)[-1]},
        )
