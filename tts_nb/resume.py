"""`tn.resume()`: continue the ledger's jobs after a kernel restart, without submitting again.

A job recorded with provider ids is rebuilt from them (the client's `_rebuild_operation` turns
the stored request body back into the protocol half) and polled again; finished jobs come back
finished, their results loaded from the ledger's store. Jobs whose kernel died before an id
came back are closed with an explanation: "never sent" when they were still queued, "may have
been sent" when the submit was on the wire. None of them is ever re-sent.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterable
from typing import Any

from . import errors
from . import ledger as ledgers
from .client import Client
from .credentials import PROVIDER_KEYS, find_secret
from .errors import AuthError, InvalidInput, NotFound, TTSError
from .job import Job, all_jobs, forget
from .policy import Fixed
from .scheduler import default_scheduler
from .state import State
from .transport import Transport


def resume(*job_ids: str, client: Client | None = None) -> list[Job]:
    """Pick up the ledger's jobs in this kernel.

    Args:
        *job_ids: the jobs to bring back (see `tn.jobs()`); finished ones come back finished
            with their stored result. Without ids: every unfinished job that no other running
            kernel is polling.
        client: the client to poll with (its endpoint must be the job's); by default one is
            made per provider and endpoint, with keys from the environment, `.env` or
            `tn.login()`.

    Returns:
        The jobs, as `Job` objects (running ones poll in the background).

    Raises:
        NotFound: an id is not in the ledger.
        AuthError: a running job needs a key that is not set.
    """
    ledger = ledgers.current()
    if ledger is None:
        raise InvalidInput(
            "The job ledger is switched off, so there is nothing to resume. Unset "
            f"{ledgers.ENV}=off or call tn.use_ledger(True)."
        )
    live = {
        job.id: job
        for job in all_jobs()
        if not _cancelled_with_ids(job.state.value, job.provider_ids)
    }
    if job_ids:
        records = []
        for job_id in job_ids:
            record = ledger.get(job_id)
            if record is None:
                raise NotFound(
                    f"Job {job_id!r} is not in the ledger at {ledger.directory}; tn.jobs() "
                    "lists the jobs it knows."
                )
            records.append(record)
    else:
        records = [
            r
            for r in ledger.records(unfinished=True)
            if r["id"] not in live and not _polled_elsewhere(r)
        ]
    clients: dict[tuple[str, str], Client] = {}
    resumed = []
    for record in records:
        if record["id"] in live:
            resumed.append(live[record["id"]])
        elif record["state"] in ledgers.TERMINAL and not (
            job_ids and _cancelled_with_ids(record["state"], record["provider_ids"])
        ):
            resumed.append(_finished(record, ledger))
        elif _polled_elsewhere(record) and (record["embedded"] or not record["provider_ids"]):
            raise InvalidInput(
                f"Job {record['id']} belongs to another running kernel ({record['owner']}), "
                "which is still submitting it or runs it on its own embedded simulator: look "
                "at it there. tn.jobs() shows its state."
            )
        elif not record["provider_ids"]:
            resumed.append(_close_unsent(record, ledger))
        elif record["embedded"]:
            resumed.append(_close_embedded(record, ledger))
        else:
            key = (record["provider"], record["endpoint"])
            if client is None and clients.get(key) is None:
                clients[key] = _client_for(record)
            chosen = client or clients[key]
            if chosen is not None:  # None: refused its endpoint, with a warning
                resumed.append(_continue(record, ledger, chosen))
    return resumed


def _cancelled_with_ids(state: str, provider_ids: Any) -> bool:
    """A cancelled job the provider knows (cancel stops polling, and a submit on the wire
    may be accepted after it): naming it in `resume()` polls it again to fetch its result."""
    return state == State.CANCELLED.value and bool(provider_ids)


def _has_keys(provider: str) -> bool:
    """Whether any of the provider's keys is set (argument-free: login, environment, .env)."""
    return any(find_secret(None, name) for name in PROVIDER_KEYS.get(provider, ()))


def _polled_elsewhere(record: dict[str, Any]) -> bool:
    owner = record.get("owner")
    return owner != ledgers.this_owner() and ledgers.owner_alive(owner)


def _client_for(record: dict[str, Any]) -> Client | None:
    """A client for the recorded endpoint, or None (with a warning) when it would carry a key
    to an endpoint the provider does not own and nobody configured: a ledger file is not
    trusted to decide where keys go."""
    cls = Client.clients.get(record["provider"])
    if cls is None:
        raise InvalidInput(
            f"Job {record['id']} is a {record['provider']} job, and no client for that "
            "provider is installed."
        )
    endpoint = record["endpoint"]
    # Without a key there is nothing to leak (and _continue names the key it needs); building
    # a client with a key could already send it (Typecast asks which API a key belongs to).
    if endpoint.rstrip("/") in cls.trusted_endpoints() or not _has_keys(record["provider"]):
        return cls(base_url=endpoint)
    warnings.warn(
        f"tts_nb: job {record['id']} was not resumed: it was sent to {endpoint}, which is "
        f"neither {record['provider']}'s own endpoint ({cls.real_url}) nor the one configured "
        f"now, so no key was sent there. If that endpoint is yours, set {cls.url_env}="
        f"{endpoint} in the environment (or pass client={cls.__name__}(base_url=...)) and "
        f"call tn.resume({record['id']!r}) again.",
        stacklevel=3,
    )
    return None


def _continue(record: dict[str, Any], ledger: ledgers.Ledger, client: Client) -> Job:
    """Poll a recorded job again from its provider ids."""
    if client.base_url.rstrip("/") != record["endpoint"].rstrip("/"):
        raise InvalidInput(
            f"Job {record['id']} was sent to {record['endpoint']}, but the client given talks "
            f"to {client.base_url}: pass a client for that endpoint, or none."
        )
    if not tuple(client._secret_values()) and _needs_key(client):
        raise AuthError(
            f"Resuming {record['provider']} job {record['id']} needs the account's key: set it "
            f"in the environment or .env, call tn.login({record['provider']!r}), or pass "
            "client=.",
            provider=record["provider"],
        )
    if _cancelled_with_ids(record["state"], record["provider_ids"]):
        forget(record["id"])  # the cancelled Job makes way for the one that polls again
    request = record["request"]
    operation = client._rebuild_operation(record["kind"], record["body"] or {}, request)
    job = client._new_job(operation, policy=None, request=request, text=request.get("text") or "")
    _restore(job, record)
    rows = ledger.rows([job.id])
    job.submit_started_at = _submitted_at(record, rows)
    job.observe(ledger.observer)
    job.recover = lambda: _stored_copy(ledger, record["fingerprint"], job)
    since = time.time() - record["updated_at"]
    note = (
        f"resumed in a new kernel ({since:.0f} s after the last record): polling again from "
        f"the provider ids {sorted(record['provider_ids'])}, nothing submitted again"
    )
    client.gate.admit(job, lambda: job.resume(record["provider_ids"], rows, note), wait=False)
    return job


def _submitted_at(record: dict[str, Any], rows: list[dict[str, Any]]) -> float:
    """When the job was submitted (its first submit exchange), which its looks are planned
    from; the record's creation time when no such row was kept."""
    times = [row["time"] for row in rows if row.get("step") == "submit" and row.get("time")]
    return min(times, default=record["created_at"])


def _needs_key(client: Client) -> bool:
    """A client without secrets can still poll when its API needs none (Aspose's trial)."""
    try:
        return bool(client._auth_headers())
    except AuthError:
        return True


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
    job._rows = ledger.rows([job.id])
    job._register()
    state = State(record["state"])
    result = ledger.load_result(record) if record.get("result") else None
    if state in (State.SUCCEEDED, State.EXPIRED) and result is not None:
        job._finish_success(result, state)
    elif state is State.SUCCEEDED:
        job._finish_error(
            errors.ExpiredResult(
                f"Job {job.id} succeeded, but its stored result is missing from the ledger "
                f"({ledger.results_dir}): it was deleted or damaged. Run the request again "
                "with force=True to get it (it is charged again).",
                provider=job.provider,
            ),
            State.EXPIRED,
        )
    elif state is State.CANCELLED:
        job.state = State.CANCELLED
        job.error = TTSError(record["error"] or "cancelled", provider=job.provider)
        super(Job, job).cancel()
        job.set_running_or_notify_cancel()
    else:
        cls = getattr(errors, record.get("error_type") or "", None)
        if not (isinstance(cls, type) and issubclass(cls, TTSError)):
            cls = TTSError
        message = record["error"] or f"{job.provider} reported {record['raw_status']!r}."
        job._finish_error(cls(message, provider=job.provider), state)
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
