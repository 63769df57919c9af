"""Poll policies: when to look at a running job again.

A policy only yields delays (seconds). The engine's `Pacer` applies the rules every policy
shares: the provider's minimum interval (a policy cannot undercut it), jitter (which only ever
lengthens a wait), `Retry-After` (which always wins) and the job's deadline. That keeps each
policy a few lines and lets the same engine code run on a virtual clock in tests and benchmarks.
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

from .durations import GRID_POINTS as GRID_POINTS  # re-exported: these lived here
from .durations import PRIOR_SPREAD as PRIOR_SPREAD
from .durations import DurationModel, Prediction, optimal_looks


@dataclass(frozen=True, kw_only=True)
class PollPolicy:
    """Fields shared by every policy.

    Attributes:
        timeout: the job's deadline in seconds after submit; None means the provider's default.
        jitter: each delay is stretched by a random fraction in [0, jitter) so that many jobs
            started together do not poll in lockstep. Never shortens a delay.
        max_polls: give up (TIMED_OUT) after this many polls; None means only the deadline counts.
    """

    timeout: float | None = None
    jitter: float = 0.0
    max_polls: int | None = None

    def delays(self, expected: float | None = None) -> Iterator[float]:
        """Yield the wait before each poll. `expected` is the predicted job duration, if known."""
        raise NotImplementedError

    def plan(self, expected: float | None, min_interval: float) -> Iterator[float]:
        """The waits the `Pacer` uses: `delays`, unless a policy needs to know the minimum
        interval to plan its looks (the pacer still enforces it)."""
        return self.delays(expected)

    def replace(self, **changes) -> PollPolicy:
        """A copy with some fields changed (policies are immutable)."""
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class Fixed(PollPolicy):
    """The same wait before every poll, like most hand-written loops."""

    interval: float = 5.0

    def delays(self, expected: float | None = None) -> Iterator[float]:
        while True:
            yield self.interval


@dataclass(frozen=True)
class Backoff(PollPolicy):
    """Exponential backoff: `initial`, then multiplied by `factor` up to `maximum`."""

    initial: float = 1.0
    factor: float = 1.5
    maximum: float = 30.0

    def delays(self, expected: float | None = None) -> Iterator[float]:
        delay = self.initial
        while True:
            yield min(delay, self.maximum)
            delay *= self.factor


@dataclass(frozen=True)
class Progressive(PollPolicy):
    """Long waits first that shrink, as CAMB.AI advises: a job is least likely to be done early.

    The last entry of `schedule` repeats until the job ends.
    """

    schedule: tuple[float, ...] = (30.0, 20.0, 10.0, 5.0, 3.0)

    def delays(self, expected: float | None = None) -> Iterator[float]:
        yield from self.schedule[:-1]
        while True:
            yield self.schedule[-1]


@dataclass(frozen=True)
class Adaptive(PollPolicy):
    """Look when the chance of finding the job done is worth a poll, by the learned spread.

    The prediction comes from the client's `DurationModel`, which learns the provider's typical
    duration for the text length, and how far jobs stray from it, from the jobs it has seen.
    Once it has seen a few jobs, the looks are planned for the job's whole duration
    distribution (`optimal_looks`): the schedule that minimises polls + `lag_cost` x lag,
    Barlow and Proschan's optimal inspection. A fixed first look at a quantile is too late
    for a long job with a wide spread (the early finishers wait long: most of the tail lag)
    and too early for a tight one; the plan looks early and sparsely where few jobs end and
    at the minimum interval where most do. The first look is never later than the `quantile`
    of the spread. Past the planned horizon (the model is wrong about this job) each wait
    follows the hazard, never more than a fifth of the time so far, as a backoff would.
    Without a spread (too few jobs seen) the first look is at the prediction; without any
    prediction it falls back to `fallback`.

    Attributes:
        quantile: at most this share of similar jobs is expected to be done at the first look.
        first_fraction: scales that bound (1 = exactly at the quantile).
        then: a fixed wait between later polls (and the first look at the quantile); 0 =
            planned, never under the minimum interval (the engine enforces it).
        lag_cost: how many polls one minimum interval of detection lag is worth (the knob
            between fewer polls and less lag).
        fallback: the policy used while nothing is known about this provider yet.
    """

    quantile: float = 0.3
    first_fraction: float = 1.0
    then: float = 0.0
    fallback: PollPolicy = dataclasses.field(default_factory=lambda: Backoff(1.0, 1.5, 15.0))
    lag_cost: float = 16.0
    COLD_LOOKS: ClassVar[float] = 20.0  # before any spread: the latest first look, in intervals

    def __post_init__(self) -> None:
        if not 0.0 <= self.quantile <= 1.0:
            raise ValueError(f"quantile must be in 0..1, not {self.quantile!r}")
        if self.lag_cost <= 0:
            raise ValueError(f"lag_cost must be > 0, not {self.lag_cost!r}")

    def delays(self, expected: float | None = None) -> Iterator[float]:
        return self.plan(expected, 0.0)

    def plan(self, expected: float | None, min_interval: float) -> Iterator[float]:
        if expected is None:
            yield from self.fallback.delays(None)
            return
        if isinstance(expected, Prediction):
            first = expected.quantile(self.quantile) * self.first_fraction
        else:
            first = float(expected) * self.first_fraction
        planned = isinstance(expected, Prediction) and expected.sigma is not None and expected > 0
        if not planned and not self.then and min_interval > 0:
            # Nothing learned yet: the prior may be minutes off this service (CAMB advises a
            # first look after a minute). Never look first later than COLD_LOOKS minimum
            # intervals; until the prior's time, each wait a fifth of the time so far.
            now = min(first, self.COLD_LOOKS * min_interval)
            yield now
            while now < first:
                wait = min(max(min_interval, 0.2 * now), first - now)
                yield wait
                now += max(wait, min_interval)
        if self.then or min_interval <= 0 or not planned:
            if self.then or min_interval <= 0:
                yield first
            while True:
                yield self.then
        rate = self.lag_cost / min_interval  # polls per second of lag
        looks = optimal_looks(expected, rate, min_interval)
        # The quantile bounds the first look: never fewer jobs done by then than planned
        # by the optimum, never more than the quantile's share.
        if looks[0] > first:
            looks = [first, *(t for t in looks if t >= first + min_interval)]
        now = 0.0
        for look in looks:
            yield look - now
            now = look
        while True:  # past the planned horizon: the model is wrong about this job
            wait = min_interval
            for _ in range(3):  # the hazard at the middle of the wait: a fixed point
                hazard = expected.hazard(now + wait / 2)
                wait = math.sqrt(2.0 / (rate * hazard)) if hazard else math.inf
                # never more than a fifth of the time so far: a job far off its prediction
                # is looked at as by a backoff
                wait = max(min_interval, min(wait, 0.2 * now))
            yield wait
            now += wait


class Pacer:
    """Turns a policy's delays into actual poll times for one job.

    Rules, in order: at least `min_interval`; stretched by jitter; `Retry-After` wins when it
    asks for more; never past the deadline (the last look happens exactly at it).

    `elapsed` is for a job submitted that many seconds ago (resumed after a restart): its
    looks keep the plan counted from the submit. Looks whose time has passed are made up by
    one look at once, then the plan goes on where it stands.
    """

    MAX_SKIPPED = 100_000  # bounds the catch-up for tiny intervals over a long outage

    def __init__(
        self,
        policy: PollPolicy,
        *,
        min_interval: float,
        deadline: float,
        expected: float | None = None,
        rng: random.Random | None = None,
        elapsed: float = 0.0,
    ) -> None:
        self.policy = policy
        self.min_interval = min_interval
        self.deadline = deadline
        self._delays = policy.plan(expected, min_interval)
        self._rng = rng or random.Random()
        self.polls_planned = 0
        self._caught_up: list[float] = self._catch_up(elapsed) if elapsed > 0 else []

    def _catch_up(self, elapsed: float) -> list[float]:
        """The first waits of a job submitted `elapsed` s ago: 0 when a planned look was
        missed, then what is left until the next planned one."""
        spent, missed = 0.0, False
        for _ in range(self.MAX_SKIPPED):
            delay = next(self._delays, None)
            if delay is None:
                break
            delay = max(delay, self.min_interval)
            if spent + delay > elapsed:
                left = spent + delay - elapsed
                return [0.0, max(left, self.min_interval)] if missed else [left]
            spent, missed = spent + delay, True
        return [0.0]

    def next_poll(self, now: float, retry_after: float | None = None) -> float | None:
        """The time of the next poll, or None when the policy or the deadline says stop."""
        if self.policy.max_polls is not None and self.polls_planned >= self.policy.max_polls:
            return None
        if now >= self.deadline:
            return None
        if self._caught_up:
            delay = self._caught_up.pop(0)
        else:
            delay = next(self._delays, None)
            if delay is None:
                return None
            delay = max(delay, self.min_interval)
            if self.policy.jitter:
                delay *= 1.0 + self.policy.jitter * self._rng.random()
        if retry_after is not None:
            if now + retry_after > self.deadline:
                return None  # waiting as asked would pass the deadline; looking earlier is rude
            delay = max(delay, retry_after)
        self.polls_planned += 1
        return min(now + delay, self.deadline)


__all__ = [
    "PollPolicy",
    "Fixed",
    "Backoff",
    "Progressive",
    "Adaptive",
    "Prediction",
    "DurationModel",
    "Pacer",
]
