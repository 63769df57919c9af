"""Aspose's OAuth2 client-credentials tokens: one request for many jobs, never a retried rejection.

``POST /connect/token`` (form ``grant_type``, ``client_id``, ``client_secret``) gives
``{"access_token", "expires_in": 3600}``, sent as ``Authorization: Bearer …``. Aspose asks
clients to cache tokens, and locks a client_id/secret pair out for 10 minutes (429,
``Retry-After: 600``) after 5 rejected token requests, so a rejected secret must never be
retried in a loop.

This lives apart from the client so the adapter reads like the others: the client holds a
`TokenCache` and asks it for a token; the lock, the expiry clock, the lockout rules and the
memory of refusals are all here.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from ..errors import AuthError, ProviderError
from ..job import Call
from ..transport import parse_retry_after
from .aspose_protocol import PROVIDER

if TYPE_CHECKING:
    from .aspose import Aspose

TOKEN_PATH = "/connect/token"
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
