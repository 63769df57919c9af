"""What every provider client shares: endpoint and credential resolution, the transport, and
starting jobs on the scheduler. Provider modules add only their protocol."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from .errors import InvalidInput
from .job import Job, Operation
from .policy import DurationModel, PollPolicy
from .scheduler import Scheduler, default_scheduler
from .transport import Transport

_banner_shown = False
_banner_lock = threading.Lock()


def announce_simulator(simulator_url: str) -> None:
    """Say once per process, clearly, that calls go to the offline simulator."""
    global _banner_shown
    with _banner_lock:
        if _banner_shown:
            return
        _banner_shown = True
    print(
        "tts_nb: no API keys found, so requests go to the embedded simulator "
        f"({simulator_url}: offline, no account, no quota, real speech from espeak-ng). "
        "Set TYPECAST_API_KEY, CAMB_API_KEY or ASPOSE_CLIENT_ID/ASPOSE_CLIENT_SECRET to use "
        "the real services.",
        file=sys.stderr,
    )


class Client:
    """Base class of the provider clients.

    Subclasses set the class attributes and implement `_auth_headers`, `_secret_values` and
    `_describe_error`.
    """

    provider: ClassVar[str]
    real_url: ClassVar[str]
    url_env: ClassVar[str]
    default_min_interval: ClassVar[float]
    default_timeout: ClassVar[float]
    default_policy: ClassVar[PollPolicy]
    duration_prior: ClassVar[tuple[float, float]]

    def __init__(
        self,
        *,
        base_url: str,
        simulated: bool,
        policy: PollPolicy | None,
        min_interval: float | None,
        http_timeout: tuple[float, float] = (5.0, 30.0),
        scheduler: Scheduler | None = None,
    ) -> None:
        if min_interval is not None and min_interval < 0:
            raise InvalidInput("min_interval must be >= 0 seconds.", provider=self.provider)
        self.base_url = base_url.rstrip("/")
        self.simulated = simulated
        self.policy = policy or self.default_policy
        self.min_interval = self.default_min_interval if min_interval is None else min_interval
        self.scheduler = scheduler
        self.duration_model = DurationModel(self.duration_prior)
        self.transport = Transport(
            self.base_url,
            provider=self.provider,
            auth_headers=self._auth_headers,
            describe_error=self._describe_error,
            secrets=self._secret_values,
            timeout=http_timeout,
        )

    # -- for subclasses
    def _auth_headers(self) -> dict[str, str]:
        raise NotImplementedError

    def _secret_values(self) -> Iterable[str]:
        raise NotImplementedError

    def _describe_error(self, response) -> str | None:
        return None

    # -- shared
    def _start(
        self,
        operation: Operation,
        *,
        policy: PollPolicy | None,
        request: Mapping[str, Any],
        text: str,
    ) -> Job:
        policy = policy or self.policy
        scrub = self.transport.scrub  # a key pasted into a text must not reach tables or views
        request = {k: scrub(v) if isinstance(v, str) else v for k, v in request.items()}
        timeout = policy.timeout if policy.timeout is not None else self.default_timeout
        job = Job(
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
        return job.start()

    def __repr__(self) -> str:
        where = "simulator" if self.simulated else self.base_url
        return f"<{type(self).__name__} {where}>"


def resolve_endpoint(
    provider: str, *, has_key: bool, base_url: str | None, real_url: str
) -> tuple[str | None, bool]:
    """(base URL, simulated). None means: use the embedded simulator's URL."""
    from .credentials import simulator_forced

    if simulator_forced() or not has_key:
        if base_url and not simulator_forced() and not has_key:
            return base_url, False  # an explicit URL without a key: the caller knows best
        return None, True
    return base_url or real_url, False
