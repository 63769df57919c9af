"""What a job says: the errors it ends with and the notes it writes, as plain functions.

Kept apart from `Job` so the engine reads as time and state only, and so the wording, which
users read and tests pin word for word, is in one place. Nothing here touches a job's lock
or notifies anyone; the job calls these and records or raises what they return.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .errors import (
    ExpiredResult,
    InternalError,
    JobCancelled,
    JobFailed,
    JobTimeout,
    NotFound,
    ProviderError,
    QuotaError,
    TTSError,
)
from .state import State

if TYPE_CHECKING:
    from .job import Job
    from .operation import Observation

_STATE_ERRORS: dict[State, type[TTSError]] = {
    State.FAILED: JobFailed,
    State.TIMED_OUT: JobTimeout,
    State.PAYMENT_REQUIRED: QuotaError,
    State.NOT_FOUND: NotFound,
    State.EXPIRED: ExpiredResult,
}


def state_for_error(error: TTSError) -> State:
    """The terminal state a job ends in when `error` stops it."""
    if isinstance(error, ExpiredResult):
        return State.EXPIRED
    if isinstance(error, NotFound):
        return State.NOT_FOUND
    if isinstance(error, JobTimeout):
        return State.TIMED_OUT
    if isinstance(error, QuotaError) and error.status_code in (None, 402):
        return State.PAYMENT_REQUIRED
    return State.FAILED


def error_for_verdict(seen: Observation, provider: str) -> TTSError:
    """The error for a terminal status the provider reported (a failed job, a lapsed quota…):
    the provider's own message when it gave one, its raw status otherwise."""
    error_type = _STATE_ERRORS.get(seen.state, JobFailed)
    message = seen.message or f"{provider} reported {seen.raw_status!r}."
    kwargs = {"raw_status": seen.raw_status} if error_type is JobFailed else {}
    return error_type(message, provider=provider, **kwargs)


def unconfirmed_advice(provider: str) -> str:
    """Why a submit without a usable answer is never re-sent, and what the user can do."""
    return (
        f"The submit request may have reached {provider}, but no usable answer came "
        "back, so tts_nb does not know the job's id and did NOT send it again (a second "
        "submit could be charged twice). Check the provider's dashboard; to submit again "
        "deliberately, run the request again with force=True."
    )


def unconfirmed_error(error: ProviderError, provider: str) -> ProviderError:
    """`error` (a submit that may have reached the provider) with the advice appended."""
    return ProviderError(
        f"{error} {unconfirmed_advice(provider)}", provider=provider, maybe_sent=True
    )


def crash_message(provider: str, exc: BaseException, scrub: Callable[[str], str]) -> str:
    """What a step that raised `exc` says (secrets masked before the text is cut, so no
    fragment of a key survives)."""
    if isinstance(exc, (KeyboardInterrupt, SystemExit)):
        return f"{provider}: interrupted ({type(exc).__name__}) during this step."
    try:
        detail = scrub(str(exc))[:500]
    except BaseException:  # even an exception whose str() fails must end the job
        detail = "(no description)"
    return (
        f"{provider}: unexpected problem while handling the answer: "
        f"{type(exc).__name__}: {detail}. Please report it."
    )


def crash_error(
    provider: str, exc: BaseException, scrub: Callable[[str], str], *, unconfirmed: bool
) -> InternalError:
    """The error a step that raised `exc` ends the job with: our bug, not the provider's.
    `unconfirmed`: the submit may be on the wire with no ids known, so say it was not re-sent."""
    message = crash_message(provider, exc, scrub)
    if unconfirmed:
        message += f" {unconfirmed_advice(provider)}"
    return InternalError(message, provider=provider)


def give_up_error(job: Job, elapsed: float, retry_after: float | None) -> JobTimeout:
    """Why polling stopped (the server's wait, the policy's polls, or the deadline), and how
    to wait longer: the job may still finish on the provider's side."""
    if retry_after is not None and elapsed < job.timeout:
        why = f"the server asked to wait {retry_after:g} s, past the deadline"
    elif job.policy.max_polls is not None and job.polls >= job.policy.max_polls:
        why = f"the policy allows {job.policy.max_polls} polls"
    else:
        why = f"the deadline of {job.timeout:g} s passed"
    last = f" (last status {job.raw_status!r})" if job.raw_status else ""
    return JobTimeout(
        f"{job.provider} job {job.id} still not finished after {elapsed:.0f} s and "
        f"{job.polls} polls{last}: {why}, so polling stopped. The job may still finish on "
        "the provider's side; to wait longer pass a policy with a larger timeout, e.g. "
        "policy=tn.Fixed(5, timeout=1800). Shorter texts finish sooner.",
        provider=job.provider,
    )


def cancel_note(job: Job, ids: Mapping[str, Any], remote: bool) -> str:
    """The history's note for a cancel: whether the provider is asked to drop the job, and
    what a cancel during the submit means for the charge."""
    if remote:
        return f"cancelled: polling stopped; asking {job.provider} to delete the job"
    if not ids and job.submit_started_at is not None:
        return (
            "cancelled while the submit was on the wire: if the provider accepts it, its "
            f"ids are still recorded, and tn.resume({job.id!r}) fetches the result"
        )
    return "cancelled: polling stopped; the provider may still finish the job"


def accepted_after_cancel_note(job_id: str, ids: Mapping[str, Any]) -> str:
    """The note for a submit the provider accepted after the user cancelled: it is probably
    charged, so say how to fetch what was paid for."""
    return (
        f"the submit was accepted after the cancel (ids {sorted(ids)} kept): "
        f"the result is probably charged; tn.resume({job_id!r}) fetches it"
    )


def cancelled_error(job: Job) -> JobCancelled:
    """What `wait()` on a cancelled job raises: a `TTSError`, so one `except` catches every
    outcome, and still a `concurrent.futures.CancelledError`, as a Future's waiters expect."""
    return JobCancelled(
        f"{job.provider} job {job.id} was cancelled, so it has no result; "
        "job.history shows what reached the provider.",
        provider=job.provider,
    )


def wait_timeout_error(job: Job, timeout: float | None) -> JobTimeout:
    """Only the wait timed out, not the job: say that it goes on, and how to look at it."""
    return JobTimeout(
        f"{job.provider} job {job.id} is still {job.state.value} after waiting "
        f"{timeout:g} s. It goes on in the background: call wait() again, or look at "
        "job.state and job.history.",
        provider=job.provider,
        still_running=True,
    )


def status_line(job: Job) -> str:
    """One line of plain text: what a terminal or CI log shows, and a notebook's text/plain."""
    raw = f" ({job.raw_status})" if job.raw_status else ""
    line = f"{job.provider} {job.kind} {job.id}: {job.state.value}{raw}, "
    line += f"{job.polls} polls, {job.elapsed_s:.1f} s"
    if job.error is not None:
        line += f" — {job.error}"
    return line
