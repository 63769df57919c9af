"""Duration learning: how long a provider's jobs take, and how far they stray.

Split from `policy` so that module holds only when to look (the policies and the `Pacer`),
while this one holds the statistics the `Adaptive` policy plans with: `DurationModel` (a line
over text length, fitted to interval-censored observations by EM, with an optional two-part
log-normal mixture), its `Prediction`, and `optimal_looks` (the planned inspection times).
numpy is imported lazily inside `optimal_looks`, so `import tts_nb` stays light.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from statistics import NormalDist


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
        j = i + k  # the next look, the first too: at least min_interval later
        cost = a[j:] - rate * cdf[i] * t[j:] + w[j:]
        pick = int(np.argmin(cost))
        best[i] = j + pick
        w[i] = (1 - cdf[i]) + cost[pick] + rate * partial[i]
    looks, i = [], 0
    while best[i] >= 0:
        i = int(best[i])
        looks.append(float(t[i]))
    return looks


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
            # far in the tail: the part that reaches farthest there (the least z) sets it
            y = math.log(t / float(self))
            _, mu, sigma = min(self.components, key=lambda part: (y - part[1]) / part[2])
            return max((y - mu) / sigma, 0.0) / (sigma * t)
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
    if low > mean:  # the upper half: the difference of survivals is the precise one there
        above_low = 0.5 * math.erfc((low - mean) / (sd * math.sqrt(2)))
        return max(above_low - 0.5 * math.erfc((high - mean) / (sd * math.sqrt(2))), 1e-300)
    upper = 0.5 * math.erfc(-(high - mean) / (sd * math.sqrt(2)))
    lower = 0.5 * math.erfc(-(low - mean) / (sd * math.sqrt(2)))  # 0 when low is -inf
    return max(upper - lower, 1e-300)  # far in the lower tail too, these are precise


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


__all__ = ["Prediction", "DurationModel", "optimal_looks", "GRID_POINTS", "PRIOR_SPREAD"]
