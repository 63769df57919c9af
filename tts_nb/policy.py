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
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from statistics import NormalDist
from typing import ClassVar


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


def optimal_looks(expected: Prediction, rate: float, min_interval: float) -> list[float]:
    """The look times (s after submit) that minimise E[polls] + rate x E[lag] for a job whose
    duration follows `expected`'s log-normal (or mixture of two), gaps >= `min_interval`, up
    to its 99.9 % quantile: Barlow and Proschan's optimal inspection, by dynamic programming on
    a grid.

    With S(t) the chance the job still runs at t and W(i) the least cost still to pay after a
    look at t_i found it running, W(i) = S(t_i) + min over j of rate x E[(t_j - T); t_i < T
    <= t_j] + W(j): one poll at t_j plus the lag of the jobs done in between, then the rest.
    """
    import numpy as np  # a dependency of pandas; imported here to keep `import tts_nb` light

    horizon = expected.quantile(0.999) + min_interval
    step = max(min_interval / 4, horizon / GRID_POINTS)
    k = max(1, math.ceil(min_interval / step - 1e-9))
    t = np.arange(step, horizon + step, step)
    line = float(expected)
    cdf, partial = np.zeros(t.size), np.zeros(t.size)
    for weight, mu, sigma in expected.parts():
        z = (np.log(t / line) - mu) / sigma
        cdf += weight * np.array([_NORMAL.cdf(v) for v in z])
        mean = line * math.exp(mu + sigma * sigma / 2)
        partial += weight * mean * np.array([_NORMAL.cdf(v - sigma) for v in z])  # E[T; T <= t]
    cdf, partial = np.concatenate(([0.0], cdf)), np.concatenate(([0.0], partial))
    t = np.concatenate(([0.0], t))
    n = t.size
    w = np.zeros(n)
    best = np.full(n, -1)
    a = rate * (t * cdf - partial)
    for i in range(n - 1 - k, -1, -1):
        j = i + (k if i else max(1, k))  # the first look: any time after the submit
        cost = a[j:] - rate * cdf[i] * t[j:] + w[j:]
        pick = int(np.argmin(cost))
        best[i] = j + pick
        w[i] = (1 - cdf[i]) + cost[pick] + rate * partial[i]
    looks, i = [], 0
    while best[i] >= 0:
        i = int(best[i])
        looks.append(float(t[i]))
    return looks or [float(expected)]


GRID_POINTS = 400  # time steps of a planned schedule: its resolution against its cost
PRIOR_SPREAD = 0.3


class Prediction(float):
    """A predicted duration in seconds that also knows how far finished jobs strayed from it.

    It is a plain float (the fitted line), so any policy can use it as one number; `Adaptive`
    asks for a quantile instead: `prediction.quantile(0.2)` is the time by which about a fifth
    of such jobs were done. Durations vary in proportion to the job's length, so the spread is
    kept as ratios observed / predicted: the ratios themselves when every duration was known
    exactly, and a log-normal (`mu`, `sigma` of log(ratio)) fitted to what was seen, which is
    usually only "done somewhere between two looks". When the ratios have two humps (a
    queue in front of the service: some jobs wait, most do not), `components` holds a mixture
    of two log-normals, (weight, mu, sigma) each, which `quantile`, `hazard` and the planned
    looks use instead of the single one.
    """

    def __new__(
        cls,
        seconds: float,
        ratios: tuple[float, ...] = (),
        *,
        mu: float = 0.0,
        sigma: float | None = None,
        components: tuple[tuple[float, float, float], ...] = (),
    ) -> Prediction:
        self = super().__new__(cls, seconds)
        self.ratios = tuple(sorted(ratios))
        self.mu = mu
        self.sigma = sigma
        self.components = tuple(components) if sigma is not None else ()
        return self

    def parts(self) -> tuple[tuple[float, float, float], ...]:
        """The spread of log(observed / line) as (weight, mu, sigma) log-normal parts."""
        return self.components or ((1.0, self.mu, self.sigma or PRIOR_SPREAD),)

    def _survival(self, z: float) -> tuple[float, float]:
        """(P(log ratio > z), its density at z) under the parts."""
        survival = density = 0.0
        for weight, mu, sigma in self.parts():
            u = (z - mu) / sigma
            survival += weight * 0.5 * math.erfc(u / math.sqrt(2))
            density += weight * _NORMAL.pdf(u) / sigma
        return survival, density

    def quantile(self, q: float) -> float:
        """The duration by which a share `q` of similar jobs finished (the line without data)."""
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"q must be in 0..1, not {q!r}")
        if self.ratios:
            position = q * (len(self.ratios) - 1)
            low = int(position)
            high = min(low + 1, len(self.ratios) - 1)
            ratio = self.ratios[low] + (self.ratios[high] - self.ratios[low]) * (position - low)
            return float(self) * ratio
        if self.sigma is None or float(self) <= 0:
            return float(self)
        q = min(max(q, 1e-9), 1 - 1e-9)
        if not self.components:
            return float(self) * math.exp(self.mu + self.sigma * _NORMAL.inv_cdf(q))
        low = min(mu - 8 * sigma for _, mu, sigma in self.components)
        high = max(mu + 8 * sigma for _, mu, sigma in self.components)
        for _ in range(60):  # bisection on the mixture's distribution function
            middle = (low + high) / 2
            low, high = (middle, high) if 1 - self._survival(middle)[0] < q else (low, middle)
        return float(self) * math.exp((low + high) / 2)

    def hazard(self, t: float) -> float:
        """Per second, the chance that a job not done after `t` s finishes now (log-normal)."""
        if self.sigma is None or t <= 0 or float(self) <= 0:
            return 0.0
        if self.components:
            survival, density = self._survival(math.log(t / float(self)))
            if survival > 1e-12:
                return density / (t * survival)
            # far in the tail: the widest part's
            _, mu, sigma = max(self.components, key=lambda part: part[1] + 3 * part[2])
            return max((math.log(t / float(self)) - mu) / sigma, 0.0) / (sigma * t)
        z = (math.log(t / float(self)) - self.mu) / self.sigma
        survival = 0.5 * math.erfc(z / math.sqrt(2))
        if survival < 1e-12:  # far in the tail: the log-normal's hazard ~ z / (sigma t)
            return z / (self.sigma * t)
        return _NORMAL.pdf(z) / (self.sigma * t * survival)


_NORMAL = NormalDist()


def _mass(mean: float, sd: float, low: float, high: float) -> float:
    """P(low < X <= high) for X ~ N(mean, sd²); its density when low == high (an exact value)."""
    if high - low < 1e-9 * sd:
        return max(_NORMAL.pdf((high - mean) / sd) / sd, 1e-300)
    upper = 0.5 * math.erfc(-(high - mean) / (sd * math.sqrt(2)))
    lower = 0.5 * math.erfc(-(low - mean) / (sd * math.sqrt(2))) if math.isfinite(low) else 0.0
    if upper - lower < 1e-12:  # far in a tail: the difference of survivals is more precise
        upper_s = 0.5 * math.erfc((low - mean) / (sd * math.sqrt(2))) if math.isfinite(low) else 1
        return max(upper_s - 0.5 * math.erfc((high - mean) / (sd * math.sqrt(2))), 1e-300)
    return upper - lower


def _truncated(mean: float, sd: float, low: float, high: float) -> tuple[float, float]:
    """Mean and variance of N(mean, sd²) restricted to [low, high] (either may be infinite)."""
    if high - low < 1e-9 * sd:
        return (low + high) / 2, 0.0
    a, b = (low - mean) / sd, (high - mean) / sd
    mass = _NORMAL.cdf(b) - _NORMAL.cdf(a)
    if mass < 1e-12:  # the interval is far in a tail: the nearer end carries it
        edge = low if a > 0 else high
        return edge, 0.0
    pa = _NORMAL.pdf(a) if math.isfinite(a) else 0.0
    pb = _NORMAL.pdf(b) if math.isfinite(b) else 0.0
    za = a * pa if math.isfinite(a) else 0.0
    zb = b * pb if math.isfinite(b) else 0.0
    shift = (pa - pb) / mass
    variance = sd * sd * max(0.0, 1 + (za - zb) / mass - shift * shift)
    return mean + sd * shift, variance


class DurationModel:
    """Learns how long a provider's jobs take as a function of text length, and how much they vary.

    A least-squares line `seconds = a + b * characters` over the last `window` finished jobs,
    starting from the provider's prior (a, b), and a log-normal spread of the ratios
    observed / line. A window rather than all history, so the model follows a provider that
    gets slower or faster; within it, recent jobs weigh more in the spread.

    What a poller sees is rarely a duration: a job found done was done somewhere between the
    last look that saw it running and this one (`observe_interval`). Taking the middle biases
    the model (a job done at its first look teaches "half the first wait"); instead the fit is
    a likelihood over the interval, by a few EM steps: each job's duration is replaced by its
    expectation given the interval under the current fit, the line and the spread are fitted
    to those, and again. Thread-safe: jobs finish on worker threads.
    """

    MIN_SAMPLES = 3
    EM_STEPS = 6
    PRIOR_SIGMA = 0.3  # the spread assumed before any job: a third either way
    PRIOR_WEIGHT = 1.0  # in jobs: how much that assumption counts once jobs are seen
    HALF_LIFE = 25.0  # jobs: a job this many finishes ago weighs half as much in the spread
    MIXTURE_STEPS = 8  # EM steps of the two-part fit (each started from the last fit's)
    MIN_PART = 0.08  # a part of a mixture holds at least this share of the jobs
    MIXTURE_MARGIN = 6.0  # log-likelihood (x2) a mixture must gain beyond BIC's penalty

    def __init__(self, prior: tuple[float, float], window: int = 50) -> None:
        self._prior = prior
        self.window = window  # how many finished jobs it keeps (what a warm start reads)
        self._samples: deque[tuple[int, float, float]] = deque(maxlen=window)
        self._lock = threading.Lock()
        self._fitted: tuple | None = None
        self._parts: tuple[tuple[float, float, float], ...] = ()  # the last mixture: EM's start

    def observe(self, characters: int, seconds: float) -> None:
        """A job of this length took exactly `seconds`."""
        if seconds > 0:
            self.observe_interval(characters, seconds, seconds)

    def observe_interval(self, characters: int, low: float, high: float) -> None:
        """A job of this length was still running `low` s after submit and done at `high` s."""
        if high > 0 and high >= low:
            with self._lock:
                self._samples.append((characters, max(low, 0.0), high))
                self._fitted = None

    def predict(self, characters: int) -> Prediction:
        """The expected duration for a text of this length, with the spread seen so far."""
        with self._lock:
            if self._fitted is None:
                self._fitted = self._fit(list(self._samples))
            a, b, mu, sigma, ratios, parts = self._fitted
        line = max(0.0, a + b * characters)
        if len(self._samples) < self.MIN_SAMPLES:
            return Prediction(line)
        return Prediction(line, ratios, mu=mu, sigma=sigma, components=parts)

    def _fit(self, samples: list[tuple[int, float, float]]) -> tuple:
        """(a, b, mu, sigma, ratios, parts): the line, the log-normal spread around it, the
        ratios to the line when every duration is known exactly (else empty), and a mixture of
        two log-normals when it fits the spread clearly better (else empty)."""
        if len(samples) < self.MIN_SAMPLES:
            return (*self._prior, 0.0, self.PRIOR_SIGMA, (), ())
        xs = [float(x) for x, _, _ in samples]
        exact = all(low == high for _, low, high in samples)
        weights = [0.5 ** ((len(samples) - 1 - i) / self.HALF_LIFE) for i in range(len(samples))]
        mu, sigma = 0.0, self.PRIOR_SIGMA
        # Start from the jobs whose end is known closely (a job done at its first look, seen
        # after a long wait, says little); with too few of those, from the prior's line.
        narrow = [
            (x, (low + high) / 2) for x, (_, low, high) in zip(xs, samples) if high <= 1.5 * low
        ]
        if len(narrow) >= self.MIN_SAMPLES:
            a, b = self._line([x for x, _ in narrow], [y for _, y in narrow])
        else:
            a, b = self._prior
        ys = [
            high if low == high else min(max(a + b * x, low), high)
            for x, (_, low, high) in zip(xs, samples)
        ]
        for _ in range(1 if exact else self.EM_STEPS):
            a, b = self._line(xs, ys, (a, b))
            moments = []
            for x, (_, low, high) in zip(xs, samples):
                line = max(a + b * x, 1e-6)
                log_low = math.log(low / line) if low > 0 else -math.inf
                moments.append(_truncated(mu, sigma, log_low, math.log(high / line)))
            total = sum(weights) + self.PRIOR_WEIGHT
            mu = sum(w * m for w, (m, _) in zip(weights, moments)) / total
            spread = sum(w * (v + (m - mu) ** 2) for w, (m, v) in zip(weights, moments))
            sigma = max(math.sqrt((spread + self.PRIOR_WEIGHT * self.PRIOR_SIGMA**2) / total), 0.02)
            # E-step for the line: each duration at its expectation given its interval
            ys = [max(a + b * x, 1e-6) * math.exp(m + v / 2) for x, (m, v) in zip(xs, moments)]
        if exact:
            ratios = tuple(y / (a + b * x) for x, y in zip(xs, ys) if a + b * x > 0)
        else:
            a, b = self._line(xs, ys, (a, b))
            ratios = ()
        logs = []
        for x, (_, low, high) in zip(xs, samples):
            line = max(a + b * x, 1e-6)
            logs.append((math.log(low / line) if low > 0 else -math.inf, math.log(high / line)))
        self._parts = self._mixture(logs, weights, mu, sigma)
        return a, b, mu, sigma, ratios, self._parts

    def _mixture(
        self, logs: list[tuple[float, float]], weights: list[float], mu: float, sigma: float
    ) -> tuple[tuple[float, float, float], ...]:
        """Two log-normal parts for the log ratios, each known to lie in (low, high], by EM
        (started from the last fit's, or from the single one split in two); empty unless they
        fit clearly better than the single (mu, sigma): by BIC, each part at least
        `MIN_PART` of the jobs."""
        single = sum(w * math.log(_mass(mu, sigma, lo, hi)) for w, (lo, hi) in zip(weights, logs))
        parts = self._parts or (
            (0.6, mu - 0.6 * sigma, 0.6 * sigma),
            (0.4, mu + 0.9 * sigma, 0.6 * sigma),
        )
        likelihood = -math.inf
        for _ in range(self.MIXTURE_STEPS):
            masses = [[pi * _mass(m, sd, lo, hi) for pi, m, sd in parts] for lo, hi in logs]
            likelihood = sum(w * math.log(sum(row)) for w, row in zip(weights, masses))
            new = []
            for k, (_, m, sd) in enumerate(parts):
                share = [w * row[k] / sum(row) for w, row in zip(weights, masses)]
                total = sum(share)
                if total < 1e-9:
                    return ()
                moments = [_truncated(m, sd, lo, hi) for lo, hi in logs]
                mean = sum(r * mm for r, (mm, _) in zip(share, moments)) / total
                var = sum(r * (v + (mm - mean) ** 2) for r, (mm, v) in zip(share, moments))
                new.append((total / sum(weights), mean, max(math.sqrt(var / total), 0.02)))
            parts = tuple(new)
        if min(pi for pi, _, _ in parts) < self.MIN_PART:
            return ()
        if 2 * (likelihood - single) <= 3 * math.log(sum(weights)) + self.MIXTURE_MARGIN:
            return ()
        return tuple(sorted(parts, key=lambda part: part[1]))

    def _line(
        self, xs: list[float], ys: list[float], around: tuple[float, float] | None = None
    ) -> tuple[float, float]:
        """Least squares `y = a + b x` with b >= 0 (the prior's slope when all x are equal).

        With `around` (the previous fit), each job is weighted by 1 / its fitted duration²:
        durations vary in proportion to their length, so plain least squares would let the
        longest jobs set the line, leave the short ones far off it and the spread (kept as
        ratios) wide. A fitted duration under half the job's own counts as half of it: a line
        far too low for some jobs must not hand them all the weight (it would stay there)."""
        ws = [
            1.0 / max(around[0] + around[1] * x, y / 2, 1e-6) ** 2 if around else 1.0
            for x, y in zip(xs, ys)
        ]
        total = sum(ws)
        mean_x = sum(w * x for w, x in zip(ws, xs)) / total
        mean_y = sum(w * y for w, y in zip(ws, ys)) / total
        var_x = sum(w * (x - mean_x) ** 2 for w, x in zip(ws, xs))
        if max(xs) == min(xs):  # every text had the same length: keep the prior's slope
            return mean_y - self._prior[1] * mean_x, self._prior[1]
        slope = sum(w * (x - mean_x) * (y - mean_y) for w, x, y in zip(ws, xs, ys)) / var_x
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
