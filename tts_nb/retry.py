"""One retry value for every request that failed, kept apart from polling.

Polling (how often to look at a job that is still running) belongs to the policies in
policy.py. Retrying (what to do when one request fails) is this value, after google-api-core's
``Retry``: how many tries, how long to wait between them, and which errors are worth another
try. A client passes its one `Retry` to every place that used to have a setting of its own:

* the transport's GET re-sends after a 500/502/504 or a dropped connection (urllib3, blocking;
  `attempts` tries, waiting `delays()`);
* the engine's fetch of a finished result (`attempts` tries, paced like polls: `min_interval`,
  and a ``Retry-After`` always wins);
* a submit the server refused with 429 (or 503 and ``Retry-After``): nothing was accepted, so
  it is sent again as the server asks, for at most `timeout` seconds (None: until the job's
  deadline), whatever `attempts` says;
* Aspose's token requests (`attempts` tries, at most two; waiting `delays()`); a 4xx is
  never sent again there, whatever the predicate says (failed logins lead to a lockout).

Every path asks the predicate first; errors say themselves whether they are retryable
(`TTSError.retryable`).

The job's own deadline always holds, whatever the value allows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .errors import TTSError


def is_retryable(error: TTSError) -> bool:
    """The default predicate: what the error itself says (`TTSError.retryable`)."""
    return error.retryable


@dataclass(frozen=True)
class Retry:
    """How failed requests are tried again. Immutable: `replace` and the `with_*` methods
    return changed copies, so one value can be shared by clients and threads.

    Args:
        initial: seconds before the second retry (the first goes at once: a dropped
            connection is usually a one-off).
        maximum: the longest wait between two tries.
        multiplier: how much each wait grows over the one before.
        attempts: tries of one request in all (1: never try again).
        timeout: seconds a refused submit keeps being sent again, counted from the job's
            submit; None: until the job's deadline.
        predicate: which errors are worth another try (default: `error.retryable`).

    The defaults are the settings tts_nb always had: three tries of a GET, the second at
    once and the third 0.4 s later.
    """

    initial: float = 0.4
    maximum: float = 2.0
    multiplier: float = 2.0
    attempts: int = 3
    timeout: float | None = None
    predicate: Callable[[TTSError], bool] = is_retryable

    def __post_init__(self) -> None:
        if isinstance(self.attempts, bool) or not isinstance(self.attempts, int):
            raise TypeError(f"attempts must be a whole number, not {self.attempts!r}")
        if self.attempts < 1:
            raise ValueError("attempts must be >= 1 (1: never try again)")
        if min(self.initial, self.maximum) < 0 or self.multiplier < 1:
            raise ValueError("initial and maximum must be >= 0, and multiplier >= 1")
        if self.timeout is not None and self.timeout < 0:
            raise ValueError("timeout must be >= 0 seconds, or None")

    def delays(self) -> Iterator[float]:
        """The waits before each retry (`attempts - 1` of them): 0, then `initial`, growing
        by `multiplier` up to `maximum` (urllib3's backoff, so GETs keep their timing)."""
        delay = 0.0
        for retry in range(1, self.attempts):
            yield delay
            delay = min(self.maximum, self.initial if retry == 1 else delay * self.multiplier)

    def retryable(self, error: TTSError) -> bool:
        """True when `error` is worth another try under this value's predicate."""
        return bool(self.predicate(error))

    def replace(self, **changes) -> Retry:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def with_attempts(self, attempts: int) -> Retry:
        return self.replace(attempts=attempts)

    def with_delay(
        self,
        initial: float | None = None,
        maximum: float | None = None,
        multiplier: float | None = None,
    ) -> Retry:
        """A copy with other waits (fields left None keep their value)."""
        return self.replace(
            initial=self.initial if initial is None else initial,
            maximum=self.maximum if maximum is None else maximum,
            multiplier=self.multiplier if multiplier is None else multiplier,
        )

    def with_timeout(self, timeout: float | None) -> Retry:
        return self.replace(timeout=timeout)

    def with_predicate(self, predicate: Callable[[TTSError], bool]) -> Retry:
        return self.replace(predicate=predicate)

    def __repr__(self) -> str:
        predicate = getattr(self.predicate, "__qualname__", repr(self.predicate))
        return (
            f"Retry(initial={self.initial:g}, maximum={self.maximum:g}, "
            f"multiplier={self.multiplier:g}, attempts={self.attempts}, "
            f"timeout={self.timeout!r}, predicate={predicate})"
        )


DEFAULT_RETRY = Retry()

__all__ = ["Retry", "DEFAULT_RETRY", "is_retryable"]
