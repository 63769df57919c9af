"""Status handling every provider needs, written once so the providers cannot drift apart.

Each provider's answers differ, but three readings are the same everywhere:

* a status word the table does not know is read as RUNNING, with a note, so a new word
  from the provider costs a few polls until the deadline instead of failing a paid job;
* a 404 on a poll means the provider no longer knows the job: NOT_FOUND;
* a refused (401/403), missing (404) or malformed (400, how storage hosts answer an expired
  signed URL) result link means the result expired: `ExpiredResult`, which tells the user
  that only a new (charged) request brings the audio back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import AuthError, ExpiredResult, InvalidInput, NotFound, TTSError
from ..job import Call, Observation
from ..state import State

# What a result download raises when its link no longer works.
LINK_ERRORS = (AuthError, NotFound, InvalidInput)


def raw_status(value: Any) -> str:
    """A status field as text, for tables and histories, whatever type it came as."""
    return value if isinstance(value, str) else repr(value)


def unknown_status(who: str, raw: str, detail: str = "") -> Observation:
    """An unknown status word: still running until the deadline (`who` names the field,
    e.g. "CAMB.AI status"; `detail` adds what else the answer said)."""
    return Observation(
        State.RUNNING,
        raw_status=raw,
        message=f"unknown {who} {raw!r}{detail}: treated as still running until the deadline",
    )


def not_found(message: str) -> Observation:
    """A poll answered 404: the provider no longer knows the job."""
    return Observation(State.NOT_FOUND, raw_status="404", message=message)


def expired(
    error: TTSError, lead: str, advice: str, *, provider: str, any_invalid: bool = False
) -> TTSError:
    """The error for a failed result download: `ExpiredResult` ("<lead> (<status>): <advice>")
    for auth errors, 404 and 400; another 4xx answer stays as it is unless `any_invalid`
    (Typecast's CDN, whose every refusal means the link is gone)."""
    if isinstance(error, InvalidInput) and error.status_code != 400 and not any_invalid:
        return error
    return ExpiredResult(
        f"{lead} ({error.status_code}): {advice}",
        provider=provider,
        status_code=error.status_code,
    )


def get_result(call: Call, url: str, gone: Callable[[TTSError], TTSError], *, authed: bool) -> Any:
    """``GET url`` for a result; a link that no longer works raises ``gone(error)``."""
    try:
        return call.request("GET", url, authed=authed)
    except LINK_ERRORS as exc:
        raise gone(exc) from None
