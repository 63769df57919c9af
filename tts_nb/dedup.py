"""An identical request is never paid for twice: it shares the running job or reuses a result.

A request is identified by its fingerprint (`ledger.fingerprint`). Before a client submits,
it looks for a job of this kernel still running it, then for a stored result (this kernel's
jobs, else the ledger); a request whose earlier submit may have been charged without an
answer is refused rather than sent again silently. A job whose result expired at the
provider recovers a stored copy of an identical request.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from . import ledger as ledgers
from .errors import InvalidInput
from .job import Job, all_jobs
from .state import State

log = logging.getLogger("tts_nb")


def running_job(fingerprint: str) -> Job | None:
    """A job of this kernel with this fingerprint that is still queued or running."""
    for job in reversed(all_jobs()):
        if job.fingerprint == fingerprint and not job.done() and not job.manual:
            return job
    return None


def stored_result(
    fingerprint: str, ledger: ledgers.Ledger | None, exclude: Job | None = None
) -> ledgers.Stored | None:
    """The newest result of an identical request: from this kernel's jobs, else the ledger."""
    for job in reversed(all_jobs()):
        if job is not exclude and job.fingerprint == fingerprint and job.clip is not None:
            return ledgers.Stored(job.id, job.finished_at or 0.0, job.clip)
    if ledger is None:
        return None
    try:
        return ledger.find_result(fingerprint)
    except ledgers.LEDGER_ERRORS as exc:
        log.warning("tts_nb: the ledger could not be searched: %s", exc)
        return None


def reuse(job: Job, stored: ledgers.Stored) -> Job:
    """Finish `job` at once with the stored result of an identical request (nothing sent)."""
    job.reused_from = stored.job_id
    job.event(
        "reuse",
        f"reused the result of {stored.describe()}: an identical request, so nothing was "
        "sent and nothing charged; pass force=True to submit again",
    )
    return job.restore_finished(State.SUCCEEDED, result=stored.result)


def refuse_if_unconfirmed(provider: str, fingerprint: str, ledger: ledgers.Ledger | None) -> None:
    """An identical request may already have been charged: never send it again silently."""
    newest = next((j for j in reversed(all_jobs()) if j.fingerprint == fingerprint), None)
    doubt = None
    if newest is not None and newest.submit_unconfirmed:
        doubt = (newest.id, newest.created_at)
    elif newest is None and ledger is not None:
        try:
            record = ledger.latest(fingerprint)
        except ledgers.LEDGER_ERRORS:
            record = None
        if record is not None and record["submit_unconfirmed"]:
            doubt = (record["id"], record["created_at"])
    if doubt is not None:
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(doubt[1]))
        raise InvalidInput(
            f"An identical {provider} request (job {doubt[0]}, {when}) was sent but its answer "
            "never arrived: the provider may have accepted and charged it, so tts_nb does not "
            "send it again by itself. Check the provider's dashboard; pass force=True to "
            "submit again anyway.",
            provider=provider,
        )


def recover(fingerprint: str, ledger: ledgers.Ledger, job: Job) -> tuple[Any, str] | None:
    """For a job whose result expired: a stored copy of an identical request, if any."""
    stored = stored_result(fingerprint, ledger, exclude=job)
    return None if stored is None else (stored.result, stored.describe())
