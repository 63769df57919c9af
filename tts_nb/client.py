"""What every provider client shares: endpoint and credential resolution, the transport, and
starting jobs on the scheduler. Provider modules add only their protocol.

Where requests go is `endpoints`' (with the simulator's speed-scaled defaults), the simulator
notice `notice`'s, and reuse of identical requests `dedup`'s; those names stay importable here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from . import ledger as ledgers
from . import tokens
from .dedup import recover, refuse_if_unconfirmed, reuse, running_job, stored_result
from .endpoints import (
    SIMULATOR_MIN_INTERVAL,
    check_endpoint,
    configured_endpoint,
    faster_policy,
    resolve_endpoint,
    resolve_single_key,
)
from .errors import AuthError, InvalidInput
from .gate import gate_for
from .job import Job, Operation
from .learning import warmed
from .notice import announce_simulator, in_voila, notice_given
from .policy import DurationModel, PollPolicy
from .retry import DEFAULT_RETRY, Retry
from .scheduler import Scheduler, default_scheduler
from .tokens import ContinuationToken
from .transport import Transport

if TYPE_CHECKING:
    from .adapters import Adapter


# Environment variables Voila sets for the kernels it starts (voila.utils.ENV_VARIABLE).
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
            running = running_job(fingerprint)
            if running is not None:
                running.event(
                    "rerun",
                    "an identical request was made again and shares this job instead of "
                    "submitting twice (force=True submits again)",
                )
                return running
        stored = None if force else stored_result(fingerprint, ledger)
        if stored is None and not force:
            refuse_if_unconfirmed(self.provider, fingerprint, ledger)
        job = self._new_job(operation, policy=policy, request=request, text=text)
        job.fingerprint = fingerprint
        if ledger is not None:
            self.keep_in_ledger(ledger, job, body)
            job.recover = lambda: recover(fingerprint, ledger, job)
        if stored is not None:
            return reuse(job, stored)
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

    def keep_in_ledger(self, ledger: ledgers.Ledger, job: Job, body: Any) -> None:
        """Write the job down now, synchronously, and keep its record current as it moves
        (a new job before its submit, or one rebuilt from a token); secrets masked."""
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


def _scrubbed(value: Any, scrub) -> Any:
    """`value` with every secret masked in its strings, at any depth."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, Mapping):
        return {k: _scrubbed(v, scrub) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrubbed(v, scrub) for v in value]
    return value


__all__ = [
    "SIMULATOR_MIN_INTERVAL",
    "Client",
    "announce_simulator",
    "check_endpoint",
    "configured_endpoint",
    "faster_policy",
    "in_voila",
    "notice_given",
    "resolve_endpoint",
    "resolve_single_key",
]
