"""Poll policies: when to look at a running job again.

A policy only yields delays (seconds). The engine's `Pacer` applies the rules every policy
shares: the provider's minimum interval (a policy cannot undercut it), jitter (which only ever
lengthens a wait), `Retry-After` (which always wins) and the job's deadline. That keeps each
policy a few lines and lets the same engine code run on a virtual clock in tests and benchmarks.
"""

from __future__ import annotations

import dataclasses
import random
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass


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
    """Look first near the predicted finish, then every `then` seconds (0 = the minimum interval).

    The prediction comes from the client's `DurationModel`, which learns the provider's typical
    duration for the text length, and how far jobs stray from it, from the jobs it has seen.
    The first look lands at the `quantile` of that spread: looking at the average finish would
    leave half the jobs done long before anyone looks, while an early quantile leaves most
    jobs only a few polls at the minimum interval. Without a prediction it falls back to
    `fallback`.

    Attributes:
        quantile: the share of similar jobs expected to be done at the first look (once the
            model has seen a few jobs; before that, the first look is at the prior's estimate).
        first_fraction: scales the first look (1 = exactly at the quantile).
        then: wait between later polls; the engine raises it to the minimum interval.
        fallback: the policy used while nothing is known about this provider yet.
    """

    quantile: float = 0.3
    first_fraction: float = 1.0
    then: float = 0.0
    fallback: PollPolicy = dataclasses.field(default_factory=lambda: Backoff(1.0, 1.5, 15.0))

    def __post_init__(self) -> None:
        if not 0.0 <= self.quantile <= 1.0:
            raise ValueError(f"quantile must be in 0..1, not {self.quantile!r}")

    def delays(self, expected: float | None = None) -> Iterator[float]:
        if expected is None:
            yield from self.fallback.delays(None)
            return
        if isinstance(expected, Prediction):
            first = expected.quantile(self.quantile)
        else:
            first = float(expected)
        yield first * self.first_fraction
        while True:
            yield self.then


class Prediction(float):
    """A predicted duration in seconds that also knows how far finished jobs strayed from it.

    It is a plain float (the fitted line), so any policy can use it as one number; `Adaptive`
    asks for a quantile instead: `prediction.quantile(0.2)` is the time by which about a fifth
    of such jobs were done. Durations vary in proportion to the job's length, so the spread is
    kept as ratios observed / predicted.
    """

    def __new__(cls, seconds: float, ratios: tuple[float, ...] = ()) -> Prediction:
        self = super().__new__(cls, seconds)
        self.ratios = tuple(sorted(ratios))
        return self

    def quantile(self, q: float) -> float:
        """The duration by which a share `q` of similar jobs finished (the line without data)."""
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"q must be in 0..1, not {q!r}")
        if not self.ratios:
            return float(self)
        position = q * (len(self.ratios) - 1)
        low = int(position)
        high = min(low + 1, len(self.ratios) - 1)
        ratio = self.ratios[low] + (self.ratios[high] - self.ratios[low]) * (position - low)
        return float(self) * ratio


class DurationModel:
    """Learns how long a provider's jobs take as a function of text length, and how much they vary.

    A least-squares line `seconds = a + b * characters` over the last `window` finished jobs,
    starting from the provider's prior (a, b); the ratios observed / line of those same jobs
    are the spread that `Prediction.quantile` reads. A window rather than all history, so the
    model follows a provider that gets slower or faster. Thread-safe: jobs finish on worker
    threads.
    """

    MIN_SAMPLES = 3

    def __init__(self, prior: tuple[float, float], window: int = 50) -> None:
        self._prior = prior
        self._samples: deque[tuple[int, float]] = deque(maxlen=window)
        self._lock = threading.Lock()

    def observe(self, characters: int, seconds: float) -> None:
        if seconds > 0:
            with self._lock:
                self._samples.append((characters, seconds))

    def predict(self, characters: int) -> Prediction:
        """The expected duration for a text of this length, with the spread seen so far."""
        with self._lock:
            samples = list(self._samples)
        a, b = self._fit(samples)
        ratios = []
        if len(samples) >= self.MIN_SAMPLES:
            ratios = [y / (a + b * x) for x, y in samples if a + b * x > 0]
        return Prediction(max(0.0, a + b * characters), tuple(ratios))

    def _fit(self, samples: list[tuple[int, float]]) -> tuple[float, float]:
        if len(samples) < self.MIN_SAMPLES:
            return self._prior
        xs = [float(x) for x, _ in samples]
        ys = [y for _, y in samples]
        mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
        var_x = sum((x - mean_x) ** 2 for x in xs)
        if var_x == 0:  # every text had the same length: keep the prior's slope
            return mean_y - self._prior[1] * mean_x, self._prior[1]
        slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / var_x
        slope = max(slope, 0.0)
        return mean_y - slope * mean_x, slope


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
        self._delays = policy.delays(expected)
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
