"""`tn.resume()`: continue jobs after a kernel restart, or in another process, without
submitting again: the ledger's jobs by id, any job by its continuation token.

A job recorded with provider ids is rebuilt from its continuation token (`tts_nb.tokens`: the
ledger stores one per job; `Client.job_from_token` turns it back into a job) and polled again;
finished jobs come back finished, their results loaded from the ledger's store. Jobs whose
kernel died before an id came back are closed with an explanation: "never sent" when they were
still queued, "may have been sent" when the submit was on the wire. None of them is ever re-sent.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from collections.abc import Iterable
from typing import Any

from . import errors, tokens
from . import ledger as ledgers
from .client import Client
from .errors import InvalidInput, NotFound, TTSError
from .job import Job, all_jobs, forget
from .policy import Fixed
from .scheduler import default_scheduler
from .state import State
from .transport import Transport


def resume(*jobs: str, client: Client | None = None) -> list[Job]:
    """Pick up jobs in this kernel: the ledger's, by id, or any job by its continuation token.

    Args:
        *jobs: job ids (see `tn.jobs()`) or continuation tokens (`job.continuation_token()`,
            from any kernel, process or machine); finished ones come back finished with their
            stored result. Without any: every unfinished ledger job that no other running
            kernel is polling.
        client: the client to poll with (its endpoint must be the job's); by default one is
            made per provider and endpoint, with keys from the environment, `.env` or
            `tn.login()` (a token never carries a key).

    Returns:
        The jobs, as `Job` objects (running ones poll in the background).

    Raises:
        NotFound: an id is not in the ledger.
        InvalidInput: a token is malformed, of another version, or names an endpoint that is
            neither the provider's own nor the one configured now.
        AuthError: a running job needs a key that is not set.
    """
    ledger = ledgers.current()
    if ledger is None and not (jobs and all(map(tokens.is_token, jobs))):
        raise InvalidInput(
            "The job ledger is switched off, so there is nothing to resume. Unset "
            f"{ledgers.ENV}=off or call tn.use_ledger(True) (continuation tokens resume "
            "without it)."
        )
    live = {
        job.id: job
        for job in all_jobs()
        if not _cancelled_with_ids(job.state.value, job.provider_ids)
    }
    if not jobs:
        records = [
            r
            for r in ledger.records(unfinished=True)
            if r["id"] not in live and not _polled_elsewhere(r)
        ]
        clients: dict[tuple[str, str], Client | None] = {}
        return [job for r in records if (job := _bring_back(r, ledger, live, client, clients))]
    resumed = []
    for item in jobs:
        if tokens.is_token(item):
            job = _from_token(tokens.decode(item), ledger, live, client)
        else:
            job = _bring_back(_record(ledger, item), ledger, live, client, {}, named=True)
        if job is not None:
            resumed.append(job)
    return resumed


def _record(ledger: ledgers.Ledger, job_id: str) -> dict[str, Any]:
    record = ledger.get(job_id)
    if record is None:
        raise NotFound(
            f"Job {job_id!r} is not in the ledger at {ledger.directory}; tn.jobs() lists "
            "the jobs it knows."
        )
    return record


def _from_token(
    token: tokens.ContinuationToken,
    ledger: ledgers.Ledger | None,
    live: dict[str, Job],
    client: Client | None,
) -> Job | None:
    """A job from its token: the ledger's record when this machine has it, else rebuilt from
    the token alone. The token's endpoint is checked first, whatever the ledger says."""
    chosen = client or Client.from_token(token)
    record = ledger.get(token.job) if ledger is not None else None
    if record is not None and (record["provider"], record["endpoint"]) == (
        token.provider,
        token.endpoint,
    ):
        return _bring_back(record, ledger, live, chosen, {}, named=True)
    if token.job in live:
        return live[token.job]
    job = chosen.job_from_token(token)
    if ledger is not None:
        chosen.keep_in_ledger(ledger, job, token.body)
    return chosen.continue_job(job)


def _bring_back(
    record: dict[str, Any],
    ledger: ledgers.Ledger,
    live: dict[str, Job],
    client: Client | None,
    clients: dict[tuple[str, str], Client | None],
    named: bool = False,
) -> Job | None:
    """One ledger record as a Job: live, finished, closed, or polling again; None when its
    endpoint was refused (with a warning). `named`: the caller asked for this id."""
    if record["id"] in live:
        return live[record["id"]]
    if record["state"] in ledgers.TERMINAL and not (
        named and _cancelled_with_ids(record["state"], record["provider_ids"])
    ):
        return _finished(record, ledger)
    if _polled_elsewhere(record) and (record["embedded"] or not record["provider_ids"]):
        raise InvalidInput(
            f"Job {record['id']} belongs to another running kernel ({record['owner']}), "
            "which is still submitting it or runs it on its own embedded simulator: look "
            "at it there. tn.jobs() shows its state."
        )
    if not record["provider_ids"]:
        return _close_unsent(record, ledger)
    if record["embedded"]:
        return _close_embedded(record, ledger)
    token = _token_of(record, ledger)
    key = (token.provider, token.endpoint)
    if client is None and key not in clients:
        clients[key] = _client_for(token)
    chosen = client or clients[key]
    return None if chosen is None else _continue(record, token, ledger, chosen)


def _token_of(record: dict[str, Any], ledger: ledgers.Ledger) -> tokens.ContinuationToken:
    """The record's stored token; for a record written before tokens were stored, one made
    from its columns. The ledger's ids win: they are updated with every poll."""
    if record.get("token"):
        stored = tokens.decode(record["token"])
        return dataclasses.replace(stored, job=record["id"], ids=dict(record["provider_ids"]))
    return tokens.from_record(record, _submitted_at(record, ledger.rows([record["id"]])))


def _cancelled_with_ids(state: str, provider_ids: Any) -> bool:
    """A cancelled job the provider knows (cancel stops polling, and a submit on the wire
    may be accepted after it): naming it in `resume()` polls it again to fetch its result."""
    return state == State.CANCELLED.value and bool(provider_ids)


def _polled_elsewhere(record: dict[str, Any]) -> bool:
    owner = record.get("owner")
    return owner != ledgers.this_owner() and ledgers.owner_alive(owner)


def _client_for(token: tokens.ContinuationToken) -> Client | None:
    """A client for the recorded endpoint, or None (with a warning) when it would carry a key
    to an endpoint the provider does not own and nobody configured: a ledger file is not
    trusted to decide where keys go."""
    cls = Client.clients.get(token.provider)
    if cls is None:
        raise InvalidInput(
            f"Job {token.job} is a {token.provider} job, and no client for that "
            "provider is installed."
        )
    if cls.may_send_keys_to(token.endpoint):
        return cls(base_url=token.endpoint)
    warnings.warn(cls.untrusted_endpoint(token.endpoint, token.job), stacklevel=4)
    return None


def _continue(
    record: dict[str, Any], token: tokens.ContinuationToken, ledger: ledgers.Ledger, client: Client
) -> Job:
    """Poll a recorded job again from its token, keeping its ledger history."""
    job = client.job_from_token(token)
    if _cancelled_with_ids(record["state"], record["provider_ids"]):
        forget(record["id"])  # the cancelled Job makes way for the one that polls again
    _restore(job, record)
    rows = ledger.rows([job.id])
    job.observe(ledger.observer)
    job.recover = lambda: _stored_copy(ledger, record["fingerprint"], job)
    since = time.time() - record["updated_at"]
    note = (
        f"resumed in a new kernel ({since:.0f} s after the last record): polling again from "
        f"the provider ids {sorted(record['provider_ids'])}, nothing submitted again"
    )
    return client.continue_job(job, rows, note)


def _submitted_at(record: dict[str, Any], rows: list[dict[str, Any]]) -> float:
    """When the job was submitted (its first submit exchange), which its looks are planned
    from; the record's creation time when no such row was kept."""
    times = [row["time"] for row in rows if row.get("step") == "submit" and row.get("time")]
    return min(times, default=record["created_at"])


def _stored_copy(ledger: ledgers.Ledger, fingerprint: str, job: Job) -> tuple[Any, str] | None:
    stored = ledger.find_result(fingerprint)
    if stored is None or stored.job_id == job.id:
        return None
    return stored.result, stored.describe()


def _close_unsent(record: dict[str, Any], ledger: ledgers.Ledger) -> Job:
    """A job whose kernel stopped before any provider id came back: close it, never re-send."""
    if record["phase"] == "queued":
        state, error_type = State.CANCELLED, "TTSError"
        message = (
            f"The kernel stopped while this {record['provider']} job was still queued: nothing "
            "was sent and nothing charged. Run the request again to get it."
        )
        unconfirmed = False
    else:
        state, error_type = State.FAILED, "ProviderError"
        message = (
            f"The kernel stopped while this {record['provider']} job was being submitted: the "
            "request may have reached the provider, but its answer (the job's id) never got "
            "recorded, so tts_nb cannot poll it and did NOT send it again (that could be "
            "charged twice). Check the provider's dashboard; run the request again with "
            "force=True to submit deliberately."
        )
        unconfirmed = True
    ledger.finalize(
        record["id"], state.value, message, error_type=error_type, submit_unconfirmed=unconfirmed
    )
    return _finished(ledger.get(record["id"]), ledger)


def _close_embedded(record: dict[str, Any], ledger: ledgers.Ledger) -> Job:
    message = (
        "This job ran on the embedded simulator of a kernel that has stopped, and that "
        "simulator's jobs ended with it. Run the request again (the simulator is free)."
    )
    ledger.finalize(record["id"], State.NOT_FOUND.value, message, error_type="NotFound")
    return _finished(ledger.get(record["id"]), ledger)


class _Recorded:
    """The protocol half of a job that is over: it never sends anything."""

    def __init__(self, provider: str, kind: str) -> None:
        self.provider = provider
        self.kind = kind


def _finished(record: dict[str, Any], ledger: ledgers.Ledger) -> Job:
    """A finished ledger job as a `Job`: its result from the store, or its error."""
    job = Job(
        _Recorded(record["provider"], record["kind"]),
        transport=Transport(record["endpoint"], provider=record["provider"]),
        scheduler=default_scheduler(),
        policy=Fixed(1.0),
        min_interval=0.0,
        timeout=0.0,
        request=record["request"],
    )
    _restore(job, record)
    state = State(record["state"])
    result = ledger.load_result(record) if record.get("result") else None
    error = None
    if state is State.SUCCEEDED and result is None:
        state, error = (
            State.EXPIRED,
            errors.ExpiredResult(
                f"Job {job.id} succeeded, but its stored result is missing from the ledger "
                f"({ledger.results_dir}): it was deleted or damaged. Run the request again "
                "with force=True to get it (it is charged again).",
                provider=job.provider,
            ),
        )
    elif state is State.CANCELLED:
        error = TTSError(record["error"] or "cancelled", provider=job.provider)
    elif state not in (State.SUCCEEDED, State.EXPIRED) or result is None:
        cls = getattr(errors, record.get("error_type") or "", None)
        if not (isinstance(cls, type) and issubclass(cls, TTSError)):
            cls = TTSError
        message = record["error"] or f"{job.provider} reported {record['raw_status']!r}."
        error = cls(message, provider=job.provider)
    job.restore_finished(state, result=result, error=error, rows=ledger.rows([job.id]))
    job.finished_at = record["finished_at"]
    return job


def _restore(job: Job, record: dict[str, Any]) -> None:
    """Give a rebuilt job its recorded identity."""
    job.id = record["id"]
    job.created_at = record["created_at"]
    job.provider_ids.update(record["provider_ids"])
    job.polls = record["polls"]
    job.raw_status = record["raw_status"]
    job.fingerprint = record["fingerprint"]
    job.submit_unconfirmed = record["submit_unconfirmed"]
    job.reused_from = record["reused_from"]


def ledger_jobs(exclude: Iterable[str] = ()) -> list[dict[str, Any]]:
    """The ledger's job records not in `exclude` (for `tn.jobs()`), oldest first."""
    ledger = ledgers.current()
    if ledger is None:
        return []
    skip = set(exclude)
    try:
        return [r for r in ledger.records() if r["id"] not in skip]
    except ledgers.LEDGER_ERRORS as exc:
        ledgers.warn_unavailable(ledger, exc)
        return []


__all__ = ["resume", "ledger_jobs"]
