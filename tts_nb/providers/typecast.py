"""Typecast: one client, `tn.Typecast`, for both of Typecast's APIs.

* **v1**, the current API (``https://api.typecast.ai``, ``X-API-KEY``): synchronous
  ``POST /v1/text-to-speech``; its protocol lives in `tts_nb.providers.typecast_v1`.
* **legacy**, the seed's polling API (``https://typecast.ai/api``, Bearer token); its protocol
  lives in `tts_nb.providers.typecast_legacy`.

Keys of the two APIs do not mix (the other API answers 403), so the client finds out once per
key which API it belongs to (`tts_nb.providers.typecast_detect`), with a free request, unless
``api=`` says so. This module holds what the two share: the key, the arguments of `speak` and
their translation between the APIs, and voice lookup by name.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any

from ..adapters import TYPECAST as TYPECAST_ADAPTER
from ..adapters import TYPECAST_V1 as TYPECAST_V1_ADAPTER
from ..errors import InvalidInput
from ..job import Job
from ..policy import Adaptive, PollPolicy
from . import typecast_legacy as legacy
from . import typecast_v1 as v1
from ._single_key import SingleKeyClient
from .typecast_detect import (
    APIS,
    KEY_ENV,
    LEGACY_URL,
    LEGACY_URL_ENV,
    PROVIDER,
    api_endpoint,
    choose_api,
    detect_api,
    known_api,
)
from .typecast_legacy import LANGS, RANGES, SpeakOperation

__all__ = [
    "APIS",
    "KEY_ENV",
    "LANGS",
    "RANGES",
    "SpeakOperation",
    "Typecast",
    "api_endpoint",
    "detect_api",
    "known_api",
]

VOICE_ID = re.compile(r"^(tc|uc)_[0-9a-z]+$")
V1_MAX_CONCURRENT = 2  # the Free plan's limit (Lite 5, Plus 15); account() tells the real one
V1_MIN_INTERVAL = 0.5  # the shortest wait before a request refused with 429 is sent again
V1_TIMEOUT = 5 * 60.0  # a job's deadline: it bounds the waits for a free concurrency slot
V1_HTTP_TIMEOUT = (10.0, 300.0)  # as the SDK's long requests: synthesis happens in the answer
# v1 keyword arguments of speak(), and what the legacy API calls them.
V1_ONLY = {
    "voice_id": "actor_id",
    "model": "model_version",
    "language": "lang",
    "emotion_type": "emotion_tone_preset",
    "emotion_preset": "emotion_tone_preset / emotion_label",
    "emotion_intensity": "emotion_scale",
    "previous_text": None,
    "next_text": None,
    "target_lufs": None,
    "audio_pitch": "pitch",
    "audio_tempo": "tempo",
    "audio_format": "xapi_audio_format",
    "remove_silence_ms": None,
}
LEGACY_TO_V1 = {v: k for k, v in V1_ONLY.items() if v and "/" not in v} | {
    "emotion_label": "emotion_preset",
    "emotion_scale": "emotion_intensity",
    "xapi_hd": None,
    "speed_x": "audio_tempo",
}


class Typecast(SingleKeyClient):
    """Typecast's speech APIs: the current one (v1) and the legacy polling one.

    Args:
        api_key: the API key; default ``TYPECAST_API_KEY`` (or a ``.env`` file). Without one,
            the embedded simulator is used and a banner says so.
        base_url: default ``TTS_NB_TYPECAST_V1_URL`` (v1, else https://api.typecast.ai) or
            ``TTS_NB_TYPECAST_URL`` (legacy, else https://typecast.ai).
        policy: how to poll legacy jobs; default `Adaptive` (first look near the expected end).
        min_interval: legacy: the fastest polling allowed (1 s, as Typecast asks); v1: the
            shortest wait before a request refused for the concurrency limit is sent again.
        api: ``"v1"`` or ``"legacy"``; default: the key's own API, found out once per key with
            a free request (``tc.api`` tells). Without a key: v1, as a new user has.
        max_concurrent: jobs in flight at once; more wait in a queue. v1: 2 (the Free plan's
            limit) until `account()` tells the plan's; legacy: 5 (it publishes no cap).

    Example:
        >>> tc = tn.Typecast()
        >>> job = tc.speak("Hello there", voice_id=tc.voices().voice_id[0])
        >>> job.wait(60).save("hello.wav")
    """

    provider = PROVIDER
    label = "Typecast"
    key_variables = (KEY_ENV,)
    real_url = LEGACY_URL
    url_env = LEGACY_URL_ENV
    v1_real_url = v1.REAL_URL
    v1_url_env = v1.URL_ENV
    # legacy API: a Bearer token; v1 (api.typecast.ai): the same variable, as X-API-KEY
    secret_headers = {"authorization": "Bearer $TYPECAST_API_KEY", "x-api-key": "$TYPECAST_API_KEY"}
    adapter = TYPECAST_ADAPTER  # a v1 client has TYPECAST_V1_ADAPTER
    key_header = "Authorization"  # legacy; v1 sends X-API-KEY
    key_prefix = "Bearer "
    default_min_interval = 1.0
    default_timeout = 30 * 60.0
    default_policy: PollPolicy = Adaptive()
    duration_prior = (1.0, 0.06)

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        policy: PollPolicy | None = None,
        min_interval: float | None = None,
        *,
        api: str | None = None,
        **options: Any,
    ) -> None:
        self.api, base_url = choose_api(api, api_key, base_url)
        if self.api == "v1":
            self.key_header, self.key_prefix = "X-API-KEY", ""
            self.adapter = TYPECAST_V1_ADAPTER
            self.default_timeout = V1_TIMEOUT
            self._limit_from_user = options.get("max_concurrent") is not None
            options.setdefault("max_concurrent", V1_MAX_CONCURRENT)
            options.setdefault("http_timeout", V1_HTTP_TIMEOUT)
            self.default_min_interval = V1_MIN_INTERVAL  # a default: scaled on the simulator
        self._actors: list[dict[str, Any]] | None = None
        self._voices: list[dict[str, Any]] | None = None
        super().__init__(api_key, base_url, policy, min_interval, **options)
        if self.api == "v1":  # the audio is the answer: give a long synthesis time to arrive
            self.transport.download_timeout = max(self.transport.download_timeout, 300.0)

    def _key_endpoint(self) -> tuple[str, str, str]:
        if self.api == "v1":
            return "typecast_v1", self.v1_url_env, self.v1_real_url
        return super()._key_endpoint()

    @classmethod
    def endpoint_setting(cls) -> tuple[str, str]:
        """v1's: a client made with no arguments and no key uses v1, a new user's API."""
        return cls.v1_url_env, cls.v1_real_url

    # ---------------------------------------------------------------- plumbing
    def _describe_error(self, response) -> str | None:
        if self.api == "v1":
            return v1.describe_error(response)
        return legacy.describe_error(response)

    def _wrong_api(self, call: str, right: str) -> InvalidInput:
        other = "legacy" if self.api == "v1" else "v1"
        return InvalidInput(
            f"{call} belongs to Typecast's {other} API, and this client uses the {self.api} "
            f"API (tc.api == {self.api!r}, from the key). Call {right} instead. (A key of the "
            f"{other} API needs tn.Typecast(api={other!r}) and that API's key.)",
            provider=PROVIDER,
        )

    def __repr__(self) -> str:
        where = "simulator" if self.simulated else self.base_url
        return f"<Typecast {self.api} {where}>"

    # ------------------------------------------------------------------ public
    def actors(self):
        """Legacy API: the voices this key can use, as a DataFrame (actor_id, name, name_ko)."""
        import pandas as pd

        if self.api == "v1":
            raise self._wrong_api("actors()", "tc.voices()")
        rows = [
            {"actor_id": a["actor_id"], "name": a["name"]["en"], "name_ko": a["name"]["ko"]}
            for a in self._actor_list()
        ]
        return pd.DataFrame(rows, columns=["actor_id", "name", "name_ko"])

    def voices(
        self,
        *,
        model: str | None = None,
        gender: str | None = None,
        age: str | None = None,
        use_cases: str | None = None,
    ):
        """v1: the voices, as a DataFrame (voice_id, name, gender, age, use_cases, models,
        emotions: model → its emotion presets), optionally filtered as ``GET /v2/voices`` is:
        model (ssfm-v30, ssfm-v21), gender (male, female), age (child, teenager, young_adult,
        middle_age, elder), use_cases (e.g. Audiobook, News, Podcast)."""
        if self.api == "legacy":
            raise self._wrong_api("voices()", "tc.actors()")
        params = v1.voice_filters(model, gender, age, use_cases)
        if not params:
            return v1.voices_frame(self._voice_list())
        response = self.transport.request("GET", "/v2/voices", step="catalogue", params=params)
        return v1.voices_frame(self.transport.json_of(response))

    def account(self) -> v1.Account:
        """v1: the plan, its credits (total, used, left) and how many requests may run at once.

        Unless you passed ``max_concurrent=``, the client's queue adopts the plan's limit.
        """
        if self.api == "legacy":
            raise InvalidInput(
                "account() reads api.typecast.ai's subscription (v1), and this client uses "
                "Typecast's legacy API, which has no such endpoint: see your usage on "
                "typecast.ai. (For a v1 key: tn.Typecast(api='v1').)",
                provider=PROVIDER,
            )
        response = self.transport.request("GET", v1.SUBSCRIPTION_PATH, step="account")
        account = v1.Account.from_json(self.transport.json_of(response))
        if not self._limit_from_user and account.concurrency_limit >= 1:
            self.max_concurrent = account.concurrency_limit
            self.gate.set_limit(account.concurrency_limit)
        return account

    def speak(
        self,
        text: str,
        voice: str | None = None,
        lang: str | None = None,
        *,
        voice_id: str | None = None,
        actor_id: str | None = None,
        model: str | None = None,
        language: str | None = None,
        emotion_type: str | None = None,
        emotion_preset: str | None = None,
        emotion_intensity: float | None = None,
        previous_text: str | None = None,
        next_text: str | None = None,
        volume: float | None = None,
        target_lufs: float | None = None,
        audio_pitch: int | None = None,
        audio_tempo: float | None = None,
        audio_format: str | None = None,
        remove_silence_ms: int | None = None,
        seed: int | None = None,
        policy: PollPolicy | None = None,
        force: bool = False,
        **options: Any,
    ) -> Job:
        """Start speech synthesis; returns a `Job` at once.

        The second argument, `voice`, is this client's voice whichever API the key belongs
        to: a v1 voice_id (or name) from `voices()`, or a legacy actor_id (or name) from
        `actors()`. So ``tc.speak(text, voice)`` works for either key; the keywords
        ``voice_id=`` (v1) and ``actor_id=`` (legacy) say which API is meant, and the other
        API's keyword is refused with the call to make instead.

        v1 (``tc.api == "v1"``): ``speak(text, voice_id=…, model="ssfm-v30", language=None,
        emotion_type/emotion_preset/emotion_intensity or previous_text/next_text,
        volume or target_lufs, audio_pitch, audio_tempo, audio_format, remove_silence_ms)``.
        The answer is the audio, so the job ends with its one exchange.

        legacy: ``speak(text, actor_id=…, lang="auto", **options)`` with Typecast's legacy body
        fields as options: xapi_hd, xapi_audio_format (wav/mp3), model_version,
        emotion_tone_preset, emotion_prompt, emotion_label, emotion_scale, volume (50–200),
        speed_x (0.5–1.5), tempo (0.5–2), pitch (−12–12), max_seconds (1–60), last_pitch
        (−2–2), duration.

        An identical request that is still running returns that job, and one that succeeded
        before (in this kernel or in the ledger) returns its stored result at once: nothing is
        sent or charged twice. ``force=True`` submits anyway. A voice's or actor's name works
        in place of its id.

        Raises:
            InvalidInput: before any request, naming the field and the fix (also for the other
                API's arguments, naming this API's).
        """
        keyword = voice_id if self.api == "v1" else actor_id
        if voice is not None and keyword is not None:
            name = "voice_id" if self.api == "v1" else "actor_id"
            raise InvalidInput(
                f"The voice is given twice ({voice!r} and {name}={keyword!r}): give it once.",
                provider=PROVIDER,
            )
        if self.api == "v1" and voice is not None:
            voice_id = voice
        elif voice is not None:
            actor_id = voice
        given_v1 = {
            name: value
            for name, value in dict(
                voice_id=voice_id,
                model=model,
                language=language,
                emotion_type=emotion_type,
                emotion_preset=emotion_preset,
                emotion_intensity=emotion_intensity,
                previous_text=previous_text,
                next_text=next_text,
                target_lufs=target_lufs,
                audio_pitch=audio_pitch,
                audio_tempo=audio_tempo,
                audio_format=audio_format,
                remove_silence_ms=remove_silence_ms,
            ).items()
            if value is not None
        }
        if seed is not None:
            # The API notes list `seed`, but typecast-python 0.5.2 marks it "Ignored; seed is
            # no longer supported" and never sends it: we follow the SDK and say so.
            raise InvalidInput(
                "seed is no longer supported by Typecast (its SDK drops it from requests): "
                "remove seed=.",
                provider=PROVIDER,
            )
        if self.api == "legacy":
            if given_v1:
                name = next(iter(given_v1))
                legacy = V1_ONLY[name]
                fix = f"use {legacy}= instead" if legacy else "the legacy API has no such field"
                raise self._wrong_api(f"speak({name}=…)", f"speak(text, actor_id=…): {fix}")
            if volume is not None:
                options["volume"] = volume
            return self._speak_legacy(text, actor_id, lang or "auto", policy, force, options)
        if actor_id is not None:
            raise self._wrong_api(
                "speak(actor_id=…)", "tc.speak(text, voice_id=…) (see tc.voices())"
            )
        if lang is not None:
            raise self._wrong_api("speak(lang=…)", "speak(…, language='eng') (ISO 639-3)")
        if options:
            name = next(iter(options))
            right = LEGACY_TO_V1.get(name)
            fix = f" Did you mean {right}=?" if right else ""
            known = ", ".join(["voice_id", "volume", *list(V1_ONLY)[1:]])
            raise InvalidInput(
                f"Unknown Typecast v1 option {name!r}.{fix} v1 takes: {known}.", provider=PROVIDER
            )
        given_v1.pop("voice_id", None)
        output = {
            k: given_v1.pop(k)
            for k in (
                "target_lufs",
                "audio_pitch",
                "audio_tempo",
                "audio_format",
                "remove_silence_ms",
            )
            if k in given_v1
        }
        if volume is not None:
            output["volume"] = volume
        return self._speak_v1(text, voice_id, given_v1, output, policy, force)

    def _speak_v1(self, text, voice_id, prompt_args, output, policy, force) -> Job:
        # Validate everything local first: a bad field costs no catalogue request either.
        body = v1.tts_body(text, "", output=output, **prompt_args)
        body["voice_id"] = self._resolve_voice(voice_id)
        name = self._voice_name(body["voice_id"])
        operation = v1.TextToSpeechOperation(body, voice=f"typecast:{name}")
        request = {
            "text": body["text"],
            "voice": name,
            **{k: v for k, v in body.items() if k != "text"},
        }
        return self._start(
            operation, policy=policy, request=request, text=body["text"], force=force
        )

    def _speak_legacy(self, text, actor_id, lang, policy, force, options) -> Job:
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
        if kind == v1.TextToSpeechOperation.kind:
            # Nothing to poll: a v1 answer is the audio. The ledger already holds the result
            # of one that arrived (tn.resume returns it), and one without an answer is closed
            # as unconfirmed, never re-sent.
            raise InvalidInput(
                "A Typecast v1 job has nothing to poll: its audio came with the answer. "
                "tn.resume(job_id) returns it when it arrived; when it did not, the request "
                "may have been charged: run it again with force=True to submit deliberately.",
                provider=PROVIDER,
            )
        if kind != SpeakOperation.kind or not isinstance(body, Mapping):
            raise InvalidInput(f"typecast cannot resume a {kind!r} job.", provider=PROVIDER)
        return SpeakOperation(body, voice=f"typecast:{request.get('voice') or body['actor_id']}")

    # ----------------------------------------------------------- v1 voices
    def _voice_list(self) -> list[dict[str, Any]]:
        if self._voices is None:
            response = self.transport.request("GET", "/v2/voices", step="catalogue")
            data = self.transport.json_of(response)
            v1.voices_frame(data)  # raises on an answer that is not a voice list
            self._voices = [v for v in data if isinstance(v, dict) and v.get("voice_id")]
        return self._voices

    def _resolve_voice(self, voice_id: str | None) -> str:
        """A ``tc_…``/``uc_…`` id passes as is; a voice's name is looked up in `voices()`."""
        if not isinstance(voice_id, str) or not voice_id.strip():
            raise InvalidInput(
                "voice_id is missing: pick one from tc.voices() (ids look like 'tc_…').",
                provider=PROVIDER,
            )
        voice_id = voice_id.strip()
        if VOICE_ID.match(voice_id):
            return voice_id
        by_name = {str(v.get("voice_name", "")).lower(): v["voice_id"] for v in self._voice_list()}
        return _by_name(
            voice_id,
            by_name,
            f"voice_id {voice_id!r} is neither a voice id ('tc_…' or 'uc_…', lowercase) nor a "
            "voice's name.",
            "See tc.voices().",
        )

    def _voice_name(self, voice_id: str) -> str:
        for voice in self._voices or ():
            if voice["voice_id"] == voice_id:
                return str(voice.get("voice_name") or voice_id)
        return voice_id

    # ----------------------------------------------------- legacy validation
    def _body(self, text: str, actor_id: str, lang: str, options: dict) -> dict[str, Any]:
        body = legacy.check_text_and_lang(text, lang)
        body["actor_id"] = self._resolve_actor(actor_id)
        for name, value in options.items():
            body[name] = legacy.option(name, value)
        return body

    def _actor_list(self) -> list[dict[str, Any]]:
        if self._actors is None:
            response = self.transport.request("GET", "/api/actor", step="catalogue")
            self._actors = legacy.actor_list(self.transport.json_of(response))
        return self._actors

    def _resolve_actor(self, actor_id: str) -> str:
        """A 24-character id passes as is; a name is looked up in the actor list."""
        if not isinstance(actor_id, str) or not actor_id.strip():
            raise InvalidInput(
                "actor_id is missing: pick one from tc.actors() (24 characters).", provider=PROVIDER
            )
        actor_id = actor_id.strip()
        if legacy.ACTOR_ID.match(actor_id):
            return actor_id
        by_name = {a["name"]["en"].lower(): a["actor_id"] for a in self._actor_list()}
        return _by_name(
            actor_id,
            by_name,
            f"actor_id {actor_id!r} is neither a 24-character actor id nor an actor's name.",
            "See tc.actors().",
        )

    def _actor_name(self, actor_id: str) -> str:
        if self._actors:
            for actor in self._actors:
                if actor["actor_id"] == actor_id:
                    return actor["name"]["en"]
        return actor_id


def _by_name(given: str, by_name: Mapping[str, str], problem: str, fix: str) -> str:
    """The id whose (lower-cased) name is `given`, or an error naming the closest names."""
    if given.lower() in by_name:
        return by_name[given.lower()]
    close = difflib.get_close_matches(given.lower(), list(by_name), n=3)
    hint = f" Close names: {', '.join(close)}." if close else ""
    raise InvalidInput(f"{problem}{hint} {fix}", provider=PROVIDER)
