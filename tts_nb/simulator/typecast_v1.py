"""Typecast's current API (https://api.typecast.ai), as the official SDK typecast-python 0.5.2
and Typecast's API reference show it.

* auth: ``X-API-KEY: <key>``; a missing or wrong key → 401, a key of the legacy API → 403
  (the two APIs' keys do not mix);
* ``POST /v1/text-to-speech`` → the audio bytes themselves, with ``Content-Type`` and
  ``X-Audio-Duration`` (what the SDK reads); the answer comes when synthesis is over;
* ``GET /v2/voices`` (filters ``model``, ``gender``, ``age``, ``use_cases``) → a JSON list of
  ``{voice_id, voice_name, models: [{version, emotions}], gender, age, use_cases}``;
  ``GET /v2/voices/{voice_id}`` → one of them;
* ``GET /v1/users/me/subscription`` → ``{plan, credits: {plan_credits, used_credits},
  limits: {concurrency_limit, custom_voice_slot}}``.

Error statuses are the SDK's (400, 401, 402, 403, 404, 422, 429, 500) with the body shape of
its mock-server fixtures, ``{"error": {"code", "message", "field"?}}``. 402 comes when the
plan's credits run out, 429 when more syntheses of one key are in flight than the plan's
concurrency limit (Free 2, Lite 5, Plus 15); like the SDK, nothing documents a Retry-After,
so none is sent. Each synthesis takes simulated time (scaled by the simulator's speed), so
the concurrency is real. Choices the sources leave open are marked *(simulator choice)*.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass

from . import speech
from .markers import parse_markers
from .server import HTTPError, Request, Response
from .typecast import ACTORS, detect_language

MODELS = ("ssfm-v21", "ssfm-v30")
# typecast-python models/tts.py: 27 languages on ssfm-v21, 10 more on ssfm-v30.
LANGUAGES_V21 = (
    "eng kor spa deu fra ita pol nld rus jpn ell tam tgl fin zho slk ara hrv ukr ind dan swe "
    "msa ces por bul ron"
).split()
LANGUAGES_V30 = LANGUAGES_V21 + "ben hin hun nan nor pan tha tur vie yue".split()
EMOTIONS = {
    "ssfm-v21": ["normal", "happy", "sad", "angry"],
    "ssfm-v30": ["normal", "happy", "sad", "angry", "whisper", "toneup", "tonedown"],
}
GENDERS = ("male", "female")
AGES = ("child", "teenager", "young_adult", "middle_age", "elder")  # the SDK's AgeEnum
USE_CASES = (
    "Announcer Anime Audiobook Conversational Documentary E-learning Rapper Game Tiktok/Reels "
    "News Podcast Voicemail Ads"
).split()
PLAN_LIMITS = {"free": 2, "lite": 5, "plus": 15, "custom": 15}  # concurrency, per the notes
_LEGACY_TO_ISO3 = {"en-us": "eng", "ko-kr": "kor", "ja-jp": "jpn", "es-es": "spa", "zh-cn": "zho"}
_AGE_OF = {"f3": "young_adult", "m3": "middle_age", "f4": "elder", "m7": "young_adult"}
SAMPLE_RATE = 44100  # (simulator choice) the sources do not state v1's sample rate


@dataclass(frozen=True)
class Voice:
    name: str
    gender: str
    age: str
    use_cases: tuple[str, ...]
    language: str  # ISO 639-3, what auto-detection falls back to
    variant: str  # the espeak-ng variant: each voice its own timbre

    @property
    def voice_id(self) -> str:
        return "tc_" + hashlib.sha1(f"typecast-v1-sim:{self.name}".encode()).hexdigest()[:24]

    def as_json(self) -> dict:
        return {
            "voice_id": self.voice_id,
            "voice_name": self.name,
            "models": [{"version": m, "emotions": list(EMOTIONS[m])} for m in MODELS],
            "gender": self.gender,
            "age": self.age,
            "use_cases": list(self.use_cases),
        }


VOICES = tuple(
    Voice(
        actor.name_en,
        "female" if actor.variant.startswith("f") else "male",
        _AGE_OF.get(actor.variant, "young_adult"),
        (USE_CASES[i % len(USE_CASES)], USE_CASES[(i + 3) % len(USE_CASES)]),
        _LEGACY_TO_ISO3[actor.language],
        actor.variant,
    )
    for i, actor in enumerate(ACTORS)
)


def error(status: int, code: str, message: str, field: str | None = None) -> HTTPError:
    body = {"code": code, "message": message, **({"field": field} if field else {})}
    return HTTPError(Response.json({"error": body}, status))


def _number(body: dict, where: str, name: str, low: float, high: float, integer: bool):
    value = body.get(name)
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or (integer and value != int(value))
        or not low <= value <= high
    ):
        kind = "an integer" if integer else "a number"
        raise error(
            422, "validation_error", f"{name} must be {kind} in {low}..{high}", f"{where}.{name}"
        )
    return value


class TypecastV1App:
    name = "typecast_v1"

    def __init__(self, sim) -> None:
        self._sim = sim
        self._lock = threading.Lock()
        self.voices = {voice.voice_id: voice for voice in VOICES}
        self.plan = "free"
        self.plan_credits = 100_000  # (simulator choice) one credit per character spoken
        self.used_credits: dict[str, int] = {}
        self.concurrency_limit: int | None = None  # None: the plan's (PLAN_LIMITS)
        self.in_flight: dict[str, int] = {}
        self.syntheses = 0  # accepted requests, what tests compare with the credits

    def base_url(self) -> str:
        return self._sim.url(self.name)

    def limit(self) -> int:
        return self.concurrency_limit or PLAN_LIMITS[self.plan]

    # ------------------------------------------------------------------ routing
    def handle(self, request: Request) -> Response:
        key = self._authenticate(request)
        path, method = request.path.rstrip("/"), request.method
        if method == "POST" and path == "/v1/text-to-speech":
            return self._text_to_speech(request, key)
        if method == "GET" and path == "/v2/voices":
            return self._voices(request)
        if method == "GET" and path.startswith("/v2/voices/"):
            return self._voice(path.removeprefix("/v2/voices/"))
        if method == "GET" and path == "/v1/users/me/subscription":
            return self._subscription(key)
        raise error(404, "not_found", f"{method} {path} does not exist")

    def _authenticate(self, request: Request) -> str:
        key = request.header("X-API-KEY")
        if key and key == self._sim.credentials["typecast_api_key"]:
            raise error(
                403,
                "forbidden",
                "This API key belongs to Typecast's legacy (Starter) API and cannot use "
                "api.typecast.ai: create a key for the current API.",
            )
        if not key or key != self._sim.credentials["typecast_v1_api_key"]:
            raise error(401, "unauthorized", "Invalid or missing API key")
        return key

    # ---------------------------------------------------------------- catalogue
    def _voices(self, request: Request) -> Response:
        wanted = {
            "model": (request.arg("model"), MODELS),
            "gender": (request.arg("gender"), GENDERS),
            "age": (request.arg("age"), AGES),
            "use_cases": (request.arg("use_cases"), USE_CASES),
        }
        for name, (value, allowed) in wanted.items():
            if value is not None and value not in allowed:
                raise error(422, "validation_error", f"{name} must be one of {allowed}", name)
        model, gender, age, use_case = (value for value, _ in wanted.values())
        voices = [
            v.as_json()
            for v in VOICES
            if (gender is None or v.gender == gender)
            and (age is None or v.age == age)
            and (use_case is None or use_case in v.use_cases)
            and (model is None or model in MODELS)
        ]
        return Response.json(voices)

    def _voice(self, voice_id: str) -> Response:
        voice = self.voices.get(voice_id)
        if voice is None:
            raise error(404, "not_found", f"voice {voice_id} not found", "voice_id")
        return Response.json(voice.as_json())

    def _subscription(self, key: str) -> Response:
        with self._lock:
            used = self.used_credits.get(key, 0)
        return Response.json(
            {
                "plan": self.plan,
                "credits": {"plan_credits": self.plan_credits, "used_credits": used},
                "limits": {"concurrency_limit": self.limit(), "custom_voice_slot": 0},
            }
        )

    # ------------------------------------------------------------------ synthesis
    def _text_to_speech(self, request: Request, key: str) -> Response:
        body = request.json(
            Response.json({"error": {"code": "bad_request", "message": "invalid JSON"}}, 400)
        )
        if not isinstance(body, dict):
            raise error(400, "bad_request", "the body must be a JSON object")
        voice, text, model, language = self._validate(body)
        markers, spoken = parse_markers(text)
        if not spoken:
            raise error(422, "validation_error", "text has nothing to speak", "text")
        with self._lock:
            if self.used_credits.get(key, 0) + len(spoken) > self.plan_credits:
                raise error(
                    402,
                    "payment_required",
                    "Insufficient credits: upgrade your plan or wait for the credits to renew",
                )
            if self.in_flight.get(key, 0) >= self.limit():
                raise error(
                    429,
                    "rate_limited",
                    f"Too many concurrent requests: your plan allows {self.limit()}",
                )
            self.in_flight[key] = self.in_flight.get(key, 0) + 1
            self.syntheses += 1
        try:
            started = time.monotonic()
            audio, seconds, content_type = self._render(body, voice, spoken, model, language)
            busy = (0.3 + 0.02 * len(spoken)) * (30 if markers.slow else 1)
            remaining = busy / self._sim.clock.speed - (time.monotonic() - started)
            if remaining > 0:  # the synthesis occupies its concurrency slot this long
                time.sleep(remaining)
            if markers.fail:
                raise error(500, "internal_error", "synthesis failed")
            with self._lock:  # charged once the audio exists (a failed synthesis costs none)
                self.used_credits[key] = self.used_credits.get(key, 0) + len(spoken)
        finally:
            with self._lock:
                self.in_flight[key] -= 1
        if markers.empty_audio:
            audio = b""
        elif markers.not_audio:
            audio = b'{"error": "internal rendering error"}'
        return Response(
            200, audio, {"Content-Type": content_type, "X-Audio-Duration": f"{seconds:.3f}"}
        )

    def _validate(self, body: dict) -> tuple[Voice, str, str, str | None]:
        for name in ("voice_id", "text", "model"):
            if body.get(name) is None:
                raise error(422, "validation_error", f"{name} is required", name)
        text, model = body["text"], body["model"]
        if not isinstance(text, str) or not 1 <= len(text) <= 2000:
            raise error(422, "validation_error", "text must have 1..2000 characters", "text")
        if model not in MODELS:
            raise error(422, "validation_error", f"model must be one of {MODELS}", "model")
        language = body.get("language")
        if language is not None:
            allowed = LANGUAGES_V30 if model == "ssfm-v30" else LANGUAGES_V21
            if not isinstance(language, str) or language.lower() not in allowed:
                raise error(
                    422,
                    "validation_error",
                    f"language {language!r} is not supported by {model}",
                    "language",
                )
            language = language.lower()
        self._validate_prompt(body.get("prompt"), model)
        self._validate_output(body.get("output"))
        voice = self.voices.get(body["voice_id"])
        if voice is None:
            raise error(404, "not_found", f"voice {body['voice_id']} not found", "voice_id")
        return voice, text, model, language

    def _validate_prompt(self, prompt, model: str) -> None:
        if prompt is None:
            return
        if not isinstance(prompt, dict):
            raise error(422, "validation_error", "prompt must be an object", "prompt")
        kind = prompt.get("emotion_type")
        if kind not in (None, "preset", "smart") or (kind and model != "ssfm-v30"):
            raise error(
                422,
                "validation_error",
                "emotion_type must be 'preset' or 'smart', and only with ssfm-v30",
                "prompt.emotion_type",
            )
        if kind == "smart":
            for name in ("previous_text", "next_text"):
                value = prompt.get(name)
                if value is not None and (not isinstance(value, str) or len(value) > 2000):
                    raise error(
                        422,
                        "validation_error",
                        f"{name}: at most 2000 characters",
                        f"prompt.{name}",
                    )
            return
        preset = prompt.get("emotion_preset")
        if preset is not None and preset not in EMOTIONS[model]:
            raise error(
                422,
                "validation_error",
                f"emotion_preset must be one of {EMOTIONS[model]} for {model}",
                "prompt.emotion_preset",
            )
        _number(prompt, "prompt", "emotion_intensity", 0.0, 2.0, False)

    def _validate_output(self, output) -> None:
        if output is None:
            return
        if not isinstance(output, dict):
            raise error(422, "validation_error", "output must be an object", "output")
        if output.get("volume") is not None and output.get("target_lufs") is not None:
            raise error(
                422,
                "validation_error",
                "volume and target_lufs cannot be used together",
                "output.volume",
            )
        _number(output, "output", "volume", 0, 200, True)
        _number(output, "output", "target_lufs", -70.0, 0.0, False)
        _number(output, "output", "audio_pitch", -12, 12, True)
        _number(output, "output", "audio_tempo", 0.5, 2.0, False)
        _number(output, "output", "remove_silence_ms", 0, 1000, True)
        if output.get("audio_format", "wav") not in ("wav", "mp3"):
            raise error(
                422, "validation_error", "audio_format must be wav or mp3", "output.audio_format"
            )

    def _render(
        self, body: dict, voice: Voice, text: str, model: str, language: str | None
    ) -> tuple[bytes, float, str]:
        """Real speech from espeak-ng, shaped by the output settings the body asks for."""
        output = body.get("output") or {}
        if language is None:  # auto-detected, as the API does when language is omitted
            language = _LEGACY_TO_ISO3.get(detect_language(text, ""), voice.language)
        spoken_by = f"{speech.language_voice(language) or 'en-us'}+{voice.variant}"
        volume = output.get("volume")
        gain = 1.0 if volume is None else volume / 100
        if output.get("target_lufs") is not None:  # (simulator choice) a gain, not a meter
            gain = 10 ** ((output["target_lufs"] + 14) / 20)
        result = speech.synthesize(
            text,
            spoken_by,
            rate_wpm=int(175 * float(output.get("audio_tempo", 1.0))),
            pitch=int(50 + 4 * output.get("audio_pitch", 0)),
            volume=gain,
            sample_rate=SAMPLE_RATE,
        )
        fmt = output.get("audio_format", "wav")
        content_type = "audio/mpeg" if fmt == "mp3" else "audio/wav"
        return speech.encode(result, fmt), round(result.duration_s, 3), content_type
