"""Typecast's legacy polling API (https://typecast.ai/api/...), as the seed document shows it.

* ``GET /api/actor`` → ``{"result": [{"actor_id", "name": {"en", "ko"}}]}``
* ``GET /api/actor/{id}/versions`` → ``[{name, aliases, display_name, emotion_tone_presets, …}]``
* ``POST /api/speak`` → ``{"result": {"speak_v2_url", "speak_url"}}``
* ``GET /api/speak/v2/{id}`` → ``{"result": {"_id", "status", "audio_download_url", "text_count",
  "duration"}}`` with status ``started`` → ``progress`` → ``done`` | ``failed``
* ``GET /api/speak/{id}`` (deprecated) → ``{"result": {"status", "audio": {"url", "extension"}}}``,
  the audio under ``/files/speak/{id}`` on the API origin, with auth
* the audio itself on the CDN origin, for 24 simulator hours.

Errors are ``{"message": {"msg", "error_code"}}`` with status 400, 401, 403 or 404; a key of
the current API (api.typecast.ai) gets 403, as keys of the two APIs do not mix. Typecast
documents no character quota status and no concurrency cap for this API (its "request limit
exceeded" error has no documented status), so none is simulated: the 402 and 429 semantics
belong to the current API (`tts_nb.simulator.typecast_v1`).
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass

from . import speech
from .markers import Markers, parse_markers
from .server import HTTPError, Request, Response

LINK_TTL_S = 24 * 3600
LANGS = ("auto", "en-us", "ko-kr", "ja-jp", "es-es", "zh-cn")
RANGES = {
    "volume": (50, 200),
    "speed_x": (0.5, 1.5),
    "tempo": (0.5, 2.0),
    "pitch": (-12, 12),
    "max_seconds": (1, 60),
    "emotion_scale": (0.0, 2.0),
    "last_pitch": (-2, 2),
}


@dataclass(frozen=True)
class Actor:
    name_en: str
    name_ko: str
    language: str  # the actor's native Typecast language code
    variant: str  # espeak-ng voice variant giving each actor its own timbre

    @property
    def actor_id(self) -> str:
        return hashlib.sha1(f"typecast-sim:{self.name_en}".encode()).hexdigest()[:24]


ACTORS = (
    Actor("Olivia", "올리비아", "en-us", "f3"),
    Actor("James", "제임스", "en-us", "m3"),
    Actor("Emma", "엠마", "en-us", "f4"),
    Actor("Noah", "노아", "en-us", "m7"),
    Actor("Minji", "민지", "ko-kr", "f2"),
    Actor("Haruto", "하루토", "ja-jp", "m2"),
    Actor("Lucia", "루시아", "es-es", "f1"),
    Actor("Wei", "웨이", "zh-cn", "m1"),
)


def error(status: int, code: str, msg: str) -> HTTPError:
    return HTTPError(Response.json({"message": {"msg": msg, "error_code": code}}, status))


def detect_language(text: str, fallback: str) -> str:
    """What ``lang: "auto"`` does here: pick the language from the script used."""
    if re.search(r"[\uac00-\ud7af]", text):
        return "ko-kr"
    if re.search(r"[\u3040-\u30ff]", text):
        return "ja-jp"
    if re.search(r"[\u4e00-\u9fff]", text):
        return "zh-cn"
    return fallback


@dataclass
class _Speak:
    id: str
    key: str
    text: str
    actor: Actor
    body: dict
    markers: Markers
    created_at: float
    duration_s: float
    audio_url: str | None = None
    audio: bytes | None = None
    audio_seconds: float | None = None


class TypecastApp:
    name = "typecast"

    def __init__(self, sim) -> None:
        self._sim = sim
        self._speaks: dict[str, _Speak] = {}
        self._lock = threading.Lock()
        self.actors = {actor.actor_id: actor for actor in ACTORS}

    def base_url(self) -> str:
        return self._sim.url(self.name)

    # ------------------------------------------------------------------ routing
    def handle(self, request: Request) -> Response:
        key = self._authenticate(request)
        path, method = request.path.rstrip("/"), request.method
        if method == "GET" and path == "/api/actor":
            return self._actors()
        if method == "GET" and (m := re.fullmatch(r"/api/actor/([^/]+)/versions", path)):
            return self._versions(m.group(1))
        if method == "POST" and path == "/api/speak":
            return self._speak(request, key)
        if method == "GET" and (m := re.fullmatch(r"/api/speak/v2/([0-9a-f]{24})", path)):
            return self._status_v2(self._find(m.group(1), key))
        if method == "GET" and (m := re.fullmatch(r"/api/speak/([0-9a-f]{24})", path)):
            return self._status_v1(self._find(m.group(1), key))
        if method == "GET" and (m := re.fullmatch(r"/files/speak/([0-9a-f]{24})", path)):
            return self._file(self._find(m.group(1), key))
        raise error(404, "app/not-found", f"{method} {path} does not exist.")

    def _authenticate(self, request: Request) -> str:
        header = request.header("Authorization") or ""
        scheme, _, token = header.partition(" ")
        if scheme == "Bearer" and token == self._sim.credentials["typecast_v1_api_key"]:
            raise error(
                403,
                "auth/not-authorized",
                "Your api-key is not allowed to perform this API. It is a key of the current "
                "API (api.typecast.ai); use a key of this legacy API.",
            )
        if scheme != "Bearer" or token != self._sim.credentials["typecast_api_key"]:
            raise error(401, "auth/not-authorized", "Authorization failed. Check your API token.")
        return token

    # ---------------------------------------------------------------- endpoints
    def _actors(self) -> Response:
        return Response.json(
            {
                "result": [
                    {"actor_id": a.actor_id, "name": {"en": a.name_en, "ko": a.name_ko}}
                    for a in ACTORS
                ]
            }
        )

    def _versions(self, actor_id: str) -> Response:
        actor = self.actors.get(actor_id)
        if actor is None:
            raise error(404, "app/not-found/actor", f"Actor {actor_id} does not exist.")
        return Response.json(
            [
                {
                    "name": "v1",
                    "aliases": ["first", "latest"],
                    "display_name": f"{actor.name_en} v1",
                    "emotion_tone_presets": ["normal-1", "happy-1", "sad-1"],
                    "emotion_prompt": False,
                }
            ]
        )

    def _speak(self, request: Request, key: str) -> Response:
        body = request.json(
            Response.json(
                {"message": {"msg": "Body must be JSON.", "error_code": "app/invalid/body"}}, 400
            )
        )
        if not isinstance(body, dict):
            raise error(400, "app/invalid/body", "Body must be a JSON object.")
        text = body.get("text")
        if not isinstance(text, str) or not text.strip():
            raise error(400, "app/param/not-enough/text", "text is required.")
        actor = self.actors.get(body.get("actor_id"))
        if actor is None:
            raise error(400, "app/invalid/actor_id", "actor_id is not a valid actor.")
        lang = body.get("lang", "auto")
        if lang not in LANGS:
            raise error(400, "app/invalid/lang", f"lang must be one of {', '.join(LANGS)}.")
        if body.get("xapi_audio_format", "wav") not in ("wav", "mp3"):
            raise error(400, "app/invalid/xapi_audio_format", "xapi_audio_format: wav or mp3.")
        for field, (low, high) in RANGES.items():
            value = body.get(field)
            if value is not None and (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not low <= value <= high
            ):
                raise error(400, f"app/invalid/{field}", f"{field} must be in {low}..{high}.")
        markers, spoken = parse_markers(text)
        if not spoken:
            raise error(400, "app/param/not-enough/text", "text has nothing to speak.")
        with self._lock:
            speak_id = f"{self._sim.rng.getrandbits(96):024x}"
            duration = self._duration(len(spoken), markers)
            self._speaks[speak_id] = _Speak(
                speak_id, key, spoken, actor, body, markers, self._sim.clock.now(), duration
            )
        base = self.base_url()
        return Response.json(
            {
                "result": {
                    "speak_v2_url": f"{base}/api/speak/v2/{speak_id}",
                    "speak_url": f"{base}/api/speak/{speak_id}",
                }
            }
        )

    def _duration(self, characters: int, markers: Markers) -> float:
        """Seconds the real service might take: grows with the text, with some noise."""
        seconds = (1.0 + 0.06 * characters) * self._sim.rng.lognormvariate(0.0, 0.25)
        return seconds * (30 if markers.slow else 1)

    def _find(self, speak_id: str, key: str) -> _Speak:
        with self._lock:
            speak = self._speaks.get(speak_id)
        if speak is None or speak.key != key:
            raise error(404, "app/not-found/speak", f"Speak {speak_id} does not exist.")
        return speak

    def _status(self, speak: _Speak) -> str:
        elapsed = self._sim.clock.now() - speak.created_at
        if speak.markers.unknown_status:
            return "queued-for-review"
        if elapsed < min(0.5, 0.2 * speak.duration_s):
            return "started"
        if elapsed < speak.duration_s:
            return "progress"
        return "failed" if speak.markers.fail else "done"

    def _status_v2(self, speak: _Speak) -> Response:
        status = self._status(speak)
        if status == "done":
            self._render(speak)
        return Response.json(
            {
                "result": {
                    "_id": speak.id,
                    "status": status,
                    "audio_download_url": speak.audio_url if status == "done" else None,
                    "text_count": len(speak.text),
                    "duration": speak.audio_seconds if status == "done" else None,
                }
            }
        )

    def _status_v1(self, speak: _Speak) -> Response:
        status = self._status(speak)
        audio = None
        if status == "done":
            self._render(speak)
            audio = {
                "url": f"{self.base_url()}/files/speak/{speak.id}",
                "extension": self._ext(speak),
            }
        return Response.json({"result": {"_id": speak.id, "status": status, "audio": audio}})

    def _file(self, speak: _Speak) -> Response:
        if self._status(speak) != "done":
            raise error(404, "app/not-found/audio", "The audio is not ready.")
        self._render(speak)
        return Response(200, speak.audio, {"Content-Type": self._content_type(speak)})

    # -------------------------------------------------------------------- audio
    def _ext(self, speak: _Speak) -> str:
        return speak.body.get("xapi_audio_format", "wav")

    def _content_type(self, speak: _Speak) -> str:
        return "audio/mpeg" if self._ext(speak) == "mp3" else "audio/wav"

    def _render(self, speak: _Speak) -> None:
        """Synthesize once, when the job is first seen done, and publish it on the CDN."""
        with self._lock:
            if speak.audio_url is not None:
                return
            body = speak.body
            lang = body.get("lang", "auto")
            if lang == "auto":
                lang = detect_language(speak.text, speak.actor.language)
            voice = f"{speech.language_voice(lang)}+{speak.actor.variant}"
            rate = 175 / float(body.get("speed_x", 1.0)) * float(body.get("tempo", 1.0))
            result = speech.synthesize(
                speak.text,
                voice,
                rate_wpm=int(min(450, max(80, rate))),
                pitch=int(min(100, max(0, 50 + 4 * float(body.get("pitch", 0))))),
                volume=float(body.get("volume", 100)) / 100,
                sample_rate=44100 if body.get("xapi_hd") else 16000,
                max_seconds=float(body.get("max_seconds", 30)),
            )
            data = speech.encode(result, self._ext(speak))
            if speak.markers.empty_audio:
                data = b""
            elif speak.markers.not_audio:
                data = b'{"error": "internal rendering error"}'
            speak.audio = data
            speak.audio_seconds = round(result.duration_s, 2)
            finished_at = speak.created_at + speak.duration_s  # the link's 24 hours start here
            speak.audio_url = self._sim.cdn.publish(
                data,
                self._content_type(speak),
                f"{speak.id}.{self._ext(speak)}",
                finished_at + LINK_TTL_S - self._sim.clock.now(),
            )
