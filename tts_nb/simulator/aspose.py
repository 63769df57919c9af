"""Aspose.OCR Cloud text-to-speech (https://api.aspose.cloud), as its documents show it.

* ``POST /connect/token`` (form: ``grant_type=client_credentials``, ``client_id``,
  ``client_secret``) → ``{"access_token", "expires_in": 3600, "token_type": "Bearer"}``.
  A wrong pair answers 400 ``{"error": "invalid_client"}``; after 5 failures the same pair
  gets 429 with ``Retry-After: 600`` for 600 seconds (Aspose's only published rate limit).
* ``POST /v5.0/ocr/ConvertTextToSpeech`` with ``Authorization: Bearer …`` and
  ``{"text", "settings": {"language": "English", "resultType": "Wav"}}`` → the task id as
  plain text (quoted like a JSON string when the client asks for JSON, or when
  `AsposeApp.quote_ids` is set, as some deployments of such APIs do).
* ``GET /v5.0/ocr/ConvertTextToSpeech?id=`` → ``{"id", "responseStatusCode", "taskStatus",
  "results": [{"type": "WavFile", "data": <base64 WAV>}], "error": {"messages", "warnings"}}``
  with taskStatus ``Pending`` → ``Processing`` → ``Completed`` | ``Error``, and ``NotExist``
  for unknown ids and results older than 24 hours. ``DELETE`` with the same id removes a task.
* ``…/ConvertTextToSpeechTrial`` (POST, GET, DELETE): the same without auth, at most 500
  characters, 10 conversions per day from one IP address, and the phrase "Please authenticate
  to the API to remove this message" spoken at a random place in the audio.
* A missing, unknown or expired token answers 401 with an RFC 7807 ``ProblemDetails``.

Paths match case-insensitively (the documents write ``converttexttospeech``, the SDKs
``ConvertTextToSpeech``). All times are simulator seconds (`SimClock`), so ``sim.advance(3700)``
expires every token and ``sim.advance(25 * 3600)`` deletes every result.

Choices where the documents are silent: the trial allowance counts conversions (POSTs), not
polls; every caller of the simulator shares the address 127.0.0.1, and the day starts at
simulator midnight. Markers in the text (`tts_nb.simulator.markers`): ``[[sim:fail]]`` ends
in ``Error`` with messages, ``[[sim:not-exist]]`` reports ``NotExist`` from the start,
``[[sim:unknown-status]]`` reports an undocumented status forever, ``[[sim:slow]]`` takes 30
times longer, ``[[sim:empty-audio]]``/``[[sim:not-audio]]``/``[[sim:garbled]]`` complete
with an empty, non-audio or undecodable ``data``.
"""

from __future__ import annotations

import base64
import json
import math
import secrets
import threading
from dataclasses import dataclass, field

from . import speech
from .markers import Markers, parse_markers
from .server import HTTPError, Request, Response

TTS_PATH = "/v5.0/ocr/converttexttospeech"
TRIAL_PATH = "/v5.0/ocr/converttexttospeechtrial"
TOKEN_PATH = "/connect/token"
TRIAL_PHRASE = "Please authenticate to the API to remove this message."
TRIAL_ADDRESS = "127.0.0.1"
DAY_S = 24 * 3600.0


def problem(status: int, title: str, detail: str, instance: str, **extra) -> Response:
    """An RFC 7807 ProblemDetails answer, as ASP.NET Core writes them."""
    body = {
        "type": f"https://tools.ietf.org/html/rfc9110#status.{status}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
        **extra,
    }
    return Response(status, json.dumps(body).encode(), {"Content-Type": "application/problem+json"})


def validation_error(instance: str, field_name: str, message: str) -> HTTPError:
    """ASP.NET Core's model-validation answer: 400 with ``errors: {field: [messages]}``."""
    response = problem(
        400,
        "One or more validation errors occurred.",
        message,
        instance,
        errors={field_name: [message]},
    )
    return HTTPError(response)


@dataclass
class _Task:
    id: str
    owner: str
    text: str  # what is spoken (markers removed)
    markers: Markers
    created_at: float
    duration_s: float
    data: str | None = None  # base64, rendered when first seen Completed
    warnings: list[str] = field(default_factory=list)


class AsposeApp:
    """The Aspose.OCR Cloud origin: token endpoint, text-to-speech and its trial twin.

    Attributes (change them to rehearse other limits; times in simulator seconds):
        token_ttl_s: a token's lifetime (``expires_in``), 3600.
        lockout_after, lockout_s: failed token requests that lock a pair out, and for how long.
        retention_s: how long results are kept, 24 hours.
        trial_max_chars, trial_daily_limit: the trial's text length and conversions a day.
        quote_ids: answer task ids as JSON strings ("…") even to ``Accept: text/plain``.
        hold_answers: an `threading.Event`; while it is not set, each conversion request
            creates its task (it is charged) but its answer waits, at most `hold_s` seconds
            of real time: a slow submit that a test can cancel, then release.
    """

    name = "aspose"

    def __init__(self, sim) -> None:
        self._sim = sim
        self._lock = threading.Lock()
        self._tasks: dict[str, _Task] = {}
        self._tokens: dict[str, tuple[str, float]] = {}  # token → (client_id, expires at)
        self._failures: dict[tuple[str, str], int] = {}
        self._locked_until: dict[tuple[str, str], float] = {}
        self._trial_calls: dict[tuple[str, int], int] = {}  # (address, day) → conversions
        self.token_ttl_s = 3600
        self.lockout_after = 5
        self.lockout_s = 600
        self.retention_s = DAY_S
        self.trial_max_chars = 500
        self.trial_daily_limit = 10
        self.quote_ids = False
        self.hold_answers: threading.Event | None = None
        self.hold_s = 30.0

    def base_url(self) -> str:
        return self._sim.url(self.name)

    def revoke_tokens(self) -> None:
        """Invalidate every token issued so far (the next API call answers 401)."""
        with self._lock:
            self._tokens.clear()

    # ------------------------------------------------------------------ routing
    def handle(self, request: Request) -> Response:
        path, method = request.path.rstrip("/").lower(), request.method
        if path == TOKEN_PATH and method == "POST":
            return self._token(request)
        if path in (TTS_PATH, TRIAL_PATH):
            trial = path == TRIAL_PATH
            owner = f"trial:{TRIAL_ADDRESS}" if trial else self._authenticate(request)
            if method == "POST":
                return self._convert(request, owner, trial)
            if method == "GET":
                return self._result(request, owner)
            if method == "DELETE":
                return self._delete(request, owner)
            return problem(405, "Method Not Allowed", f"{method} is not allowed.", request.path)
        return problem(404, "Not Found", f"{method} {request.path} does not exist.", request.path)

    # --------------------------------------------------------------------- auth
    def _token(self, request: Request) -> Response:
        form = request.form()
        if form.get("grant_type") != "client_credentials":
            return Response.json({"error": "unsupported_grant_type"}, 400)
        pair = (form.get("client_id", ""), form.get("client_secret", ""))
        now = self._sim.clock.now()
        with self._lock:
            locked_until = self._locked_until.get(pair)
            if locked_until is not None and now < locked_until:
                wait = math.ceil(locked_until - now)
                return Response.json(
                    {"error": "too_many_requests"}, 429, {"Retry-After": str(wait)}
                )
            if locked_until is not None:  # the cooldown is over: a fresh start
                del self._locked_until[pair]
                self._failures.pop(pair, None)
            expected = (
                self._sim.credentials["aspose_client_id"],
                self._sim.credentials["aspose_client_secret"],
            )
            if pair != expected:
                failures = self._failures.get(pair, 0) + 1
                self._failures[pair] = failures
                if failures >= self.lockout_after:
                    self._locked_until[pair] = now + self.lockout_s
                return Response.json({"error": "invalid_client"}, 400)
            self._failures.pop(pair, None)
            self._tokens = {t: v for t, v in self._tokens.items() if v[1] > now}  # forget old ones
            token = f"eyJhbGciOiJSUzI1NiJ9.{secrets.token_urlsafe(24)}.{secrets.token_urlsafe(16)}"
            self._tokens[token] = (pair[0], now + self.token_ttl_s)
        return Response.json(
            {"access_token": token, "expires_in": self.token_ttl_s, "token_type": "Bearer"}
        )

    def _authenticate(self, request: Request) -> str:
        header = request.header("Authorization") or ""
        scheme, _, token = header.partition(" ")
        with self._lock:
            known = self._tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        now = self._sim.clock.now()
        if known is None:
            detail = "The access token is missing or invalid." if header else "No access token."
            raise self._unauthorized(request, detail, "invalid_token")
        client_id, expires_at = known
        if now >= expires_at:
            raise self._unauthorized(request, "The access token has expired.", "invalid_token")
        return client_id

    def _unauthorized(self, request: Request, detail: str, code: str) -> HTTPError:
        response = problem(401, "Unauthorized", detail, request.path)
        response.headers["WWW-Authenticate"] = f'Bearer error="{code}"'
        return HTTPError(response)

    # ------------------------------------------------------------ text-to-speech
    def _convert(self, request: Request, owner: str, trial: bool) -> Response:
        instance = request.path
        body = request.json(problem(400, "Bad Request", "The request body must be JSON.", instance))
        if not isinstance(body, dict):
            raise validation_error(instance, "$", "The request body must be a JSON object.")
        text = body.get("text")
        if not isinstance(text, str) or len(text) < 1:
            raise validation_error(
                instance, "Text", "The field Text must be a string with a minimum length of 1."
            )
        settings = body.get("settings") or {}
        if not isinstance(settings, dict):
            raise validation_error(instance, "Settings", "Settings must be an object.")
        language = settings.get("language", "English")
        if language != "English":
            raise validation_error(
                instance,
                "Settings.Language",
                f"The JSON value {json.dumps(language)} could not be converted to LanguageTTS. "
                "Supported: English.",
            )
        result_type = settings.get("resultType", "Wav")
        if result_type != "Wav":
            raise validation_error(
                instance,
                "Settings.ResultType",
                f"The JSON value {json.dumps(result_type)} could not be converted to "
                "ResultTypeTTS. Supported: Wav.",
            )
        if trial and len(text) > self.trial_max_chars:
            raise HTTPError(
                problem(
                    400,
                    "Bad Request",
                    f"The text has {len(text)} characters; evaluation mode accepts at most "
                    f"{self.trial_max_chars}. Please authenticate to the API to remove this "
                    "limit.",
                    instance,
                )
            )
        markers, spoken = parse_markers(text)
        if not spoken:
            raise validation_error(instance, "Text", "The text has nothing to read aloud.")
        now = self._sim.clock.now()
        with self._lock:
            self._tasks = {
                key: task
                for key, task in self._tasks.items()
                if now < task.created_at + self.retention_s
            }
            if trial:
                self._count_trial_call(now, instance)
                spoken = self._with_trial_phrase(spoken)
            task_id = self._new_id()
            self._tasks[task_id] = _Task(
                id=task_id,
                owner=owner,
                text=spoken,
                markers=markers,
                created_at=now,
                duration_s=self._duration(len(spoken), markers),
                warnings=["Evaluation mode: a notice is read aloud in the audio."] if trial else [],
            )
        if self.hold_answers is not None:
            self.hold_answers.wait(self.hold_s)
        accept = request.header("Accept") or ""
        if self.quote_ids or ("json" in accept and "text/plain" not in accept):
            return Response(200, json.dumps(task_id).encode(), {"Content-Type": "application/json"})
        return Response.text(task_id)

    def _count_trial_call(self, now: float, instance: str) -> None:
        day = int(now // DAY_S)
        key = (TRIAL_ADDRESS, day)
        used = self._trial_calls.get(key, 0)
        if used >= self.trial_daily_limit:
            wait = math.ceil((day + 1) * DAY_S - now)
            response = problem(
                429,
                "Too Many Requests",
                f"Evaluation mode allows {self.trial_daily_limit} requests per day from one IP "
                "address, and today's are used up. Please authenticate to the API to remove "
                "this limit.",
                instance,
            )
            response.headers["Retry-After"] = str(wait)
            raise HTTPError(response)
        self._trial_calls[key] = used + 1

    def _with_trial_phrase(self, text: str) -> str:
        words = text.split()
        at = self._sim.rng.randint(0, len(words))
        return " ".join([*words[:at], TRIAL_PHRASE, *words[at:]])

    def _new_id(self) -> str:
        bits = self._sim.rng.getrandbits(128)
        digits = f"{bits:032x}"
        return f"TTS{bits % 100000:05d}-{digits[:4]}-{digits[4:8]}-{digits[8:12]}-{digits[12:24]}"

    def _duration(self, characters: int, markers: Markers) -> float:
        """A few seconds that grow with the text; longer texts also vary more."""
        noise = self._sim.rng.lognormvariate(0.0, 0.1 + characters / 2000)
        seconds = (1.5 + 0.015 * characters) * noise
        return seconds * (30 if markers.slow else 1)

    def _find(self, request: Request, owner: str) -> tuple[str, _Task | None]:
        task_id = (request.arg("id") or "").strip()
        if not task_id:
            raise validation_error(request.path, "id", "The id field is required.")
        now = self._sim.clock.now()
        with self._lock:
            task = self._tasks.get(task_id)
            if task is not None and now >= task.created_at + self.retention_s:
                del self._tasks[task_id]  # results are kept for 24 hours
                task = None
        if task is None or task.owner != owner:
            return task_id, None
        return task_id, task

    def _result(self, request: Request, owner: str) -> Response:
        task_id, task = self._find(request, owner)
        if task is None or task.markers.not_exist:
            return self._answer(
                task_id,
                "NotExist",
                "TaskNotFound",
                messages=[
                    "The task does not exist, or its result was deleted (results are kept for "
                    "24 hours)."
                ],
            )
        status = self._status(task)
        if status == "Completed":
            self._render(task)
            results = [{"type": "WavFile", "data": task.data}]
            return self._answer(task.id, status, "Ok", results=results, warnings=task.warnings)
        if status == "Error":
            return self._answer(
                task.id,
                status,
                "Error",
                messages=[
                    "Text-to-speech conversion failed: the speech engine stopped on this text.",
                    "Try again, or send a shorter text.",
                ],
            )
        return self._answer(task.id, status, "NotReady")

    def _status(self, task: _Task) -> str:
        if task.markers.unknown_status:
            return "Suspended"
        elapsed = self._sim.clock.now() - task.created_at
        if elapsed < 0.3 * task.duration_s:
            return "Pending"
        if elapsed < task.duration_s:
            return "Processing"
        return "Error" if task.markers.fail else "Completed"

    def _answer(
        self,
        task_id: str,
        status: str,
        code: str,
        *,
        results: list | None = None,
        messages: list[str] | None = None,
        warnings: list[str] | None = None,
    ) -> Response:
        error = None
        if messages or warnings:
            error = {"messages": messages or [], "warnings": warnings or []}
        return Response.json(
            {
                "id": task_id,
                "responseStatusCode": code,
                "taskStatus": status,
                "results": results or [],
                "error": error,
            }
        )

    def _delete(self, request: Request, owner: str) -> Response:
        task_id, task = self._find(request, owner)
        if task is not None:
            with self._lock:
                self._tasks.pop(task_id, None)
        return Response(200, b"", {})

    def _render(self, task: _Task) -> None:
        """Synthesize once, when the task is first seen Completed."""
        with self._lock:
            if task.data is not None:
                return
        if task.markers.empty_audio:
            data = ""
        elif task.markers.not_audio:
            data = base64.b64encode(b'{"error": "rendering failed"}').decode()
        elif task.markers.garbled:
            data = "UklGR!!not*base64"
        else:
            audio = speech.encode(speech.synthesize(task.text, "en-us"), "wav")
            data = base64.b64encode(audio).decode()
        with self._lock:
            if task.data is None:
                task.data = data
