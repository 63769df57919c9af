"""Aspose.OCR Cloud text-to-speech, the wire protocol: ``POST`` → poll → inline WAV.

The protocol, as Aspose's documents and generated SDKs show it:

* ``POST /v5.0/ocr/ConvertTextToSpeech`` with ``{"text", "settings": {"language": "English",
  "resultType": "Wav"}}`` (the only values supported) answers the task id as plain text;
* ``GET …/ConvertTextToSpeech?id=`` answers ``taskStatus`` ``Pending`` | ``Processing`` |
  ``Completed`` | ``Error`` | ``NotExist`` and, once completed, the WAV as base64 in
  ``results[0].data``; results are kept for 24 hours after submission;
* ``DELETE …/ConvertTextToSpeech?id=`` removes a task (Aspose's SDKs,
  ``convert_text_to_speech_api.py``): what ``job.cancel()`` sends;
* ``…/ConvertTextToSpeechTrial`` is the same without auth: at most 500 characters and 10
  requests a day from one IP address.

This module is that protocol and nothing else, as `camb_protocol` is for CAMB: the Operation
the engine drives and the readers of Aspose's answers. Tokens come from `aspose_auth` (through
``client.tokens``); the client (`tts_nb.providers.aspose`) validates requests and starts jobs.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..clip import Clip
from ..errors import AuthError, BadAudio, ProviderError, QuotaError
from ..job import Call, Observation
from ..state import State
from ._common import raw_status, unknown_status

if TYPE_CHECKING:
    from .aspose import Aspose

PROVIDER = "aspose"
TTS_PATH = "/v5.0/ocr/ConvertTextToSpeech"
TRIAL_PATH = "/v5.0/ocr/ConvertTextToSpeechTrial"
KIND = "text_to_speech"
TRIAL_KIND = "trial_text_to_speech"
LANGUAGES = ("English",)
RESULT_TYPES = ("Wav",)
TRIAL_MAX_CHARS = 500
TRIAL_DAILY_CALLS = 10
RETENTION_S = 24 * 3600.0
STATUS = {
    "Pending": State.PENDING,
    "Processing": State.RUNNING,
    "Completed": State.SUCCEEDED,
    "Error": State.FAILED,
}
TASK_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")


class SpeechOperation:
    """One ConvertTextToSpeech task: pure protocol translation (the engine owns time).

    A trial task is a kind of its own: it goes to other endpoints and its audio differs (a
    notice is read aloud), so it is never taken for an identical account request.
    """

    provider = PROVIDER

    def __init__(self, client: Aspose, body: Mapping[str, Any], *, trial: bool) -> None:
        self.client = client
        self.body = dict(body)
        self.trial = trial
        self.kind = TRIAL_KIND if trial else KIND
        self.path = TRIAL_PATH if trial else TTS_PATH
        self._seen_alive = False

    # ---------------------------------------------------------------- requests
    def _send(self, call: Call, method: str, **kwargs):
        """One API request; with a token, fetched first and renewed once if refused (401).

        Re-sending a POST after a 401 is safe: a refused request created no task.
        """
        if self.trial:
            return call.request(method, self.path, authed=False, **kwargs)
        token = self.client.tokens.get(call)
        try:
            return call.request(method, self.path, **kwargs)
        except AuthError as exc:
            if exc.status_code != 401:
                raise
            self.client.tokens.invalidate(token)
        self.client.tokens.get(call)
        return call.request(method, self.path, **kwargs)

    def submit(self, call: Call) -> Observation:
        try:
            response = self._send(
                call, "POST", json_body=self.body, headers={"Accept": "text/plain"}
            )
        except QuotaError as exc:
            if self.trial:
                raise self._trial_quota(exc) from None
            raise
        task_id = _task_id(response.text)
        if task_id is None:
            shown = call.transport.scrub(response.text[:200])
            raise ProviderError(
                f"aspose: expected a task id from POST {self.path}, got {shown!r}.",
                provider=PROVIDER,
            )
        return Observation(State.PENDING, ids={"task_id": task_id})

    def _trial_quota(self, exc: QuotaError) -> QuotaError:
        if exc.status_code != 429:
            return exc
        when = f" It renews in about {exc.retry_after / 3600:.1f} h." if exc.retry_after else ""
        return QuotaError(
            f"Aspose's trial allows {TRIAL_DAILY_CALLS} requests a day from one IP address, "
            f"and today's are used up ({exc.status_code}).{when} Use an account instead "
            "(free tier: 150 calls a month): pass client_id= and client_secret= without "
            "trial=True.",
            provider=PROVIDER,
            status_code=exc.status_code,
            retry_after=exc.retry_after,
        )

    def poll(self, call: Call, ids: Mapping[str, Any]) -> Observation:
        response = self._send(call, "GET", params={"id": ids["task_id"]})
        data = call.transport.json_of(response)
        if not isinstance(data, dict):
            raise ProviderError(
                f"aspose: unexpected result answer {str(data)[:200]!r}.", provider=PROVIDER
            )
        raw = raw_status(data.get("taskStatus"))
        code = data.get("responseStatusCode")
        if raw == "NotExist":
            return self._not_exist(ids["task_id"], code)
        state = STATUS.get(raw)
        if state is None:
            return unknown_status("Aspose taskStatus", raw, f" (responseStatusCode {code!r})")
        self._seen_alive = True
        if state is State.FAILED:
            said = "; ".join(_messages(data, "messages")) or "no details given"
            return Observation(
                State.FAILED,
                raw_status=raw,
                message=f"Aspose could not convert the text ({code}): {said}. Check the text "
                "(plain English) and send it again.",
            )
        return Observation(state, raw_status=raw, payload=data if state.terminal else None)

    def cancel(self, call: Call, ids: Mapping[str, Any]) -> str:
        """``DELETE …?id=``: a cancelled task's text and audio do not stay on Aspose for 24
        hours. Returns the answer, in words, for the job's history."""
        response = self._send(call, "DELETE", params={"id": ids["task_id"]})
        return f"Aspose deleted task {ids['task_id']} ({response.status_code})"

    def _not_exist(self, task_id: str, code: Any) -> Observation:
        if self._seen_alive:
            return Observation(
                State.EXPIRED,
                raw_status="NotExist",
                message=f"Aspose no longer has task {task_id} ({code}), although an earlier "
                "look found it: results are deleted 24 hours after the text was sent. Send "
                "the text again with the same parameters (it is a new, charged request).",
            )
        return Observation(
            State.NOT_FOUND,
            raw_status="NotExist",
            message=f"Aspose does not know task {task_id} ({code}): the id is wrong, or the "
            "result was already deleted (results are kept 24 hours). Check the id, or send "
            "the text again with the same parameters.",
        )

    def fetch(self, call: Call, ids: Mapping[str, Any], seen: Observation) -> Clip:
        """The audio is inline in the Completed answer: decode it, no request needed."""
        data = seen.payload
        results = data.get("results") if isinstance(data, dict) else None
        results = results if isinstance(results, list) else []  # e.g. {"results": 1}
        item = next((r for r in results if isinstance(r, dict) and r.get("data") is not None), None)
        code = data.get("responseStatusCode") if isinstance(data, dict) else None
        if item is None:
            raise BadAudio(
                f"Aspose reported the task Completed ({code}) but sent no audio in results. "
                "Send the text again; report it to Aspose if it repeats.",
                provider=PROVIDER,
            )
        encoded = item["data"]
        try:
            audio = base64.b64decode(encoded, validate=True) if isinstance(encoded, str) else None
        except (binascii.Error, ValueError):
            audio = None
        if audio is None:
            raise BadAudio(
                f"Aspose's results[0].data is not valid base64 ({str(encoded)[:40]!r}…), so "
                "the WAV cannot be decoded. Send the text again.",
                provider=PROVIDER,
            )
        try:
            return Clip.from_bytes(
                audio,
                text=self.body["text"],
                voice="aspose:English",
                content_type="audio/wav",
                meta={
                    "task_id": ids["task_id"],
                    "result_type": item.get("type"),
                    "warnings": _messages(data, "warnings"),
                    "trial": self.trial,
                },
            )
        except BadAudio as exc:
            raise BadAudio(f"aspose: {exc}", provider=PROVIDER) from None


def _task_id(text: str) -> str | None:
    """The id from a plain-text answer, with or without JSON quotes around it."""
    text = text.strip()
    if text.startswith('"'):
        try:
            text = json.loads(text)
        except ValueError:
            return None
        if not isinstance(text, str):
            return None
        text = text.strip()
    return text if TASK_ID.match(text) else None


def _messages(data: Mapping[str, Any], key: str) -> list[str]:
    error = data.get("error")
    values = error.get(key) if isinstance(error, dict) else None
    return [str(v) for v in values] if isinstance(values, list) else []
