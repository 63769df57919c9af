"""What every provider client shares: endpoint and credential resolution, the transport, and
starting jobs on the scheduler. Provider modules add only their protocol."""

from __future__ import annotations

import html
import logging
import os
import sys
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from . import ledger as ledgers
from . import tokens
from .errors import AuthError, InvalidInput
from .gate import gate_for
from .job import Job, Operation, all_jobs
from .kernel import in_kernel
from .learning import warmed
from .policy import Adaptive, Backoff, DurationModel, Fixed, PollPolicy, Progressive
from .retry import DEFAULT_RETRY, Retry
from .runtime import current
from .scheduler import Scheduler, default_scheduler
from .state import State
from .tokens import ContinuationToken
from .transport import Transport, is_loopback

if TYPE_CHECKING:
    from .adapters import Adapter

log = logging.getLogger("tts_nb")

# Environment variables Voila sets for the kernels it starts (voila.utils.ENV_VARIABLE).
VOILA_VARIABLES = ("VOILA_SERVER_URL", "VOILA_BASE_URL", "VOILA_KERNEL_ID")


def in_voila() -> bool:
    """True in a kernel started by Voila: a dashboard's visitors set no keys and need no
    notice about them."""
    return any(os.environ.get(name) for name in VOILA_VARIABLES)


def notice_given() -> bool:
    """Record that this kernel was told requests go to the simulator; True the first time.

    `tn.status()` calls it when it shows a simulated provider, so the banner of a client
    created afterwards does not repeat what the status box just said. The flag is the
    runtime's: after `tn.reset()` the notice is given again.
    """
    runtime = current()
    with runtime.notice_lock:
        first = not runtime.notice_given
        runtime.notice_given = True
    return first


def announce_simulator(simulator_url: str) -> None:
    """Say once per kernel, quietly, that calls go to the offline simulator (never in Voila)."""
    if not notice_given() or in_voila():
        return
    from .credentials import forced_by
    from .simulator import shared

    speed = shared().clock.speed
    faster = f"jobs run {speed:g}× faster than the real services" if speed != 1 else "real time"
    what = f"offline, no account, no quota, real speech from espeak-ng; {faster}"
    forced = forced_by()
    if forced is not None:  # keys may be set: they are not what decides
        why, keys = forced, ""
    else:
        why = "no API keys"
        keys = (
            " Set TYPECAST_API_KEY, CAMB_API_KEY or ASPOSE_CLIENT_ID/ASPOSE_CLIENT_SECRET to "
            "use the real services."
        )
    if in_kernel():  # a calm line in the cell, not the red box notebooks give stderr
        from IPython.display import display

        text = f"tts_nb: {why}, so requests go to the embedded simulator ({what}).{keys}"
        display(
            {
                "text/plain": text,
                "text/html": f'<div style="{_BANNER_STYLE}">{html.escape(text)}</div>',
            },
            raw=True,
        )
    else:
        print(
            f"tts_nb: {why}, so requests go to the embedded simulator "
            f"({simulator_url}: {what}).{keys}",
            file=sys.stderr,
        )


# JupyterLab's theme variables, so a dark theme gets light text; the fallbacks are for viewers
# without them (GitHub, nbviewer).
_BANNER_STYLE = (
    "border-left:3px solid var(--jp-brand-color1, #2196f3);"
    "background:var(--jp-layout-color2, #eef5fb);color:var(--jp-ui-font-color1, #1a1a1a);"
    "padding:4px 10px;font-size:var(--jp-content-font-size1, 13px)"
)

# On the embedded simulator a client's default waits are divided by its speed, but never
# below this: the simulator has no rate limit, yet a poll every few ms would only burn CPU.
SIMULATOR_MIN_INTERVAL = 0.05


def faster_policy(policy: PollPolicy, speed: float) -> PollPolicy:
    """`policy` with its waits divided by `speed` (deadlines and counts unchanged), for a
    provider's default policy on a simulator that runs jobs `speed` times faster. A policy
    of a kind this does not know is returned as it is."""
    if speed == 1:
        return policy
    if isinstance(policy, Fixed):
        return policy.replace(interval=policy.interval / speed)
    if isinstance(policy, Backoff):
        return policy.replace(initial=policy.initial / speed, maximum=policy.maximum / speed)
    if isinstance(policy, Progressive):
        return policy.replace(schedule=tuple(wait / speed for wait in policy.schedule))
    if isinstance(policy, Adaptive):
        return policy.replace(
            then=policy.then / speed, fallback=faster_policy(policy.fallback, speed)
        )
    return policy


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

    # What the provider is: the one description every table of provider facts is read from
    # (`tts_nb.providers.client_classes`).
    provider: ClassVar[str]
    label: ClassVar[str]  # the provider's name for people, e.g. "CAMB.AI"
    key_variables: ClassVar[tuple[str, ...]]  # what the client reads, in login()'s order
    real_url: ClassVar[str]
    url_env: ClassVar[str]
    # How teaching's curl spells each secret in a shell: header → value, form field → value,
    # and where a shell variable's value comes from when it is not simply a key.
    secret_headers: ClassVar[Mapping[str, str]] = {}
    secret_fields: ClassVar[Mapping[str, str]] = {}
    secret_notes: ClassVar[Mapping[str, str]] = {}
    adapter: Adapter  # how generic panels and `compare` talk to this client
    default_min_interval: ClassVar[float]
    default_timeout: ClassVar[float]
    default_policy: ClassVar[PollPolicy]
    duration_prior: ClassVar[tuple[float, float]]
    default_max_concurrent: ClassVar[int | None] = 5
    # How failed requests are tried again (GETs, fetches, refused submits, tokens).
    default_retry: ClassVar[Retry] = DEFAULT_RETRY

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
        retry: Retry | None = None,
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
        speed = self.simulator_speed()
        self.policy = policy or faster_policy(self.default_policy, speed)
        if min_interval is None:
            min_interval = self.default_min_interval
            if speed != 1:
                min_interval = max(min_interval / speed, SIMULATOR_MIN_INTERVAL)
        self.min_interval = min_interval
        self.scheduler = scheduler
        self.duration_model = warmed(DurationModel(self._prior(speed)), self.provider, base_url)
        self.transport = Transport(
            self.base_url,
            provider=self.provider,
            auth_headers=self._auth_headers,
            describe_error=self._describe_error,
            secrets=self._secret_values,
            timeout=http_timeout,
            retry=retry or self.default_retry,
            simulated=simulated,
        )
        self.max_concurrent = max_concurrent or self.default_max_concurrent
        try:
            account = tuple(self._secret_values())
        except Exception:  # no usable key yet: this client is an account of its own
            account = (str(id(self)),)
        self.gate = gate_for(self.provider, self.base_url, account, self.max_concurrent)

    def simulator_speed(self) -> float:
        """How many times faster than the real service this client's jobs run: the shared
        simulator's speed for a client on it, else 1.

        A client's defaults (its policy's waits, its minimum interval, its duration prior)
        are divided by it, so a plain ``tn.Camb()`` on a 50x simulator looks at a job after
        about a second, not after CAMB's real minute. Arguments the caller passes are kept
        as given, and a client of a real service (or of an endpoint the caller named) keeps
        the provider's defaults exactly.
        """
        if not self.simulated:
            return 1.0
        from .simulator import shared

        return shared().clock.speed

    def _prior(self, speed: float) -> tuple[float, float]:
        """The provider's typical duration, divided by the simulator's speed."""
        intercept, slope = self.duration_prior
        return intercept / speed, slope / speed

    # -- for subclasses
    def _auth_headers(self) -> dict[str, str]:
        raise NotImplementedError

    def _secret_values(self) -> Iterable[str]:
        raise NotImplementedError

    def _describe_error(self, response) -> str | None:
        return None

    @classmethod
    def endpoint_setting(cls) -> tuple[str, str]:
        """(the endpoint variable, the real endpoint) a client made with no arguments reads;
        a provider with more than one API names its default one's."""
        return cls.url_env, cls.real_url

    @classmethod
    def default_endpoint(cls) -> tuple[str | None, bool, list[str]]:
        """Where a client made now with no arguments would send its requests, found as its
        constructor finds it (keys and endpoint setting together, then `resolve_endpoint`),
        without sending anything: (base URL, None for the simulator; simulated; the key
        variables that are not set).

        Raises:
            InvalidInput: the endpoint setting is plain http on another machine.
        """
        from .credentials import find_credentials

        url_env, real_url = cls.endpoint_setting()
        found = find_credentials(dict.fromkeys(cls.key_variables), base_url=None, url_env=url_env)
        missing = [name for name, key in found.keys.items() if key is None]
        url, simulated = resolve_endpoint(
            cls.provider, has_key=not missing, base_url=found.url, real_url=real_url
        )
        return url, simulated, missing

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

    def rebuild_operation(
        self, kind: str, body: Mapping[str, Any], request: Mapping[str, Any]
    ) -> Operation:
        """The protocol half of a job submitted earlier, from its kind, body and request
        summary (a continuation token's or a ledger record's): what `resume` polls with."""
        return self._rebuild_operation(kind, body, request)

    def can_authenticate(self) -> bool:
        """Whether this client can sign its requests: it has a key, or its API needs none
        (Aspose's trial)."""
        if tuple(self._secret_values()):
            return True
        try:
            return not self._auth_headers()
        except AuthError:
            return False

    @classmethod
    def from_token(cls, token: str | ContinuationToken) -> Client:
        """A client for the job a continuation token describes, with this process's own key
        (environment, `.env` or `tn.login()`); the token carries none.

        Raises:
            InvalidInput: the token is malformed or of another version, names a provider
                that is not installed, or names an endpoint that is neither the provider's
                own nor the one configured in this process (keys are not sent there).
        """
        token = tokens.decode(token) if isinstance(token, str) else token
        target = Client.clients.get(token.provider)
        if target is None or (cls is not Client and target is not cls):
            raise InvalidInput(
                f"This continuation token is for a {token.provider} job, which "
                f"{cls.__name__}.from_token cannot resume: call tn.resume(token), with the "
                "provider's client installed."
            )
        if not target.may_send_keys_to(token.endpoint):
            raise InvalidInput(target.untrusted_endpoint(token.endpoint, token.job))
        return target(base_url=token.endpoint)

    @classmethod
    def may_send_keys_to(cls, endpoint: str) -> bool:
        """Whether a client of `endpoint` may be built from a token or ledger record: it is
        trusted (`trusted_endpoints`), or no key is set so nothing can leak (building a
        client with a key could already send it: Typecast asks which API a key is for)."""
        from .credentials import find_secret

        has_key = any(find_secret(None, name) for name in cls.key_variables)
        return endpoint.rstrip("/") in cls.trusted_endpoints() or not has_key

    @classmethod
    def untrusted_endpoint(cls, endpoint: str, job_id: str) -> str:
        """Why job `job_id`, recorded at `endpoint`, was not resumed, and the fix."""
        return (
            f"tts_nb: job {job_id} was not resumed: it was sent to {endpoint}, which is "
            f"neither {cls.provider}'s own endpoint ({cls.real_url}) nor the one configured "
            f"now, so no key was sent there. If that endpoint is yours, set {cls.url_env}="
            f"{endpoint} in the environment (or pass client={cls.__name__}(base_url=...)) and "
            "resume it again."
        )

    def job_from_token(
        self, token: str | ContinuationToken, *, policy: PollPolicy | None = None
    ) -> Job:
        """The job a continuation token describes, with its id, ids and times, not started
        (`continue_job` starts it); `resume` does both.

        Raises:
            InvalidInput: the token is malformed, or for another provider, API or endpoint.
            AuthError: this client has no key and its API needs one.
        """
        token = tokens.decode(token) if isinstance(token, str) else token
        api = getattr(self, "api", None)
        if token.provider != self.provider or (token.api and api and token.api != api):
            raise InvalidInput(
                f"Job {token.job} is a {token.provider} {token.api or ''} job, and this is "
                f"{self!r}: pass a client of that provider and API, or none.",
                provider=self.provider,
            )
        if self.base_url.rstrip("/") != token.endpoint:
            raise InvalidInput(
                f"Job {token.job} was sent to {token.endpoint}, but the client given talks "
                f"to {self.base_url}: pass a client for that endpoint, or none.",
                provider=self.provider,
            )
        if not self.can_authenticate():
            raise AuthError(
                f"Resuming {token.provider} job {token.job} needs the account's key: set it "
                f"in the environment or .env, call tn.login({token.provider!r}), or pass "
                "client=.",
                provider=token.provider,
            )
        operation = self.rebuild_operation(token.kind, token.body or {}, token.request)
        job = self._new_job(
            operation, policy=policy, request=token.request, text=token.request.get("text") or ""
        )
        job.id = token.job
        job.created_at = token.created_at
        job.provider_ids.update(token.ids)
        job.submit_started_at = token.submitted_at
        body = token.body if token.body is not None else token.request
        job.fingerprint = ledgers.fingerprint(self.provider, token.kind, self.base_url, body)
        return job

    def continue_job(self, job: Job, rows: Iterable[dict[str, Any]] = (), note: str = "") -> Job:
        """Poll a job from `job_from_token` again, in its turn for this account's slots;
        `rows` are its earlier history. Nothing is submitted again."""
        note = note or (
            f"resumed from a continuation token: polling again from the provider ids "
            f"{sorted(job.provider_ids)}, nothing submitted again"
        )
        ids = dict(job.provider_ids)
        self.gate.admit(job, lambda: job.resume(ids, list(rows), note), wait=False)
        return job

    def resume(self, token: str | ContinuationToken, *, policy: PollPolicy | None = None) -> Job:
        """Continue the job a continuation token describes, in this process: it polls on from
        the provider ids and fetches the result; nothing is submitted again. `tn.resume(token)`
        also picks the client and keeps the job in the ledger."""
        return self.continue_job(self.job_from_token(token, policy=policy))

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
                running.event(
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
            return _reuse(job, stored)
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


def _reuse(job: Job, stored: ledgers.Stored) -> Job:
    """Finish `job` at once with the stored result of an identical request (nothing sent)."""
    job.reused_from = stored.job_id
    job.event(
        "reuse",
        f"reused the result of {stored.describe()}: an identical request, so nothing was "
        "sent and nothing charged; pass force=True to submit again",
    )
    return job.restore_finished(State.SUCCEEDED, result=stored.result)


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
