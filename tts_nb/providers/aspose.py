"""Aspose.OCR Cloud text-to-speech: token → ``POST ConvertTextToSpeech`` → poll → inline WAV.

The protocol, as Aspose's documents and generated SDKs show it:

* auth: OAuth2 client credentials. ``POST /connect/token`` (form ``grant_type``,
  ``client_id``, ``client_secret``) gives ``{"access_token", "expires_in": 3600}``, sent as
  ``Authorization: Bearer …``. Aspose asks clients to cache tokens, and locks a
  client_id/secret pair out for 10 minutes (429, ``Retry-After: 600``) after 5 rejected
  token requests, so a rejected secret must never be retried in a loop;
* ``POST /v5.0/ocr/ConvertTextToSpeech`` with ``{"text", "settings": {"language": "English",
  "resultType": "Wav"}}`` (the only values supported) answers the task id as plain text;
* ``GET …/ConvertTextToSpeech?id=`` answers ``taskStatus`` ``Pending`` | ``Processing`` |
  ``Completed`` | ``Error`` | ``NotExist`` and, once completed, the WAV as base64 in
  ``results[0].data``; results are kept for 24 hours after submission;
* ``DELETE …/ConvertTextToSpeech?id=`` removes a task (Aspose's SDKs,
  ``convert_text_to_speech_api.py``): what ``job.cancel()`` sends;
* ``…/ConvertTextToSpeechTrial`` is the same without auth: at most 500 characters and 10
  requests a day from one IP address.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

from ..adapters import ASPOSE as ASPOSE_ADAPTER
from ..client import Client, announce_simulator, resolve_endpoint
from ..clip import Clip
from ..credentials import Secret, find_credentials
from ..errors import (
    AuthError,
    BadAudio,
    InvalidInput,
    ProviderError,
    QuotaError,
)
from ..job import Call, Job, Observation
from ..policy import Adaptive, PollPolicy
from ..state import State
from ..transport import parse_retry_after
from ._common import raw_status, unknown_status

PROVIDER = "aspose"
TOKEN_PATH = "/connect/token"
TTS_PATH = "/v5.0/ocr/ConvertTextToSpeech"
TRIAL_PATH = "/v5.0/ocr/ConvertTextToSpeechTrial"
KIND = "text_to_speech"
TRIAL_KIND = "trial_text_to_speech"
LANGUAGES = ("English",)
RESULT_TYPES = ("Wav",)
TRIAL_MAX_CHARS = 500
TRIAL_DAILY_CALLS = 10
RETENTION_S = 24 * 3600.0
TOKEN_MARGIN_S = 60.0
# A token request is tried at most this often, whatever the client's `retry.attempts` (the
# count it always had): the lock is held meanwhile, and every job of the client waits.
TOKEN_MAX_ATTEMPTS = 2
NO_TOKEN = "Could not get an Aspose access token, so no speech was requested"
ISSUED_KEPT = 32  # a token lives an hour: this covers more than a day of refreshes
LOCKOUT_NOTE = (
    "tts_nb does not retry a rejected secret: Aspose locks a client_id/secret pair out for "
    "10 minutes after 5 failed token requests."
)
CREDENTIALS_FIX = (
    "Check ASPOSE_CLIENT_ID and ASPOSE_CLIENT_SECRET (Aspose Cloud dashboard → Applications), "
    "then create a new tn.Aspose client."
)
STATUS = {
    "Pending": State.PENDING,
    "Processing": State.RUNNING,
    "Completed": State.SUCCEEDED,
    "Error": State.FAILED,
}
TASK_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")


class Aspose(Client):
    """Aspose.OCR Cloud's text-to-speech (English, WAV).

    Args:
        client_id, client_secret: the application's credentials; default ``ASPOSE_CLIENT_ID``
            and ``ASPOSE_CLIENT_SECRET`` (or a ``.env`` file). Without them (and without
            ``trial=True``) the embedded simulator is used and a banner says so.
        base_url: default ``TTS_NB_ASPOSE_URL``, else https://api.aspose.cloud.
        trial: use the evaluation endpoints, which need no account: at most 500 characters a
            text and 10 requests a day from one IP address, and a notice is read aloud in
            the audio.
        policy: how to poll. The default is `Adaptive`: Aspose jobs take a few seconds that
            grow with the text, so a first look near the learned finish time, then one a
            second, hears of the result sooner with fewer requests than a backoff. With the
            simulator's durations (4000 jobs per length, after learning), texts of 50, 200
            and 500 characters took 1.8, 2.3 and 4.6 polls and were seen 0.6 s after they
            finished; `Backoff(1, 1.5)` took 2.2, 3.4 and 4.8 polls and was 0.7, 1.5 and
            2.8 s late. Fewer requests matter most in trial mode, whose allowance is small.
        min_interval: the fastest polling allowed; 1 s (Aspose says to look again "in a
            couple of seconds").

    Example:
        >>> aspose = tn.Aspose()
        >>> clip = aspose.text_to_speech("Read this text aloud.").wait(60)
        >>> clip.save("aloud.wav")
    """

    provider = PROVIDER
    label = "Aspose"
    key_variables = ("ASPOSE_CLIENT_ID", "ASPOSE_CLIENT_SECRET")
    real_url = "https://api.aspose.cloud"
    url_env = "TTS_NB_ASPOSE_URL"
    secret_headers = {"authorization": "Bearer $ASPOSE_TOKEN"}
    secret_fields = {"client_id": "$ASPOSE_CLIENT_ID", "client_secret": "$ASPOSE_CLIENT_SECRET"}
    secret_notes = {
        "$ASPOSE_TOKEN": "ASPOSE_TOKEN is the access_token of the /connect/token answer"
    }
    adapter = ASPOSE_ADAPTER
    default_min_interval = 1.0
    default_timeout = 10 * 60.0
    default_policy: PollPolicy = Adaptive()
    duration_prior = (1.5, 0.015)

    def __init__(
        self,
        client_id: str | None = None,
        client_secret: str | None = None,
        base_url: str | None = None,
        trial: bool = False,
        policy: PollPolicy | None = None,
        min_interval: float | None = None,
        **options: Any,
    ) -> None:
        found = find_credentials(
            {"ASPOSE_CLIENT_ID": client_id, "ASPOSE_CLIENT_SECRET": client_secret},
            base_url=base_url,
            url_env=self.url_env,
        )  # the endpoint comes with the keys: a .env URL only for .env keys
        cid, secret = found.key("ASPOSE_CLIENT_ID"), found.key("ASPOSE_CLIENT_SECRET")
        if (cid is None) != (secret is None) and not trial:
            missing = "ASPOSE_CLIENT_SECRET" if secret is None else "ASPOSE_CLIENT_ID"
            raise InvalidInput(
                f"Aspose needs both a client id and a client secret, but {missing} is missing: "
                "pass client_id= and client_secret=, set both variables, or pass trial=True "
                "to try it without an account.",
                provider=PROVIDER,
            )
        url, simulated = resolve_endpoint(
            PROVIDER,
            has_key=trial or cid is not None,
            base_url=found.url,
            real_url=self.real_url,
        )
        if simulated:
            from ..simulator import shared

            sim = shared()
            url = sim.urls[PROVIDER]
            if not trial:
                cid = Secret(sim.credentials["aspose_client_id"])
                secret = Secret(sim.credentials["aspose_client_secret"])
            announce_simulator(url)
        self.trial = trial
        self._client_id = cid
        self._client_secret = secret
        self.tokens = TokenCache(self)
        super().__init__(
            base_url=url, simulated=simulated, policy=policy, min_interval=min_interval, **options
        )

    # ---------------------------------------------------------------- plumbing
    def _auth_headers(self) -> dict[str, str]:
        if self.trial:
            return {}
        return {"Authorization": f"Bearer {self.tokens.get(None)}"}

    def _secret_values(self) -> Iterable[str]:
        values = list(self.tokens.issued())
        # The id is half of the pair that unlocks the account: it is masked like the secret.
        for credential in (self._client_id, self._client_secret):
            if credential:
                values.append(credential.reveal())
        return values

    def _describe_error(self, response) -> str | None:
        """Aspose answers RFC 7807 ProblemDetails (``title``, ``detail``, ``errors``) from the
        API and OAuth2 ``{"error", "error_description"}`` from ``/connect/token``."""
        try:
            data = response.json()
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        parts = [data.get("title"), data.get("detail")]
        errors = data.get("errors")
        if isinstance(errors, dict):
            parts += [f"{name}: {' '.join(map(str, msgs))}" for name, msgs in errors.items()]
        parts += [data.get("error"), data.get("error_description")]
        said = " — ".join(str(part) for part in parts if part)
        if response.status_code == 401:
            said += (
                " The access token was not accepted; tts_nb fetches a new one once and then "
                "gives up. " + CREDENTIALS_FIX
            )
        elif response.status_code == 403:
            said += (
                " These credentials may not use this API: check the application's plan in the "
                "Aspose Cloud dashboard."
            )
        return said or None

    def __repr__(self) -> str:
        where = "simulator" if self.simulated else self.base_url
        return f"<Aspose {where}{' trial' if self.trial else ''}>"

    # ------------------------------------------------------------------ public
    def text_to_speech(
        self,
        text: str,
        language: str = "English",
        *,
        policy: PollPolicy | None = None,
        force: bool = False,
    ) -> Job:
        """Start reading `text` aloud; returns a running `Job` at once (result: a WAV `Clip`).

        An identical request that is still running returns that job, and one that succeeded
        before returns its stored result at once; ``force=True`` submits anyway.

        Args:
            text: what to say (English only; at most 500 characters in trial mode).
            language: ``"English"``, the only language Aspose reads aloud.
            policy: how to poll this job (default: the client's).
            force: submit even when an identical request ran before.

        Raises:
            InvalidInput: before any request, naming the fix.
        """
        text = self._validate(text, language)
        body = {"text": text, "settings": {"language": "English", "resultType": "Wav"}}
        operation = SpeechOperation(self, body, trial=self.trial)
        request = {"text": text, "voice": "English", "language": "English", "trial": self.trial}
        return self._start(operation, policy=policy, request=request, text=text, force=force)

    def _rebuild_operation(
        self, kind: str, body: Mapping[str, Any], request: Mapping[str, Any]
    ) -> SpeechOperation:
        """A recorded job's protocol half, so `tn.resume()` can poll it again."""
        if kind not in (KIND, TRIAL_KIND) or not isinstance(body, Mapping) or "text" not in body:
            raise InvalidInput(f"aspose cannot resume a {kind!r} job.", provider=PROVIDER)
        return SpeechOperation(self, body, trial=kind == TRIAL_KIND)

    def _validate(self, text: str, language: str) -> str:
        if not isinstance(text, str) or not text.strip():
            raise InvalidInput("text is empty: give the sentence to speak.", provider=PROVIDER)
        if not isinstance(language, str) or language.strip().lower() not in ("english", "en"):
            raise InvalidInput(
                f"language={language!r} is not supported: Aspose.OCR Cloud reads aloud only "
                'English texts. Use language="English" (or another provider for other '
                "languages).",
                provider=PROVIDER,
            )
        text = text.strip()
        if self.trial and len(text) > TRIAL_MAX_CHARS:
            raise InvalidInput(
                f"The text has {len(text)} characters, but Aspose's trial accepts at most "
                f"{TRIAL_MAX_CHARS}: shorten it, split it into several requests, or use an "
                "account (client_id/client_secret) instead of trial=True.",
                provider=PROVIDER,
            )
        return text


class TokenCache:
    """The client's access token: one request for many jobs, and no retry of a rejected secret.

    The lock is held while a token is requested, so jobs that start together wait for that
    one request instead of each sending their own. A rejection (400/401) or a lockout (429) is
    remembered: later jobs of this client fail at once without sending anything, because
    every further failed request brings the 10-minute lockout closer.
    """

    def __init__(self, client: Aspose) -> None:
        self._client = client
        # Re-entrant: while a token is requested, the transport asks `issued()` for secrets.
        self._lock = threading.RLock()
        self._token: str | None = None
        self._expires_at = 0.0
        self._issued: tuple[str, ...] = ()  # replaced whole, so it is read without the lock
        self._refusal: tuple[str, int, float | None] | None = None  # message, status, until

    def issued(self) -> tuple[str, ...]:
        """The tokens this client received lately (all are scrubbed from recorded text)."""
        return self._issued

    def get(self, call: Call | None) -> str:
        """A valid token, requesting one (recorded in `call`'s job history) when needed."""
        with self._lock:
            now = self._now()
            self._raise_if_refused(now)
            if self._token is not None and now < self._expires_at:
                return self._token
            return self._request(call, now)

    def invalidate(self, token: str) -> None:
        """Forget `token` after the API refused it (unless another job already replaced it)."""
        with self._lock:
            if self._token == token:
                self._token = None

    def _now(self) -> float:
        client = self._client
        if client.scheduler is not None:
            return client.scheduler.clock.now()
        from ..scheduler import default_scheduler

        return default_scheduler().clock.now()

    def _raise_if_refused(self, now: float) -> None:
        if self._refusal is None:
            return
        until = self._refusal[2]
        if until is not None and now >= until:
            self._refusal = None
            return
        raise self._refusal_error(now, again=True)

    def _refusal_error(self, now: float, again: bool = False) -> AuthError:
        message, status, until = self._refusal
        if again:
            message += " (Not sent again: this client already got that answer.)"
        wait = None if until is None else max(0.0, until - now)
        return AuthError(message, provider=PROVIDER, status_code=status, retry_after=wait)

    def _request(self, call: Call | None, now: float) -> str:
        client = self._client
        if client._client_id is None or client._client_secret is None:
            raise AuthError(
                "No Aspose credentials: pass client_id= and client_secret=, set "
                "ASPOSE_CLIENT_ID and ASPOSE_CLIENT_SECRET, or use trial=True.",
                provider=PROVIDER,
            )
        form = {
            "grant_type": "client_credentials",
            "client_id": client._client_id.reveal(),
            "client_secret": client._client_secret.reveal(),
        }
        response = self._post_token(call, form)
        status = response.status_code
        if status in (400, 401):
            # The server's words may echo the credentials it refused.
            said = client.transport.scrub(client._describe_error(response) or f"HTTP {status}")
            raise self._refused(
                f"Aspose rejected the client id and secret at {TOKEN_PATH} ({status}: {said}). "
                f"{LOCKOUT_NOTE} {CREDENTIALS_FIX}",
                status,
                None,
            )
        if status == 429:
            wait = parse_retry_after(response.headers.get("Retry-After"))
            wait = 600.0 if wait is None else wait
            raise self._refused(
                f"Aspose has locked this client id and secret out of {TOKEN_PATH} for "
                f"{wait:g} s (429) after repeated failed token requests. Wait that long "
                f"without retrying, and fix the credentials first: {CREDENTIALS_FIX}",
                status,
                now + wait,
            )
        if status >= 500:
            error = client.transport.error_for(response)
            raise ProviderError(f"{NO_TOKEN}: {error}", provider=PROVIDER, status_code=status)
        if status >= 400:
            raise client.transport.error_for(response)
        data = client.transport.json_of(response)
        token = data.get("access_token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            raise ProviderError(
                f"Aspose's token answer has no access_token (keys: {sorted(data or {})}).",
                provider=PROVIDER,
            )
        lifetime = data.get("expires_in")
        lifetime = float(lifetime) if isinstance(lifetime, (int, float)) else 3600.0
        self._token = token
        self._issued = (*self._issued[-(ISSUED_KEPT - 1) :], token)
        self._expires_at = now + lifetime - min(TOKEN_MARGIN_S, lifetime / 2)
        return token

    def _post_token(self, call: Call | None, form: dict[str, str]):
        """POST the form, again after a 5xx or a lost connection the client's `retry` finds
        retryable (only rejected logins count towards the lockout, and an unused token costs
        nothing), at most TOKEN_MAX_ATTEMPTS times. A 4xx is never sent again."""
        transport = self._client.transport
        retry = transport.retry
        attempts = min(retry.attempts, TOKEN_MAX_ATTEMPTS)
        delays = retry.delays()
        recorder = None if call is None else call._recorder  # the transport masks the token
        attempt = 1
        while True:
            try:
                response = transport.request(
                    "POST",
                    TOKEN_PATH,
                    step="token",
                    recorder=recorder,
                    authed=False,
                    form=form,
                    headers={"Accept": "application/json"},
                    raise_for_status=False,
                )
            except ProviderError as exc:
                if attempt >= attempts or not retry.retryable(exc):
                    raise ProviderError(f"{NO_TOKEN}: {exc}", provider=PROVIDER) from None
            else:
                if (
                    response.status_code < 500
                    or attempt >= attempts
                    or not retry.retryable(transport.error_for(response))
                ):
                    return response
            attempt += 1
            time.sleep(next(delays))  # 0 by default: the first retry goes at once

    def _refused(self, message: str, status: int, until: float | None) -> AuthError:
        """Remember a refusal (until `until`, or for good) and return its error."""
        self._refusal = (message, status, until)
        self._token = None
        return self._refusal_error(self._now())


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


__all__ = ["Aspose", "TokenCache", "SpeechOperation"]
