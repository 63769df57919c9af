"""What every provider client shares: endpoint and credential resolution, the transport, and
starting jobs on the scheduler. Provider modules add only their protocol."""

from __future__ import annotations

import html
import logging
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit

from . import ledger as ledgers
from .errors import InvalidInput
from .gate import gate_for
from .job import Job, Operation, all_jobs
from .kernel import in_kernel
from .policy import DurationModel, PollPolicy
from .scheduler import Scheduler, default_scheduler
from .transport import Transport, is_loopback

log = logging.getLogger("tts_nb")

_banner_shown = False
_banner_lock = threading.Lock()


def announce_simulator(simulator_url: str) -> None:
    """Say once per process, clearly, that calls go to the offline simulator."""
    global _banner_shown
    with _banner_lock:
        if _banner_shown:
            return
        _banner_shown = True
    message = (
        "tts_nb: no API keys found, so requests go to the embedded simulator "
        f"({simulator_url}: offline, no account, no quota, real speech from espeak-ng). "
        "Set TYPECAST_API_KEY, CAMB_API_KEY or ASPOSE_CLIENT_ID/ASPOSE_CLIENT_SECRET to use "
        "the real services."
    )
    if in_kernel():  # a calm note in the cell, not the red box notebooks give stderr
        from IPython.display import HTML, display

        display(HTML(f'<div style="{_BANNER_STYLE}">ℹ️ {html.escape(message)}</div>'))
    else:
        print(message, file=sys.stderr)


_BANNER_STYLE = "border-left:4px solid #2b6cb0;background:#ebf4ff;padding:6px 10px;font-size:13px"


class Client:
    """Base class of the provider clients.

    Subclasses set the class attributes and implement `_auth_headers`, `_secret_values` and
    `_describe_error`, and `_rebuild_operation` so that `tn.resume()` can continue their jobs.

    Every job is recorded in the ledger (`tts_nb.ledger`) before it is sent; an identical
    request returns the running job or the stored result instead of submitting twice
    (``force=True`` on the request methods submits anyway); at most `max_concurrent` jobs of
    one account are in flight, the rest wait in a queue. The default limit is the provider's
    published one where there is one (Typecast v1: 2, its Free plan) and 5 elsewhere (CAMB.AI,
    Aspose and Typecast's legacy API publish none); pass ``max_concurrent=`` to match your plan.
    """

    clients: ClassVar[dict[str, type[Client]]] = {}  # provider name → client class

    provider: ClassVar[str]
    real_url: ClassVar[str]
    url_env: ClassVar[str]
    default_min_interval: ClassVar[float]
    default_timeout: ClassVar[float]
    default_policy: ClassVar[PollPolicy]
    duration_prior: ClassVar[tuple[float, float]]
    default_max_concurrent: ClassVar[int | None] = 5

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "provider" in cls.__dict__:
            Client.clients[cls.provider] = cls

    def __init__(
        self,
        *,
        base_url: str,
        simulated: bool,
        policy: PollPolicy | None,
        min_interval: float | None,
        http_timeout: tuple[float, float] = (5.0, 30.0),
        scheduler: Scheduler | None = None,
        max_concurrent: int | None = None,
    ) -> None:
        if min_interval is not None and min_interval < 0:
            raise InvalidInput("min_interval must be >= 0 seconds.", provider=self.provider)
        if max_concurrent is not None and (
            isinstance(max_concurrent, bool)
            or not isinstance(max_concurrent, int)
            or max_concurrent < 1
        ):
            raise InvalidInput(
                "max_concurrent must be a whole number >= 1 (jobs in flight at once).",
                provider=self.provider,
            )
        self.base_url = base_url.rstrip("/")
        self.simulated = simulated
        self.policy = policy or self.default_policy
        self.min_interval = self.default_min_interval if min_interval is None else min_interval
        self.scheduler = scheduler
        self.duration_model = DurationModel(self._prior())
        self.transport = Transport(
            self.base_url,
            provider=self.provider,
            auth_headers=self._auth_headers,
            describe_error=self._describe_error,
            secrets=self._secret_values,
            timeout=http_timeout,
            simulated=simulated,
        )
        self.max_concurrent = max_concurrent or self.default_max_concurrent
        try:
            account = tuple(self._secret_values())
        except Exception:  # no usable key yet: this client is an account of its own
            account = (str(id(self)),)
        self.gate = gate_for(self.provider, self.base_url, account, self.max_concurrent)

    def _prior(self) -> tuple[float, float]:
        """The provider's typical duration; on the shared simulator, divided by its speed, so
        the first jobs of a sped-up notebook are not looked at minutes late."""
        intercept, slope = self.duration_prior
        if self.simulated:
            from .simulator import shared

            speed = shared().clock.speed
            return intercept / speed, slope / speed
        return intercept, slope

    # -- for subclasses
    def _auth_headers(self) -> dict[str, str]:
        raise NotImplementedError

    def _secret_values(self) -> Iterable[str]:
        raise NotImplementedError

    def _describe_error(self, response) -> str | None:
        return None

    @classmethod
    def trusted_endpoints(cls) -> set[str]:
        """Where this provider's keys may be sent without anyone naming the endpoint now: its
        real endpoint and the override configured in this process (see `configured_endpoint`).
        `tn.resume()` sends keys to a recorded endpoint only if it is one of these. A provider
        with more than one API adds the others' endpoints."""
        return {cls.real_url.rstrip("/")} | configured_endpoint(cls.provider, cls.url_env)

    def _rebuild_operation(
        self, kind: str, body: Mapping[str, Any], request: Mapping[str, Any]
    ) -> Operation:
        """The Operation of a recorded job, from its body and request summary (for resume)."""
        raise NotImplementedError(f"{self.provider} jobs cannot be resumed yet")

    # -- shared
    def _start(
        self,
        operation: Operation,
        *,
        policy: PollPolicy | None,
        request: Mapping[str, Any],
        text: str,
        force: bool = False,
    ) -> Job:
        """Record, deduplicate, queue and start a job.

        Unless `force`: an identical request still running in this kernel returns that job,
        and one that succeeded before (here or in the ledger) returns its stored result at
        once. Otherwise the job is written to the ledger before anything is sent.
        """
        body = getattr(operation, "body", None)
        fingerprint = ledgers.fingerprint(
            self.provider, operation.kind, self.base_url, body if body is not None else request
        )
        ledger = ledgers.current()
        manual = getattr(self.scheduler, "manual", False)
        if manual:
            force = True  # a learner stepping through (tn.teach.steps) wants real exchanges
        if not force:
            running = _running_job(fingerprint)
            if running is not None:
                running._event(
                    "rerun",
                    "an identical request was made again and shares this job instead of "
                    "submitting twice (force=True submits again)",
                )
                return running
        stored = None if force else _stored_result(fingerprint, ledger)
        if stored is None and not force:
            _refuse_if_unconfirmed(self.provider, fingerprint, ledger)
        job = self._new_job(operation, policy=policy, request=request, text=text)
        job.fingerprint = fingerprint
        if ledger is not None:
            self._record(ledger, job, body)
            job.recover = lambda: _recover(fingerprint, ledger, job)
        if stored is not None:
            job.reused_from = stored.job_id
            return job.reuse(stored.result, stored.describe())
        job._register()
        if manual:  # the learner paces it, and one left half-done must not hold a slot
            job.start()
        else:
            self.gate.admit(job, job.start)
        return job

    def _new_job(
        self,
        operation: Operation,
        *,
        policy: PollPolicy | None,
        request: Mapping[str, Any],
        text: str,
    ) -> Job:
        policy = policy or self.policy
        # A key pasted into a text must not reach tables, views or the ledger, at any depth.
        request = _scrubbed(request, self.transport.scrub)
        timeout = policy.timeout if policy.timeout is not None else self.default_timeout
        return Job(
            operation,
            transport=self.transport,
            scheduler=self.scheduler or default_scheduler(),
            policy=policy,
            min_interval=self.min_interval,
            timeout=timeout,
            request=request,
            duration_model=self.duration_model,
            text_length=len(text),
        )

    def _record(self, ledger: ledgers.Ledger, job: Job, body: Any) -> None:
        """Write the job down now, synchronously, and keep its record current as it moves."""
        try:
            ledger.record_new(
                job,
                fingerprint=job.fingerprint,
                endpoint=self.base_url,
                embedded=self.simulated,
                body=_scrubbed(body, self.transport.scrub),
            )
        except ledgers.LEDGER_ERRORS as exc:
            ledgers.warn_unavailable(ledger, exc)
            return
        job.observe(ledger.observer)

    def __repr__(self) -> str:
        where = "simulator" if self.simulated else self.base_url
        return f"<{type(self).__name__} {where}>"


def _running_job(fingerprint: str) -> Job | None:
    """A job of this kernel with this fingerprint that is still queued or running."""
    for job in reversed(all_jobs()):
        if job.fingerprint == fingerprint and not job.done() and not job.manual:
            return job
    return None


def _stored_result(
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


def _refuse_if_unconfirmed(provider: str, fingerprint: str, ledger: ledgers.Ledger | None) -> None:
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


def _recover(fingerprint: str, ledger: ledgers.Ledger, job: Job) -> tuple[Any, str] | None:
    """For a job whose result expired: a stored copy of an identical request, if any."""
    stored = _stored_result(fingerprint, ledger, exclude=job)
    return None if stored is None else (stored.result, stored.describe())


def _scrubbed(value: Any, scrub) -> Any:
    """`value` with every secret masked in its strings, at any depth."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, Mapping):
        return {k: _scrubbed(v, scrub) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrubbed(v, scrub) for v in value]
    return value


def resolve_endpoint(
    provider: str, *, has_key: bool, base_url: str | None, real_url: str
) -> tuple[str | None, bool]:
    """(base URL, simulated). None means: use the embedded simulator's URL.

    `base_url` is the override `find_credentials` allowed; it must be https (or on loopback).

    Raises:
        InvalidInput: the override is plain http on another machine.
    """
    from .credentials import simulator_forced

    if simulator_forced() or not has_key:
        if base_url and not simulator_forced() and not has_key:
            return check_endpoint(provider, base_url), False  # no key: the caller knows best
        return None, True
    return check_endpoint(provider, base_url or real_url), False


def check_endpoint(provider: str, url: str) -> str:
    """`url`, if keys and texts may travel to it: over https, or plain http on loopback (a
    local stand-in or the simulator, where nothing leaves the machine)."""
    try:
        scheme = urlsplit(url).scheme
    except ValueError:
        scheme = ""
    if scheme == "https" or (scheme == "http" and is_loopback(url)):
        return url
    raise InvalidInput(
        f"{provider}: the endpoint {url!r} is not an https:// URL, so keys and texts would "
        "travel unencrypted. Use https:// in base_url= or the TTS_NB_*_URL setting "
        "(plain http is accepted only on loopback: 127.0.0.1, ::1, localhost).",
        provider=provider,
    )


def configured_endpoint(provider: str, url_env: str) -> set[str]:
    """The endpoint override set in this process for `url_env` (in the environment, or in
    `.env` when that file also holds the provider's keys), as a set of zero or one URL."""
    from .credentials import PROVIDER_KEYS, find_credentials

    names = PROVIDER_KEYS.get(provider, ())
    found = find_credentials(dict.fromkeys(names), base_url=None, url_env=url_env)
    return {found.url.rstrip("/")} if found.url else set()


def resolve_single_key(
    provider: str,
    *,
    api_key: str | None,
    key_env: str,
    base_url: str | None,
    url_env: str,
    real_url: str,
):
    """(base URL, key, simulated) for a provider with one API key.

    The key comes from the argument, the environment or `.env`, and the endpoint with it
    (`find_credentials`: a `.env` endpoint only for a `.env` key); without a key (or with
    ``TTS_NB_PROVIDER=simulator``) the shared simulator and its key are used, and the banner
    says so once.
    """
    from .credentials import Secret, find_credentials

    found = find_credentials({key_env: api_key}, base_url=base_url, url_env=url_env)
    key = found.key(key_env)
    url, simulated = resolve_endpoint(
        provider, has_key=key is not None, base_url=found.url, real_url=real_url
    )
    if simulated:
        from .simulator import shared

        sim = shared()
        url, key = sim.urls[provider], Secret(sim.credentials[f"{provider}_api_key"])
        announce_simulator(url)
    return url, key, simulated
