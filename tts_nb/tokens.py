"""Continuation tokens: a job as a string that any process can resume, like azure-core's.

``job.continuation_token()`` returns ``tts_nb:1:`` followed by urlsafe base64 of a JSON object:
the provider, its API, the job's kind, the endpoint, the provider ids, the request body and
summary needed to fetch and label the result, and when the job was created and submitted.
It never holds a key or an access token: the process that resumes it uses its own
configuration, so a token can be written to a file, a DataFrame or a pickle sent to a worker.

The endpoint inside is not trusted: `Client.from_token` sends keys only to the provider's own
endpoint or the one configured in the resuming process (`Client.trusted_endpoints`).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from .errors import InvalidInput

PREFIX = "tts_nb"
VERSION = 1

_FIX = (
    "pass the string job.continuation_token() returned, unchanged, or the job's id from "
    "tn.jobs() when this machine's ledger has it"
)


@dataclass(frozen=True)
class ContinuationToken:
    """What a token carries (see the module docstring); `encode()` gives its string."""

    provider: str
    kind: str
    endpoint: str
    job: str
    created_at: float
    ids: dict[str, Any] = field(default_factory=dict)
    request: dict[str, Any] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    api: str | None = None
    submitted_at: float | None = None

    def encode(self) -> str:
        data = json.dumps(
            {"v": VERSION, **asdict(self)}, sort_keys=True, separators=(",", ":"), default=str
        )
        payload = base64.urlsafe_b64encode(data.encode()).decode().rstrip("=")
        return f"{PREFIX}:{VERSION}:{payload}"


def make(scrub: Callable[[str], str], **fields: Any) -> ContinuationToken:
    """A token of these fields, every string passed through `scrub` (the client's secret
    masking), so a key pasted into a text or echoed in an id never ends up inside."""
    fields["endpoint"] = str(fields["endpoint"]).rstrip("/")
    for name in ("ids", "request", "body"):
        fields[name] = _scrubbed(fields.get(name), scrub)
    return ContinuationToken(**fields)


def for_job(job: Any, operation: Any, transport: Any) -> ContinuationToken:
    """The token of `job` (call with its lock held, so ids and submit time belong together):
    the job's public fields, plus the API, request body and endpoint its operation and
    transport know; the transport's masking keeps its secrets out."""
    return make(
        getattr(transport, "scrub", str),
        provider=job.provider,
        api=getattr(operation, "api", None),
        kind=job.kind,
        endpoint=getattr(transport, "base_url", ""),
        job=job.id,
        created_at=job.created_at,
        ids=dict(job.provider_ids),
        request=job.request,
        body=getattr(operation, "body", None),
        submitted_at=job.submit_started_at,
    )


def is_token(value: Any) -> bool:
    """Whether `value` looks like a continuation token (rather than a job id)."""
    return isinstance(value, str) and value.startswith(f"{PREFIX}:")


def decode(token: str) -> ContinuationToken:
    """The token's fields, checked.

    Raises:
        InvalidInput: not a token, a token of another version, or a damaged one; the message
            names the fix.
    """
    if not is_token(token):
        raise InvalidInput(f"{_shown(token)} is not a tts_nb continuation token: {_FIX}.")
    _, version, payload = (token.split(":", 2) + ["", ""])[:3]
    if version != str(VERSION):
        raise InvalidInput(
            f"This continuation token has version {version!r}, and this tts_nb reads version "
            f"{VERSION}: resume it with the tts_nb that made it, or by the job's id from "
            "tn.jobs() when this machine's ledger has it."
        )
    try:
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (binascii.Error, ValueError):
        raise InvalidInput(
            f"This continuation token is damaged (not base64 JSON): {_FIX}."
        ) from None
    if not isinstance(data, dict) or data.pop("v", None) != VERSION:
        raise InvalidInput(f"This continuation token is damaged (no version inside): {_FIX}.")
    try:
        token_ = ContinuationToken(**data)
    except TypeError:
        raise InvalidInput(
            f"This continuation token is damaged (unknown fields): {_FIX}."
        ) from None
    _check(token_)
    return token_


def from_record(record: Mapping[str, Any], submitted_at: float | None) -> ContinuationToken:
    """The token of a ledger record that has none (written before tokens were stored)."""
    return ContinuationToken(
        provider=record["provider"],
        kind=record["kind"],
        endpoint=record["endpoint"].rstrip("/"),
        job=record["id"],
        created_at=record["created_at"],
        ids=dict(record["provider_ids"]),
        request=dict(record["request"]),
        body=record["body"],
        submitted_at=submitted_at,
    )


_TYPES: dict[str, tuple[type, ...]] = {
    "provider": (str,),
    "kind": (str,),
    "endpoint": (str,),
    "job": (str,),
    "created_at": (int, float),
    "ids": (dict,),
    "request": (dict,),
    "body": (dict, type(None)),
    "api": (str, type(None)),
    "submitted_at": (int, float, type(None)),
}


def _check(token: ContinuationToken) -> None:
    for name, kinds in _TYPES.items():
        value = getattr(token, name)
        if not isinstance(value, kinds) or isinstance(value, bool):
            raise InvalidInput(
                f"This continuation token is damaged ({name} is {type(value).__name__}): {_FIX}."
            )


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:37]}...'"


def _scrubbed(value: Any, scrub: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, Mapping):
        return {str(k): _scrubbed(v, scrub) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrubbed(v, scrub) for v in value]
    return value


__all__ = ["ContinuationToken", "decode", "from_record", "is_token", "make"]
