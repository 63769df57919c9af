"""CAMB.AI's task protocol: create a task → poll it by ``task_id`` → fetch results by ``run_id``.

The protocol, as CAMB's documents and SDK show it (base https://client.camb.ai/apis):

* auth: the ``x-api-key`` header, sent to CAMB's origin only (never to a preview URL, never
  across a redirect: the transport adds it per request for the API's own origin);
* ``POST /tts`` | ``/translated-tts`` | ``/text-to-voice`` → ``{"task_id": "<string>"}``;
* ``GET /<kind>/{task_id}`` → ``{"status", "run_id"}`` with status ``PENDING`` → ``SUCCESS`` |
  ``ERROR`` | ``TIMEOUT`` | ``PAYMENT_REQUIRED`` (the SDK adds ``message`` and
  ``exception_reason``); CAMB asks for progressive polling, never faster than every 3–5 s, and
  says most tasks finish in 2–5 minutes;
* results by the integer ``run_id``: ``/tts-result/{run_id}`` (audio, FLAC today although an
  older page said WAV: the bytes are sniffed), ``/translation-result/{run_id}`` →
  ``{"texts": [...]}``, ``/text-to-voice-result/{run_id}`` → ``{"previews": [url, …]}``;
* errors: FastAPI's ``{"detail": [{"loc", "msg", "type"}]}`` (422) and
  ``{"error": "...", "status": 401}``.

This module is that protocol and nothing else: ids, status reading, error bodies and the
Operations the engine drives. The client (`tts_nb.providers.camb`) validates requests and
starts jobs; `camb_catalogue` resolves voice and language names; `camb_stream` is the
``/tts-stream`` endpoint.

Status answers are read as tolerantly as camb-sdk reads them (``types/orchestrator_pipeline_
result.py``): ``run_id`` is ``Optional[int]`` (pydantic turns ``"123"`` into 123), ``message`` is
``str | dict``, and ``status`` is ``Literal[...] | Any``.

Mixing up ``task_id`` and ``run_id`` is the classic mistake with this API (a 422 from
``/tts-result/<task id>``), so the two are distinct types here, `TaskId` and `RunId`, and the
path builders refuse the wrong one.
"""

from __future__ import annotations

import json
import numbers
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from ..clip import Clip
from ..errors import NotFound, ProviderError, TTSError
from ..job import Call, Observation
from ..state import State
from ._common import expired, get_result, not_found, raw_status, unknown_status

PROVIDER = "camb"
STATUS = {
    "SUCCESS": State.SUCCEEDED,
    "PENDING": State.RUNNING,
    "TIMEOUT": State.TIMED_OUT,
    "ERROR": State.FAILED,
    "PAYMENT_REQUIRED": State.PAYMENT_REQUIRED,
    # Not in CAMB's documents: third-party clients check these words, and without them a job
    # would poll until its deadline (../shared/notes/fidelity-review.md, "Differences that
    # could break real users" item 4). FAILED ends like ERROR, COMPLETED like SUCCESS.
    "FAILED": State.FAILED,
    "COMPLETED": State.SUCCEEDED,
}
REASON_ADVICE = {
    "HARMFUL_CONTENT_DETECTED": "CAMB.AI flagged the content: rephrase the text.",
    "SOURCE_TOO_LONG": "The text is too long: split it into shorter segments.",
    "FORBIDDEN": "This key may not do this: check the plan and the key's permissions.",
    "PAYMENT_REQUIRED": "Add credits on your CAMB.AI account's billing page.",
}
HINTS = {
    401: "Check CAMB_API_KEY: copy the key from the 'API' section of CAMB.AI studio, without "
    "spaces or newlines.",
    403: "This key may not use this endpoint: check your CAMB.AI plan and the key's permissions.",
    402: "Your CAMB.AI account has too few credits: add credits on the billing page.",
    429: "CAMB.AI's rate limit was reached: wait a little, and poll no faster than every 3–5 s.",
}
SWAP_HINT = (
    "A run_id must be the integer from a SUCCESS status, not the task_id string from the create "
    "call (the classic mix-up with this API)."
)


class TaskId(str):
    """A CAMB task id (the string a create call returns). It polls a status, nothing else."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"TaskId({str(self)!r})"


class RunId(int):
    """A CAMB run id (the integer a SUCCESS status carries). It fetches results, nothing else."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"RunId({int(self)})"

    def __str__(self) -> str:  # int's str() would fall back to the repr above
        return int.__repr__(self)


def stored_ids(ids: Mapping[str, Any]) -> tuple[TaskId, RunId | None]:
    """A job's ids with their types, also when they come back from the ledger as plain JSON
    (a resumed job): each is re-typed by the name it was stored under, never by its look."""
    task_id, run_id = ids["task_id"], ids.get("run_id")
    if not isinstance(task_id, str):
        raise TypeError(f"a stored task_id must be a string, got {task_id!r}. {SWAP_HINT}")
    if run_id is not None and not is_int(run_id):
        raise TypeError(f"a stored run_id must be an integer, got {run_id!r}. {SWAP_HINT}")
    return TaskId(task_id), (None if run_id is None else RunId(run_id))


def task_path(kind: str, task_id: TaskId) -> str:
    """``/<kind>/{task_id}``: refuses anything that is not a `TaskId`."""
    if not isinstance(task_id, TaskId):
        raise TypeError(f"{kind} status needs a TaskId, got {task_id!r}. {SWAP_HINT}")
    return f"/{kind}/{task_id}"


def run_path(endpoint: str, run_id: RunId) -> str:
    """``/<endpoint>/{run_id}``: refuses anything that is not a `RunId`."""
    if not isinstance(run_id, RunId):
        raise TypeError(f"{endpoint} needs a RunId, got {run_id!r}. {SWAP_HINT}")
    return f"/{endpoint}/{int(run_id)}"


def describe_error(status: int, data: Any) -> str | None:
    """CAMB's error bodies (FastAPI ``detail`` lists, ``{"error", "status"}``) plus advice."""
    said: list[str] = []
    swapped = False
    if isinstance(data, dict):
        detail = data.get("detail")
        if isinstance(detail, list):
            for item in detail:
                if not isinstance(item, dict):
                    continue
                loc = [str(part) for part in item.get("loc") or () if part != "body"]
                swapped = swapped or "run_id" in loc
                where = ".".join(loc) or "request"
                said.append(f"{where}: {item.get('msg', 'invalid')}")
        elif isinstance(detail, str):
            said.append(detail)
        for name in ("error", "message"):
            if isinstance(data.get(name), str):
                said.append(data[name])
    hint = HINTS.get(status)
    if status == 422 and swapped:
        hint = SWAP_HINT
    elif status == 422:
        hint = "Check the fields named above: voice and language ids come from camb.voices() and "
        hint += "camb.languages()."
    text = "; ".join(part.rstrip(".") for part in said)
    return " ".join(part for part in (text + "." if text else "", hint) if part) or None


def read_status(kind: str, data: Any) -> Observation:
    """One status answer (``{"status", "run_id", "message", "exception_reason"}``) as an
    `Observation`, with CAMB's own advice for each outcome."""
    if not isinstance(data, dict):
        raise ProviderError(
            f"camb: unexpected {kind} status answer {str(data)[:200]!r}.", provider=PROVIDER
        )
    raw = raw_status(data.get("status"))
    state = STATUS.get(raw.strip().upper())  # "success" and "Success" mean SUCCESS
    said = _message(data.get("message"))
    reason = data.get("exception_reason")
    reason = reason if isinstance(reason, str) and reason != "NONE" else None
    details = " ".join(
        part for part in (said and f"CAMB.AI says: {said}", reason and f"[{reason}]") if part
    )
    if state is None:
        return unknown_status("CAMB.AI status", raw)
    if state is State.SUCCEEDED:
        run_id = as_int(data.get("run_id"))
        if run_id is None:
            return Observation(
                State.RUNNING, raw_status=raw, message="SUCCESS but no run_id yet; looking again"
            )
        return Observation(state, raw_status=raw, ids={"run_id": RunId(run_id)})
    if state is State.TIMED_OUT:
        message = (
            f"CAMB.AI stopped the {kind} task: processing exceeded the maximum allowed duration "
            f"(TIMEOUT). {details + ' ' if details else ''}Break the text into shorter segments "
            "and submit them separately."
        )
        return Observation(state, raw_status=raw, message=message)
    if state is State.PAYMENT_REQUIRED:
        message = (
            f"CAMB.AI did not run the {kind} task: the account has insufficient credits "
            f"(PAYMENT_REQUIRED). {details + ' ' if details else ''}Add credits on your "
            "account's billing page in CAMB.AI studio, then submit again."
        )
        return Observation(state, raw_status=raw, message=message)
    if state is State.FAILED:
        advice = REASON_ADVICE.get(
            reason or "",
            "Review the inputs (text, voice, languages) and "
            "submit again; contact CAMB.AI support if it repeats.",
        )
        message = (
            f"CAMB.AI reported an error for the {kind} task ({raw}). "
            f"{details or 'No error details were given.'} {advice}"
        )
        return Observation(state, raw_status=raw, message=message)
    return Observation(state, raw_status=raw)


def expired_link(error: TTSError, what: str) -> TTSError:
    """The error for a failed result download: 401/403/404 mean the result or its link has
    expired, and so does a 400, which storage hosts (e.g. Google Cloud Storage) give an
    expired signed URL. Any other error stays as it is."""
    return expired(
        error,
        f"CAMB.AI no longer serves {what}",
        "results and their links expire. Only submitting the request again recovers them, "
        "and it costs credits again.",
        provider=PROVIDER,
    )


class _TaskOperation:
    """What every CAMB task shares: one POST, then polls of ``/<kind>/{task_id}``."""

    provider = PROVIDER

    def __init__(self, kind: str, body: Mapping[str, Any]) -> None:
        self.kind = kind
        self.body = dict(body)

    def submit(self, call: Call) -> Observation:
        data = call.request_json("POST", f"/{self.kind}", json_body=self.body)
        task_id = data.get("task_id") if isinstance(data, dict) else None
        if not isinstance(task_id, str) or not task_id:
            raise ProviderError(
                f"camb: the {self.kind} answer has no task_id: {str(data)[:200]!r}.",
                provider=PROVIDER,
            )
        return Observation(State.PENDING, ids={"task_id": TaskId(task_id)})

    def poll(self, call: Call, ids: Mapping[str, Any]) -> Observation:
        try:
            task_id, _ = stored_ids(ids)
            data = call.request_json("GET", task_path(self.kind, task_id))
        except NotFound:
            return not_found(f"CAMB.AI no longer knows this {self.kind} task (404).")
        return read_status(self.kind, data)

    def _get(self, call: Call, url: str, run_id: RunId, *, authed: bool = True):
        """A result request whose failure may mean: the result is gone (see `expired_link`)."""
        what = f"the results of run {int(run_id)}"
        return get_result(call, url, lambda exc: expired_link(exc, what), authed=authed)


class TtsOperation(_TaskOperation):
    """``/tts`` and ``/translated-tts``: audio at ``/tts-result/{run_id}`` (and, translated,
    the text at ``/translation-result/{run_id}``, which becomes the clip's ``text``)."""

    def __init__(self, kind: str, body: Mapping[str, Any], voice: str) -> None:
        super().__init__(kind, body)
        self.voice = voice

    def fetch(self, call: Call, ids: Mapping[str, Any], seen: Observation) -> Clip:
        task_id, run_id = stored_ids(ids)
        response = self._get(call, run_path("tts-result", run_id), run_id)
        meta: dict[str, Any] = {"task_id": str(task_id), "run_id": int(run_id)}
        text = self.body["text"]
        if self.kind == "translated-tts":
            data = self._get(call, run_path("translation-result", run_id), run_id)
            texts = call.transport.json_of(data)
            texts = texts.get("texts") if isinstance(texts, dict) else None
            if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
                raise ProviderError(
                    f"camb: unexpected translation result {str(texts)[:200]!r}.",
                    provider=PROVIDER,
                )
            meta.update(source_text=text, texts=list(texts))
            text = " ".join(texts)
        return Clip.from_bytes(
            response.content,
            text=text,
            voice=self.voice,
            content_type=response.headers.get("Content-Type"),
            meta=meta,
        )


class TextToVoiceOperation(_TaskOperation):
    """``/text-to-voice``: preview URLs at ``/text-to-voice-result/{run_id}``, fetched without
    the key (they are on another origin). They have no voice id: see `Camb.keep_voice`."""

    def __init__(self, body: Mapping[str, Any]) -> None:
        super().__init__("text-to-voice", body)

    def fetch(self, call: Call, ids: Mapping[str, Any], seen: Observation) -> list[Clip]:
        task_id, run_id = stored_ids(ids)
        data = call.transport.json_of(
            self._get(call, run_path("text-to-voice-result", run_id), run_id)
        )
        previews = data.get("previews") if isinstance(data, dict) else None
        if not isinstance(previews, list) or not previews:
            raise ProviderError(
                f"camb: the text-to-voice result has no previews: {str(data)[:200]!r}.",
                provider=PROVIDER,
            )
        clips = []
        for index, url in enumerate(previews, start=1):
            response = self._get(call, url, run_id, authed=False)
            clips.append(
                Clip.from_bytes(
                    response.content,
                    text=self.body["text"],
                    voice=f"camb:preview {index}",
                    content_type=response.headers.get("Content-Type"),
                    meta={
                        "voice_id": None,  # a preview is no voice until keep_voice()
                        "preview": index,
                        "preview_url": without_query(url),
                        "task_id": str(task_id),
                        "run_id": int(run_id),
                        "voice_description": self.body["voice_description"],
                    },
                )
            )
        return clips


# ------------------------------------------------------------------ small helpers
def is_int(value: Any) -> bool:
    """Integers, numpy's included (ids often come straight out of a DataFrame); not bools."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def as_int(value: Any) -> int | None:
    """An integer id, also from a digit string (camb-sdk's pydantic model coerces "123")."""
    if is_int(value):
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _message(value: Any) -> str | None:
    """CAMB's ``message``: a string, or a dict (camb-sdk: ``str | dict``) kept readable."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and value:
        return json.dumps(value, ensure_ascii=False, default=str)[:500]
    return None


def json_or_none(response) -> Any:
    """The answer's JSON, or None when it has none (error bodies are not always JSON)."""
    try:
        return response.json()
    except ValueError:
        return None


def without_query(url: str) -> str:
    """`url` without its query: a signed URL's signature is a credential of sorts."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"
