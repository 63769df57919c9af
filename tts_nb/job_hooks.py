"""A job's calls to collaborators outside its life cycle, each guarded so it cannot break one.

The provider's cancel request, the duration model and the ledger's stored copy of an expired
result are all optional extras: a job without them submits, polls and fetches the same way.
Each is a plain function here, so `Job` reads as time and state, and each swallows what its
collaborator raises (logged) because the job's real outcome must never be lost to them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .errors import TTSError
from .policy import DurationModel

if TYPE_CHECKING:
    from .operation import Call

log = logging.getLogger("tts_nb")


def ask_provider_to_cancel(
    remote: Callable[[Call, Mapping[str, Any]], str],
    call: Call,
    ids: Mapping[str, Any],
    *,
    provider: str,
    job_id: str,
) -> str:
    """Send the operation's cancel request (Aspose's DELETE) and return what it answered, in
    words, for the history; a failure is a sentence too, since the job is cancelled anyway."""
    try:
        return remote(call, ids)
    except TTSError as error:
        return f"{provider} was not told to delete the job: {error}"
    except Exception as exc:  # a parser bug must not be lost on a worker
        log.exception("tts_nb: cancelling job %s at the provider failed", job_id)
        return f"{provider} was not told to delete the job: {type(exc).__name__}"


def learn_duration(
    model: DurationModel | None,
    characters: int,
    *,
    t0: float,
    last_running_at: float | None,
    now: float,
    resumed: bool,
) -> None:
    """Feed the provider's duration model: the job ended between the last two looks (the
    model fits that interval; its middle would bias it). A resumed job that no kernel saw
    running finished at an unknown time, so it teaches nothing."""
    if model is None or (resumed and last_running_at is None):
        return
    before = last_running_at if last_running_at is not None else t0
    model.observe_interval(characters, before - t0, now - t0)


def stored_copy(
    recover: Callable[[], tuple[Any, str] | None] | None, job_id: str
) -> tuple[Any, str] | None:
    """The stored copy of an expired result, as (result, note for the history), or None.
    `recover` is the client's or the ledger's search; a broken ledger counts as no copy."""
    if recover is None:
        return None
    try:
        found = recover()
    except Exception:  # a broken ledger must not hide the real outcome
        log.exception("tts_nb: looking for a stored copy of job %s failed", job_id)
        return None
    if found is None:
        return None
    result, source = found
    note = (
        f"the provider's copy has expired; the stored copy of {source} is used "
        "(no request was charged)"
    )
    return result, note
