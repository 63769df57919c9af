"""Exchange records: every request and its answer as a job's history shows them, secrets masked.

Auth headers show their scheme and a mask, known secrets are scrubbed from everything else
(`scrub` is the transport's, which knows the secrets in use), OAuth token fields in a body are
masked whoever sent them, uploads show as name, type and size, and each attempt urllib3
retried becomes a record of its own (teaching: show them).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

from .bodies import size

MASK = "••••"
SECRET_HEADERS = frozenset({"authorization", "x-api-key", "cookie", "proxy-authorization"})
BODY_PREVIEW = 2000
# OAuth token answers carry a live credential the transport cannot know before reading it
# (Aspose's /connect/token): masked in every preview, whoever sent the request.
TOKEN_FIELD = re.compile(r'("(?:access|refresh|id)_token"\s*:\s*")[^"]*("?)')
# Response headers kept in the history: what the engine and the teaching views read, and what
# providers report about a synchronous answer (its audio length, the credits it cost).
KEPT_RESPONSE_HEADERS = frozenset(
    {"content-type", "content-length", "retry-after", "location"}
    | {"x-audio-duration", "x-credits-required"}
)


@dataclass
class Exchange:
    """One HTTP request and its answer (or failure), as shown in a job's history."""

    step: str
    method: str
    url: str
    started: float
    status: int | None = None
    latency_s: float | None = None
    request_headers: dict[str, str] = field(default_factory=dict)
    request_body: str | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: str | None = None
    error: str | None = None
    attempt: int = 1


Recorder = Callable[[Exchange], None]
Scrub = Callable[[str], str]


def mask_tokens(text: str) -> str:
    """`text` with the values of OAuth token fields ("access_token": "…") masked."""
    return TOKEN_FIELD.sub(lambda m: f"{m.group(1)}{MASK}{m.group(2)}", text)


def emit(recorder: Recorder | None, record: Exchange) -> None:
    if recorder is not None:
        recorder(record)


def emit_retries(
    recorder: Recorder | None, record: Exchange, response: requests.Response, scrub: Scrub
) -> None:
    """Record each attempt urllib3 retried before the answer we got (teaching: show them)."""
    retries = getattr(response.raw, "retries", None)
    history = getattr(retries, "history", ()) or ()
    for attempt, item in enumerate(history, start=1):
        emit(
            recorder,
            Exchange(
                step=record.step,
                method=record.method,
                url=record.url,
                started=record.started,
                status=item.status,
                request_headers=record.request_headers,
                error=scrub(repr(item.error)) if item.error else "retried",
                attempt=attempt,
            ),
        )
    record.attempt = len(history) + 1


def mask_headers(headers, scrub: Scrub) -> dict[str, str]:
    masked = {}
    for key, value in headers.items():
        if key.lower() in SECRET_HEADERS:
            scheme = value.split(" ", 1)[0] + " " if " " in value else ""
            masked[key] = scheme + MASK
        else:
            masked[key] = scrub(value)
    return masked


def preview_request(
    json_body: Any,
    form: dict[str, str] | None,
    files: dict[str, tuple[str, bytes, str]] | None,
    scrub: Scrub,
) -> str | None:
    if json_body is not None:
        return scrub(json.dumps(json_body, ensure_ascii=False))[:BODY_PREVIEW]
    if form is None and files is None:
        return None
    shown = {k: (MASK if "secret" in k or "password" in k else v) for k, v in (form or {}).items()}
    # a multipart upload shows each file as its name, type and size, never its bytes
    shown.update({k: f"<{n}, {t}, {size(len(d))}>" for k, (n, d, t) in (files or {}).items()})
    return scrub("&".join(f"{k}={v}" for k, v in shown.items()))[:BODY_PREVIEW]


def preview_response(response: requests.Response, scrub: Scrub) -> str:
    kind = response.headers.get("Content-Type", "")
    body = response.content or b""
    readable = kind.startswith("text/") or "json" in kind or "xml" in kind
    if readable or body[:1] in (b"{", b"[", b"<"):
        text = body[:BODY_PREVIEW].decode("utf-8", "replace")
        return scrub(mask_tokens(text))
    return f"<{len(body)} bytes {kind or 'binary'}>"


def kept_headers(response: requests.Response, scrub: Scrub) -> dict[str, str]:
    """The response headers a history keeps (`KEPT_RESPONSE_HEADERS`), scrubbed."""
    return {
        k: scrub(v)  # a Location may quote a key
        for k, v in response.headers.items()
        if k.lower() in KEPT_RESPONSE_HEADERS
    }
