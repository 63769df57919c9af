"""CAMB.AI's task API (https://client.camb.ai/apis/...), with the shapes of CAMB's documents.

Every path lives under ``/apis`` and needs the ``x-api-key`` header:

* ``GET /list-voices`` → ``[{id, voice_name, gender, age, language, description, signed_url}]``
* ``GET /source-languages``, ``GET /target-languages`` → ``[{id, language, short_name}]``
  (CAMB's own integer ids, e.g. 1 = English (United States))
* ``POST /tts`` ``{text, voice_id, language}`` → ``{"task_id"}``; ``GET /tts/{task_id}`` →
  ``{"status", "run_id"}``; ``GET /tts-result/{run_id}`` → the audio (FLAC by default;
  ``?output_type=file_url`` → ``{"output_url"}``)
* ``POST /translated-tts`` ``{text, voice_id, source_language, target_language}``; poll
  ``GET /translated-tts/{task_id}``; the audio at ``/tts-result/{run_id}`` and the text at
  ``GET /translation-result/{run_id}`` → ``{"texts": [...]}``
* ``POST /text-to-voice`` ``{text, voice_description}``; poll ``GET /text-to-voice/{task_id}``;
  ``GET /text-to-voice-result/{run_id}`` → ``{"previews": [url, url]}``, two preview voices on the
  CDN origin (no key there). A preview is not a voice: as on CAMB, it joins ``/list-voices``
  only once it is kept with ``POST /create-custom-voice`` (see `camb_stream`).
* ``POST /tts-stream``: the current speech endpoint, audio streamed at once (see `camb_stream`).

Statuses: ``PENDING`` until the task's duration has passed (typically 2–5 simulator minutes,
growing with the text, with noise; divided by the simulator's speed), then ``SUCCESS`` with an
integer ``run_id``. Markers in the text (see `markers`) reach the rest: ``[[sim:fail]]`` →
``ERROR`` (with ``message`` and ``exception_reason``), ``[[sim:timeout]]`` → ``TIMEOUT``,
``[[sim:payment-required]]`` → ``PAYMENT_REQUIRED``, ``[[sim:unknown-status]]`` → ``QUEUED``
forever. A key's credits (``sim.camb.credits``, one per character; None = unlimited) running
out also ends new tasks in ``PAYMENT_REQUIRED``. A text-to-voice description shorter than
CAMB's documented minimum (18 words, 100 characters) is accepted and then ends in ``ERROR``.

Results are kept 24 simulator hours after the task finished; then the result endpoints answer
404 (and preview links 403, as expired signed URLs do). ``sim.camb.redirect_results = True``
makes ``/tts-result`` answer with a 302 to the CDN instead of the bytes, as storage-backed
services do (tests use it to prove the key never follows a redirect to another origin).
``sim.camb.result_format`` switches the audio between "flac" (documented today) and "wav"
(what an older version of the same page said).

**Translation is fake and says so**: the simulator translates word by word from a tiny English
glossary (see `GLOSSARY`) for Spanish, French, German, Italian and Portuguese targets, keeping
every word it does not know; other targets get the text unchanged. The audio is nevertheless
real espeak-ng speech of exactly that text, in the target language.

``sim.camb.denied`` holds endpoint paths (e.g. ``{"/tts-stream"}``) this key may not use: they
answer 403 ``{"error", "status": 403}``, as CAMB's authentication page documents for a key without
permission (the body is the 401's shape; CAMB shows no 403 example).

Errors follow CAMB's two shapes: FastAPI validation ``{"detail": [{"type", "loc", "msg",
"input"}]}`` with 422 (including the classic one: a task id where the integer ``run_id``
belongs), ``{"detail": "..."}`` for 404, and ``{"error": "Invalid API key", "status": 401}``.
"""

from __future__ import annotations

import hashlib
import re
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from . import speech
from .camb_catalogue import (
    BY_ID,
    GENDER_FEMALE,
    LANGUAGES,
    VOICES,
    Voice,
    translate,
    voice_description_problem,
)

# `X as X`: re-exported from here, where they used to live
from .camb_catalogue import GENDER_MALE as GENDER_MALE
from .camb_catalogue import GLOSSARY as GLOSSARY
from .camb_catalogue import MIN_DESCRIPTION_CHARS as MIN_DESCRIPTION_CHARS
from .camb_catalogue import MIN_DESCRIPTION_WORDS as MIN_DESCRIPTION_WORDS
from .camb_catalogue import WORD as WORD
from .camb_catalogue import Language as Language
from .camb_stream import custom_voice_fields, stream_tts
from .markers import Markers, parse_markers
from .server import HTTPError, Request, Response

RESULT_TTL_S = 24 * 3600
PREFIX = "/apis"
KINDS = ("tts", "translated-tts", "text-to-voice")


# ---------------------------------------------------------------------------- error shapes
def validation_error(loc: list, msg: str, kind: str, given: Any = None) -> HTTPError:
    """FastAPI's 422: ``{"detail": [{"type", "loc", "msg", "input"}]}``."""
    item = {"type": kind, "loc": loc, "msg": msg, "input": given}
    return HTTPError(Response.json({"detail": [item]}, 422))


def not_found(detail: str) -> HTTPError:
    return HTTPError(Response.json({"detail": detail}, 404))


@dataclass
class _Task:
    id: str
    kind: str
    key: str
    text: str  # what gets spoken (markers removed)
    body: dict
    markers: Markers
    created_at: float
    duration_s: float
    run_id: int
    unpaid: bool  # the key had too few credits when the task was created
    problem: str | None = None  # why the task ends in ERROR although no marker asked for it


@dataclass
class _Run:
    task: _Task
    expires_at: float
    audio: bytes | None = None
    previews: list[str] = field(default_factory=list)


class CambApp:
    """The simulated CAMB.AI API. Attributes tests and notebooks may change:

    Attributes:
        credits: characters each key may still have synthesized (None = unlimited).
        redirect_results: answer ``/tts-result`` with a 302 to the CDN.
        denied: endpoint paths (``"/tts-stream"``) the key has no permission for: 403.
        result_format: "flac" (default, as documented) or "wav".
        preview_count: how many previews a text-to-voice task produces.
    """

    name = "camb"

    def __init__(self, sim) -> None:
        self._sim = sim
        self._lock = threading.Lock()
        self._tasks: dict[tuple[str, str], _Task] = {}
        self._runs: dict[int, _Run] = {}
        self._designed: dict[str, list[Voice]] = {}  # kept with /create-custom-voice
        self._preview_variants: dict[str, str] = {}  # sha256 of a preview's audio → its timbre
        self._next_run = 1000 + sim.rng.randrange(9000)
        self._next_voice = 500000 + sim.rng.randrange(100000)
        self.credits: int | None = None
        self.used_credits: dict[str, int] = {}
        self.redirect_results = False
        self.result_format = "flac"
        self.preview_count = 2
        self.denied: set[str] = set()

    def base_url(self) -> str:
        return self._sim.url(self.name) + PREFIX

    # ------------------------------------------------------------------ routing
    def handle(self, request: Request) -> Response:
        if not request.path.startswith(PREFIX + "/"):
            raise not_found("Not Found")
        key = self._authenticate(request)
        path, method = request.path[len(PREFIX) :].rstrip("/"), request.method
        if path in self.denied:
            message = f"This API key has no permission to use {path}."
            raise HTTPError(Response.json({"error": message, "status": 403}, 403))
        if method == "GET" and path == "/list-voices":
            return Response.json([v.public() for v in self.voices_of(key)])
        if method == "POST" and path == "/tts-stream":
            return stream_tts(self, request, key)
        if method == "POST" and path == "/create-custom-voice":
            return self._keep_voice(request, key)
        if method == "GET" and path in ("/source-languages", "/target-languages"):
            source = path == "/source-languages"
            return Response.json(
                [
                    {"id": lang.id, "language": lang.language, "short_name": lang.short_name}
                    for lang in LANGUAGES
                    if lang.source or not source
                ]
            )
        if method == "POST" and path[1:] in KINDS:
            return self._create(path[1:], request, key)
        if method == "GET" and (
            m := re.fullmatch(r"/(tts|translated-tts|text-to-voice)/([^/]+)", path)
        ):
            return self._status(self._task(m.group(1), m.group(2), key))
        if method == "GET" and (m := re.fullmatch(r"/tts-result/([^/]+)", path)):
            return self._tts_result(self._run(m.group(1), key, ("tts", "translated-tts")), request)
        if method == "GET" and (m := re.fullmatch(r"/translation-result/([^/]+)", path)):
            run = self._run(m.group(1), key, ("translated-tts",))
            target = BY_ID[run.task.body["target_language"]]
            return Response.json({"texts": [translate(run.task.text, target.short_name)]})
        if method == "GET" and (m := re.fullmatch(r"/text-to-voice-result/([^/]+)", path)):
            return self._previews(self._run(m.group(1), key, ("text-to-voice",)))
        raise not_found("Not Found")

    def _authenticate(self, request: Request) -> str:
        key = request.header("x-api-key")
        if key != self._sim.credentials["camb_api_key"]:
            raise HTTPError(Response.json({"error": "Invalid API key", "status": 401}, 401))
        return key

    def voices_of(self, key: str) -> list[Voice]:
        with self._lock:
            return [*VOICES, *self._designed.get(key, [])]

    def _keep_voice(self, request: Request, key: str) -> Response:
        """``/create-custom-voice``: a new voice of this key from an audio file."""
        fields = custom_voice_fields(request)
        digest = hashlib.sha256(fields["file"]).hexdigest()
        with self._lock:
            variant = self._preview_variants.get(digest)
            voice_id, self._next_voice = self._next_voice, self._next_voice + 1
        if variant is None:  # not one of our previews: a timbre of the stated gender
            variant = "f3" if fields["gender"] == GENDER_FEMALE else "m3"
        voice = Voice(
            voice_id,
            fields["voice_name"],
            fields["gender"],
            fields.get("age"),
            fields.get("language", 1),
            variant,
            description=fields.get("description"),
            published=False,
        )
        with self._lock:
            self._designed.setdefault(key, []).append(voice)
        return Response.json({"voice_id": voice_id})

    # ------------------------------------------------------------------- create
    def _create(self, kind: str, request: Request, key: str) -> Response:
        body = request.json(
            Response.json(
                {
                    "detail": [
                        {
                            "type": "json_invalid",
                            "loc": ["body"],
                            "msg": "JSON decode error",
                            "input": {},
                        }
                    ]
                },
                422,
            )
        )
        if not isinstance(body, dict):
            raise validation_error(
                ["body"], "Input should be a valid dictionary", "dict_type", body
            )
        _require_str(body, "text")
        problem = None
        if kind == "text-to-voice":
            problem = voice_description_problem(_require_str(body, "voice_description"))
        else:
            voice_id = _require_int(body, "voice_id")
            if voice_id not in {v.id for v in self.voices_of(key)}:
                raise validation_error(
                    ["body", "voice_id"],
                    f"Voice {voice_id} does not exist or is not available to this API key.",
                    "value_error",
                    voice_id,
                )
            fields = ("language",) if kind == "tts" else ("source_language", "target_language")
            for name in fields:
                lang_id = _require_int(body, name)
                lang = BY_ID.get(lang_id)
                source = name != "target_language"
                if lang is None or (source and not lang.source):
                    listing = "/source-languages" if source else "/target-languages"
                    raise validation_error(
                        ["body", name],
                        f"Unsupported language id {lang_id}: see {listing} for the ids.",
                        "value_error",
                        lang_id,
                    )
        for name in ("gender", "age", "formality", "folder_id"):
            if body.get(name) is not None:
                _require_int(body, name)
        markers, spoken = parse_markers(body["text"])
        if not spoken:
            raise validation_error(
                ["body", "text"], "String should have at least 1 character", "string_too_short", ""
            )
        now = self._sim.clock.now()
        unpaid = markers.payment_required or not self.charge(key, len(spoken))
        with self._lock:
            task = _Task(
                id=str(uuid.UUID(int=self._sim.rng.getrandbits(128), version=4)),
                kind=kind,
                key=key,
                text=spoken,
                body=body,
                markers=markers,
                created_at=now,
                duration_s=self.task_duration(len(spoken), markers),
                run_id=self._next_run,
                unpaid=unpaid,
                problem=problem,
            )
            self._next_run += 1 + self._sim.rng.randrange(5)
            self._tasks[(kind, task.id)] = task
        return Response.json({"task_id": task.id})

    def charge(self, key: str, characters: int) -> bool:
        """Take the credits for a request; False (nothing taken) when the key has too few."""
        with self._lock:
            used = self.used_credits.get(key, 0)
            if self.credits is not None and used + characters > self.credits:
                return False
            self.used_credits[key] = used + characters
            return True

    def credits_left(self, key: str) -> int | None:
        """The key's remaining credits (None = unlimited)."""
        if self.credits is None:
            return None
        return max(0, self.credits - self.used_credits.get(key, 0))

    def task_duration(self, characters: int, markers: Markers) -> float:
        """Simulator seconds a task takes ("typically 2–5 minutes"), growing with the text."""
        seconds = (100.0 + 1.2 * characters) * self._sim.rng.lognormvariate(0.0, 0.2)
        return seconds * (30 if markers.slow else 1)

    # ------------------------------------------------------------------- status
    def _task(self, kind: str, task_id: str, key: str) -> _Task:
        with self._lock:
            task = self._tasks.get((kind, task_id))
        if task is None or task.key != key:
            raise not_found(f"Task {task_id} not found.")
        return task

    def _status(self, task: _Task) -> Response:
        now = self._sim.clock.now()
        done = now >= task.created_at + task.duration_s
        if task.unpaid:
            return Response.json(
                {
                    "status": "PAYMENT_REQUIRED",
                    "run_id": None,
                    "exception_reason": "PAYMENT_REQUIRED",
                    "message": "Insufficient credits for this task.",
                }
            )
        if task.markers.unknown_status:
            return Response.json({"status": "QUEUED", "run_id": None})
        if not done:
            return Response.json({"status": "PENDING", "run_id": None})
        if task.markers.timeout:
            return Response.json(
                {
                    "status": "TIMEOUT",
                    "run_id": None,
                    "exception_reason": "PROCESSING_ERROR",
                    "message": "Processing exceeded the maximum allowed duration.",
                }
            )
        if task.markers.fail or task.problem:
            return Response.json(
                {
                    "status": "ERROR",
                    "run_id": None,
                    "exception_reason": "PROCESSING_ERROR",
                    "message": task.problem or "The speech engine could not process this text.",
                }
            )
        with self._lock:
            if task.run_id not in self._runs:
                expires = task.created_at + task.duration_s + RESULT_TTL_S
                self._runs[task.run_id] = _Run(task, expires)
        return Response.json({"status": "SUCCESS", "run_id": task.run_id})

    # ------------------------------------------------------------------ results
    def _run(self, raw: str, key: str, kinds: tuple[str, ...]) -> _Run:
        try:
            run_id = int(raw)
        except ValueError:
            raise validation_error(
                ["path", "run_id"],
                "Input should be a valid integer, unable to parse string as an integer",
                "int_parsing",
                raw,
            ) from None
        with self._lock:
            run = self._runs.get(run_id)
        if run is None or run.task.key != key or run.task.kind not in kinds:
            raise not_found(f"Run {run_id} not found.")
        if self._sim.clock.now() >= run.expires_at:
            raise not_found(f"The results of run {run_id} have expired (kept for 24 hours).")
        return run

    def _tts_result(self, run: _Run, request: Request) -> Response:
        output_type = request.arg("output_type") or "raw_bytes"
        if output_type not in ("raw_bytes", "file_url"):
            raise validation_error(
                ["query", "output_type"],
                "Input should be 'raw_bytes' or 'file_url'",
                "enum",
                output_type,
            )
        audio = self._audio(run)
        if output_type == "file_url" or self.redirect_results:
            url = self._publish(
                run, audio, self._content_type(), f"{run.task.run_id}.{self.result_format}"
            )
            if output_type == "file_url":
                return Response.json({"output_url": url})
            return Response(302, b"", {"Location": url})
        return Response(200, audio, {"Content-Type": self._content_type()})

    def _content_type(self) -> str:
        return "audio/wav" if self.result_format == "wav" else "audio/flac"

    def _publish(self, run: _Run, data: bytes, content_type: str, filename: str) -> str:
        ttl = run.expires_at - self._sim.clock.now()
        return self._sim.cdn.publish(data, content_type, filename, ttl)

    def _audio(self, run: _Run) -> bytes:
        """Synthesize once: the task's text (translated if asked) in its language's voice."""
        with self._lock:
            if run.audio is not None:
                return run.audio
        task = run.task
        voice = next(v for v in self.voices_of(task.key) if v.id == task.body["voice_id"])
        if task.kind == "translated-tts":
            lang = BY_ID[task.body["target_language"]]
            text = translate(task.text, lang.short_name)
        else:
            lang = BY_ID[task.body["language"]]
            text = task.text
        data = self._speak(text, lang.short_name, voice.variant, self.result_format, task.markers)
        with self._lock:
            run.audio = data
        return data

    @staticmethod
    def _speak(text: str, short_name: str, variant: str, fmt: str, markers: Markers) -> bytes:
        voice = f"{speech.language_voice(short_name)}+{variant}"
        data = speech.encode(speech.synthesize(text, voice), fmt)
        if markers.empty_audio:
            return b""
        if markers.not_audio:
            return b'{"error": "internal rendering error"}'
        return data

    def _previews(self, run: _Run) -> Response:
        """Render the previews once and publish them on the CDN. They are not voices yet: each
        remembers its timbre, so a preview kept with /create-custom-voice sounds the same."""
        with self._lock:
            ready = list(run.previews)
        if not ready:
            task = run.task
            description = task.body["voice_description"].lower()
            female = re.search(r"\b(woman|female|girl|lady|she|her)\b", description)
            variants = ("f2", "f4", "f1", "f5") if female else ("m2", "m7", "m1", "m5")
            urls = []
            for index in range(self.preview_count):
                variant = variants[index % len(variants)]
                data = self._speak(task.text, "en-us", variant, "flac", task.markers)
                url = self._publish(
                    run, data, "audio/flac", f"preview-{task.run_id}-{index + 1}.flac"
                )
                with self._lock:
                    self._preview_variants[hashlib.sha256(data).hexdigest()] = variant
                urls.append(url)
            with self._lock:
                if not run.previews:
                    run.previews = urls
                ready = list(run.previews)
        return Response.json({"previews": ready})


def _require_str(body: dict, name: str) -> str:
    value = body.get(name)
    if name not in body:
        raise validation_error(["body", name], "Field required", "missing", body)
    if not isinstance(value, str):
        raise validation_error(
            ["body", name], "Input should be a valid string", "string_type", value
        )
    return value


def _require_int(body: dict, name: str) -> int:
    value = body.get(name)
    if name not in body:
        raise validation_error(["body", name], "Field required", "missing", body)
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            body[name] = int(value)  # FastAPI coerces numeric strings
            return body[name]
        raise validation_error(
            ["body", name],
            "Input should be a valid integer, unable to parse string as an integer",
            "int_parsing",
            value,
        )
    return value
