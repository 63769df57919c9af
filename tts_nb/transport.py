"""HTTP for one client: a `requests.Session`, retries for GETs only, typed errors, exchange records.

Why a layer of our own over `requests`:

* **Quota safety.** urllib3's `Retry` re-sends GETs on 5xx and dropped connections, but a POST
  that may have reached the server is never re-sent: a second submit can cost quota twice.
* **Credentials stay home.** Auth headers are added per request and only when the URL's origin is
  the API's own. Redirects are followed here, not by requests (which keeps custom headers such as
  `x-api-key` on cross-host redirects), and only to http(s) URLs. The session ignores
  `~/.netrc` (`trust_env=False`), whose `default` entry would hand a password to any host a
  provider names; proxies and CA bundles are read from the environment here instead. A real
  service's client fetches other hosts only over https and never from private addresses.
* **Downloads end.** A body is read in small pieces, each waiting at most until the download's
  deadline, so an answer that trickles in cannot hold a worker past `download_timeout`.
* **History and teaching.** Every request, including each retried attempt, becomes an `Exchange`
  record with secrets masked; jobs turn them into history rows.

The request path is here; `exchange` builds and masks the records, `url_safety` decides which
URLs may be fetched, and `bodies` reads an answer within its size and time limits.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from http.client import HTTPException
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import urllib3.util.retry
from requests.adapters import HTTPAdapter

from .bodies import read_body
from .errors import (
    AuthError,
    InvalidInput,
    NotFound,
    ProviderError,
    QuotaError,
    TTSError,
)
from .exchange import (
    BODY_PREVIEW,
    KEPT_RESPONSE_HEADERS,
    MASK,
    SECRET_HEADERS,
    Exchange,
    Recorder,
    emit,
    emit_retries,
    kept_headers,
    mask_headers,
    mask_tokens,
    preview_request,
    preview_response,
)
from .retry import DEFAULT_RETRY, Retry
from .url_safety import (
    environment_settings,
    is_loopback,
    origin_of,
    refuse_scheme,
    refuse_unsafe_host,
)

_environment_settings = environment_settings  # the name tests/test_transport_contracts.py reads
MAX_REDIRECTS = 5


class Transport:
    """Sends a client's requests. One per client; safe to use from the engine's worker threads.

    Args:
        base_url: the API's root; relative paths are joined to it and its origin is the only
            one that ever receives credentials.
        auth_headers: returns the headers that authenticate a request (called per request, so a
            token can be refreshed).
        describe_error: turns an error response into the provider's own words (or None).
        secrets: returns every secret value currently in use, scrubbed from all recorded text.
        provider: the provider's name, carried by errors.
        timeout: (connect, read) seconds for every request.
        retry: the client's `tn.Retry`: a GET is tried `retry.attempts` times in all after a
            500/502/504 or a dropped connection, waiting `retry.delays()`; jobs read the
            same value for their fetches and resubmits.
        retries: re-sends of a GET, when it should differ from `retry.attempts - 1` (tests
            that script every answer set 0).
        max_bytes: the largest answer accepted (100 MiB): a bigger one is cut off, unread.
        download_timeout: seconds one answer may take to arrive in full (60 s), however
            steadily it trickles in: no single read waits past it.
        simulated: the client talks to the embedded simulator. Otherwise (a real service)
            URLs on other origins are fetched only over https and never from loopback,
            private or link-local addresses, unless the API itself is on loopback (a local
            stand-in the caller configured).
    """

    def __init__(
        self,
        base_url: str,
        *,
        provider: str,
        auth_headers: Callable[[], dict[str, str]] = dict,
        describe_error: Callable[[requests.Response], str | None] = lambda response: None,
        secrets: Callable[[], Iterable[str]] = tuple,
        timeout: tuple[float, float] = (5.0, 30.0),
        retry: Retry = DEFAULT_RETRY,
        retries: int | None = None,
        pool_size: int = 16,
        max_bytes: int = 100 * 2**20,
        download_timeout: float = 60.0,
        simulated: bool = False,
    ) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.max_bytes = max_bytes
        self.download_timeout = download_timeout
        self.origin = origin_of(self.base_url)
        self.provider = provider
        self.timeout = timeout
        self._auth_headers = auth_headers
        self._describe_error = describe_error
        self._secrets = secrets
        self.guard_hosts = not simulated and not is_loopback(self.base_url)
        self.session = requests.Session()
        self.session.trust_env = False  # no ~/.netrc; see _environment_settings
        self.retry = retry
        adapter = HTTPAdapter(
            max_retries=_get_retry(retry, retries),
            pool_connections=4,
            pool_maxsize=pool_size,
        )
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def url(self, path: str) -> str:
        """An absolute URL for a path under the API root."""
        return urljoin(self.base_url, path.lstrip("/"))

    def is_own_origin(self, url: str) -> bool:
        return origin_of(url) == self.origin

    def scrub(self, text: str) -> str:
        """`text` with every secret in use replaced by a mask."""
        for secret in self._secrets():
            if secret and len(secret) >= 4:
                text = text.replace(secret, MASK)
        return text

    def request(
        self,
        method: str,
        url: str,
        *,
        step: str,
        recorder: Recorder | None = None,
        authed: bool = True,
        json_body: Any = None,
        form: dict[str, str] | None = None,
        files: dict[str, tuple[str, bytes, str]] | None = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        max_bytes: int | None = None,
        download_timeout: float | None = None,
        raise_for_status: bool = True,
    ) -> requests.Response:
        """Send one request (following redirects), record it, and return the response.

        Raises a typed `TTSError` for connection failures and, unless `raise_for_status` is
        False, for HTTP errors. Bodies larger than `max_bytes` or slower than
        `download_timeout` (default: the transport's) are refused.
        """
        max_bytes = self.max_bytes if max_bytes is None else max_bytes
        download_timeout = self.download_timeout if download_timeout is None else download_timeout
        url = self._absolute(url)
        for _hop in range(MAX_REDIRECTS + 1):
            response = self._send_once(
                method,
                url,
                step=step,
                recorder=recorder,
                authed=authed,
                json_body=json_body,
                form=form,
                files=files,
                params=params,
                headers=headers,
                max_bytes=max_bytes,
                download_timeout=download_timeout,
            )
            location = response.headers.get("Location")
            if response.status_code in (301, 302, 303, 307, 308) and location and method == "GET":
                url = urljoin(url, location)
                params = None  # the Location carries its own query
                continue
            break
        else:
            raise ProviderError(
                f"{self.provider}: more than {MAX_REDIRECTS} redirects for {self._safe_url(url)}.",
                provider=self.provider,
            )
        if raise_for_status and response.status_code >= 400:
            raise self.error_for(response)
        return response

    def _absolute(self, url: str) -> str:
        """`url` itself when it names a scheme, else a path on the API's origin: parsed, not
        string-matched, so "/v2/q?next=http://x" is a path."""
        try:
            scheme = urlsplit(url).scheme
        except ValueError:
            return url  # refused as malformed when sent
        return url if scheme else self.url(url)

    def _send_once(
        self,
        method,
        url,
        *,
        step,
        recorder,
        authed,
        json_body,
        form,
        files,
        params,
        headers,
        max_bytes,
        download_timeout,
    ) -> requests.Response:
        try:
            scheme = urlsplit(url).scheme
            own_origin = self.is_own_origin(url)
        except ValueError:  # e.g. "http://[::1" or a port that is not a number
            scheme, own_origin = "malformed", False
        refuse_scheme(scheme, self._safe_url(url), self.provider)
        if self.guard_hosts and not own_origin:
            refuse_unsafe_host(url, scheme, self._safe_url(url), self.provider)
        send_headers = {"User-Agent": "tts_nb"}
        if headers:
            send_headers.update(headers)
        if authed and own_origin:
            send_headers.update(self._auth_headers())
        try:
            prepared = self.session.prepare_request(
                requests.Request(
                    method,
                    url,
                    headers=send_headers,
                    json=json_body,
                    data=form,
                    files=files,
                    params=params,
                )
            )
        except (requests.RequestException, ValueError, UnicodeError) as exc:
            raise ProviderError(
                f"{self.provider}: cannot build the request to {self._safe_url(url)!r} "
                f"({type(exc).__name__}: {self.scrub(str(exc))[:200]}): a malformed URL from "
                "the provider's answer, or a value JSON cannot carry (NaN, infinity). Nothing "
                "was sent.",
                provider=self.provider,
            ) from None
        record = Exchange(
            step=step,
            method=method,
            url=self._safe_url(prepared.url),
            started=time.time(),
            request_headers=mask_headers(prepared.headers, self.scrub),
            request_body=preview_request(json_body, form, files, self.scrub),
        )
        t0 = time.monotonic()
        try:
            response = self.session.send(
                prepared,
                timeout=self.timeout,
                allow_redirects=False,
                stream=True,
                **environment_settings(prepared.url),
            )
            read_body(
                response,
                max_bytes=max_bytes,
                t0=t0,
                limit=download_timeout,
                read_timeout=self.timeout[1],
                provider=self.provider,
            )
        # Unreadable answers (a header that is not UTF-8, a broken status line) are as good as
        # no answer: a typed error, and a submit counts as maybe sent.
        except (requests.RequestException, ValueError, UnicodeError, HTTPException) as exc:
            record.latency_s = time.monotonic() - t0
            record.error = self.scrub(_describe_exception(exc))
            emit(recorder, record)
            raise self._connection_error(method, exc) from None
        except ProviderError as exc:  # too large or too slow: recorded, then raised
            record.latency_s = time.monotonic() - t0
            record.status = response.status_code
            record.error = str(exc)
            emit(recorder, record)
            raise
        record.latency_s = time.monotonic() - t0
        emit_retries(recorder, record, response, self.scrub)
        record.status = response.status_code
        record.response_headers = kept_headers(response, self.scrub)
        record.response_body = preview_response(response, self.scrub)
        emit(recorder, record)
        return response

    def error_for(self, response: requests.Response) -> TTSError:
        """The typed error for an HTTP error answer, in the provider's words plus what to do."""
        status = response.status_code
        said = self._describe_error(response) or _short_body(response)
        said = self.scrub(said)
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        method, url = response.request.method, self._safe_url(response.url)
        where = f"{self.provider} answered {status} to {method} {url}"
        text = f"{where}: {said}" if said else where
        kwargs = dict(provider=self.provider, status_code=status, retry_after=retry_after)
        # Each branch says whether asking again could help (`TTSError.retryable`).
        if status in (401, 403):
            return AuthError(text, retryable=False, **kwargs)
        if status == 402:
            return QuotaError(text, retryable=False, **kwargs)
        if status == 429:
            wait = f" The server asks to wait {retry_after:g} s." if retry_after else ""
            return QuotaError(
                f"{text}.{wait} Too many requests: slow down or retry later.",
                retryable=True,
                **kwargs,
            )
        if status in (404, 410):
            return NotFound(text, retryable=False, **kwargs)
        if status in (400, 413, 422):
            return InvalidInput(text, retryable=False, **kwargs)
        if status >= 500:
            return ProviderError(
                f"{text}. {_server_advice(self.provider, method)}", retryable=True, **kwargs
            )
        # Anything else (408, 409, an unexpected 4xx) is no verdict on the request itself.
        return ProviderError(text, retryable=True, **kwargs)

    def json_of(self, response: requests.Response) -> Any:
        """The response's JSON, or a ProviderError saying what came instead."""
        try:
            return response.json()
        except ValueError:
            kind = response.headers.get("Content-Type", "no content type")
            got = self.scrub(_short_body(response))
            raise ProviderError(
                f"{self.provider}: expected JSON from {response.request.method} "
                f"{self._safe_url(response.url)}, got {got!r} ({kind}).",
                provider=self.provider,
            ) from None

    def _connection_error(self, method: str, exc: requests.RequestException) -> ProviderError:
        never_connected = isinstance(exc, requests.ConnectTimeout) or (
            isinstance(exc, requests.ConnectionError) and "NewConnectionError" in repr(exc)
        )
        maybe_sent = method != "GET" and not never_connected
        detail = self.scrub(_describe_exception(exc))
        return ProviderError(
            f"{self.provider}: no answer to {method} ({detail}).",
            provider=self.provider,
            maybe_sent=maybe_sent,
            retryable=True,  # a lost connection says nothing about the request
        )

    def _safe_url(self, url: str | None) -> str:
        return self.scrub(url or "")

    def close(self) -> None:
        self.session.close()


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


class _GetRetry(urllib3.util.retry.Retry):
    """urllib3's retry loop waiting a `tn.Retry`'s delays instead of its own backoff."""

    def __init__(self, *, delays: tuple[float, ...] = (), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.delays = delays

    def new(self, **kwargs: Any) -> _GetRetry:
        copy = super().new(**kwargs)  # urllib3 rebuilds from its own fields only
        copy.delays = self.delays
        return copy

    def get_backoff_time(self) -> float:
        tried = len(self.history)  # retries so far, this one included
        if not tried or not self.delays:
            return 0.0
        return self.delays[min(tried, len(self.delays)) - 1]


def _get_retry(retry: Retry, retries: int | None) -> _GetRetry:
    """urllib3's settings for GETs, from the client's one retry value."""
    if retries is not None:
        retry = retry.with_attempts(retries + 1)
    resends = retry.attempts - 1
    return _GetRetry(
        delays=tuple(retry.delays()),
        total=resends,
        connect=resends,
        read=resends,
        status=resends,
        other=0,
        redirect=0,
        allowed_methods=frozenset({"GET"}),
        # 503 and 429 carry Retry-After: they go back to the engine, which waits as asked.
        status_forcelist=(500, 502, 504),
        raise_on_status=False,
        respect_retry_after_header=False,
    )


def _server_advice(provider: str, method: str) -> str:
    """What to do after a 5xx: the fault is the provider's, so waiting is the cure; for a
    submit, say why it was not re-sent and who can tell whether it was charged."""
    advice = f"{provider} failed on its side."
    if method == "POST":
        advice += (
            " tts_nb did not send the request again: a second submit could be charged twice."
            " A 5xx usually means nothing was made and nothing charged, but only the provider"
            " can say for sure (your account's usage page)."
        )
    return advice + f" Try again in a minute; if it keeps failing, check {provider}'s status page."


_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def _short_body(response: requests.Response) -> str:
    """The start of a body for a message; an HTML page (a proxy's or a load balancer's error
    page) only by its title, never as markup."""
    body = response.content or b""
    kind = response.headers.get("Content-Type", "").lower()
    if "html" in kind or body.lstrip()[:15].lower().startswith((b"<!doctype", b"<html")):
        title = _TITLE.search(body[:4096])
        named = title.group(1).decode("utf-8", "replace").split() if title else []
        return f"an HTML page ({' '.join(named)[:80] or 'no title'}, {len(body)} bytes)"
    return body[:300].decode("utf-8", "replace").strip()


def _describe_exception(exc: BaseException) -> str:
    if isinstance(exc, requests.Timeout):
        return "timed out"
    reason = exc.args[0] if exc.args else exc
    reason = getattr(reason, "reason", reason)
    return f"{type(exc).__name__}: {reason}"


__all__ = [
    "BODY_PREVIEW",
    "KEPT_RESPONSE_HEADERS",
    "MASK",
    "MAX_REDIRECTS",
    "SECRET_HEADERS",
    "Exchange",
    "Recorder",
    "Transport",
    "is_loopback",
    "mask_tokens",
    "origin_of",
    "parse_retry_after",
]
