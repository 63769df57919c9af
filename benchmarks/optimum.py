"""The best possible polling schedule for a known duration distribution (the reference line).

Barlow–Proschan optimal inspection: choose look times t1 < t2 < ... (each at least the
provider's minimum interval after the previous one, the first after the submit) that minimise
E[polls] + lam * E[lag] for a job whose duration T has a known distribution. On a time grid it
is a dynamic programme: with S = P(T > t) and W(i) = S(t_i) x the least cost still to pay
when a look at t_i found the job running,

    W(i) = S(t_i) + min over j >= i + k of  lam * E[(t_j - T); t_i < T <= t_j] + W(j)

(one poll at t_j, the lag of the jobs done in between, then the rest). The poller is given the
workload's true distribution for the job's text length (the client knows the text) and, for a
drifting service, for the half of the run the job is in: an oracle no real poller has, so
its frontier is a lower bound for every policy. Sweeping lam draws the frontier.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .workloads import Workload

GRID_POINTS = 1200  # time steps per schedule: the schedule's resolution
SAMPLES = 3000  # Monte Carlo draws of the true distribution per text-length bin


@dataclass(frozen=True)
class Frontier:
    """The optimum at each lam: per-job polls and lags on the benchmark's own jobs."""

    lam: tuple[float, ...]
    polls: tuple[np.ndarray, ...]
    lags: tuple[np.ndarray, ...]

    def metrics(self) -> list[dict[str, float]]:
        """Per lam: mean and median polls, mean, median and p95 lag."""
        return [
            {
                "lam": lam,
                "polls_mean": float(p.mean()),
                "polls_median": float(np.median(p)),
                "polls_p95": float(np.percentile(p, 95)),
                "lag_mean": float(g.mean()),
                "lag_median": float(np.median(g)),
                "lag_p95": float(np.percentile(g, 95)),
            }
            for lam, p, g in zip(self.lam, self.polls, self.lags)
        ]

    def at(self, key: str, value: float) -> dict[str, float]:
        """The optimum's metrics where its `key` (e.g. "lag_median") equals `value`, linear
        between the lam points (the nearest end beyond them)."""
        rows = sorted(self.metrics(), key=lambda m: m[key])
        xs = [m[key] for m in rows]
        return {name: float(np.interp(value, xs, [m[name] for m in rows])) for name in rows[0]}

    def best_at_most(self, key: str, value: float, name: str) -> float:
        """The least `name` the optimum reaches with its `key` at most `value` (e.g. the best
        p95 lag without more median polls); its smallest-`key` point when none qualifies."""
        rows = self.metrics()
        fit = [m[name] for m in rows if m[key] <= value + 1e-9]
        return min(fit) if fit else min(rows, key=lambda m: m[key])[name]


def schedule(durations: np.ndarray, lam: float, min_interval: float, deadline: float) -> np.ndarray:
    """The optimal look times (seconds after submit) for jobs with these sampled durations.

    The same Barlow–Proschan recursion as `tts_nb.durations.optimal_looks`, written again on
    purpose: this is the reference the planner is graded against, on the true (sampled)
    distribution, so it must not share the planner's code or its bugs.
    """
    horizon = min(float(np.quantile(durations, 0.999)) + min_interval, deadline)
    step = min(min_interval / 4, horizon / GRID_POINTS)
    k = max(1, math.ceil(min_interval / step - 1e-9))
    t = np.arange(0.0, horizon + step, step)
    clipped = np.sort(np.minimum(durations, t[-1]))
    done = np.searchsorted(clipped, t, side="right")
    cdf = done / clipped.size
    partial = np.concatenate(([0.0], np.cumsum(clipped)))[done] / clipped.size  # E[T; T <= t]
    n = t.size
    w = np.zeros(n)
    best = np.full(n, -1)
    a = lam * (t * cdf - partial)
    for i in range(n - 1 - k, -1, -1):
        j = i + k
        cost = a[j:] - lam * cdf[i] * t[j:] + w[j:]
        pick = int(np.argmin(cost))
        best[i] = j + pick
        w[i] = (1 - cdf[i]) + cost[pick] + lam * partial[i]
    looks, i = [], 0
    while best[i] >= 0:
        i = best[i]
        looks.append(t[i])
    return np.array(looks or [min_interval])


def _bins(workload: Workload, count: int) -> np.ndarray:
    low, high = workload.chars
    if workload.log_chars:
        return np.unique(np.round(np.geomspace(low, high, count + 1)).astype(int))
    return np.unique(np.round(np.linspace(low, high, count + 1)).astype(int))


def frontier(
    workload: Workload,
    jobs: Sequence[tuple[int, float, float]],
    lams: Sequence[float],
    bins: int = 16,
    seed: int = 7,
) -> Frontier:
    """The optimum's polls and lag on `jobs`, for each lam (polls per second of lag)."""
    rng = random.Random(seed)
    edges = _bins(workload, bins)
    phases = (0.0, 0.5) if workload.drift != 1.0 else (0.0,)
    n = len(jobs)
    chars = np.array([c for c, _, _ in jobs])
    durations = np.array([d for _, d, _ in jobs])
    which = np.clip(np.searchsorted(edges, chars, side="right") - 1, 0, len(edges) - 2)
    phase = np.array([int(i / n >= 0.5) if len(phases) > 1 else 0 for i in range(n)])
    draws = {
        (b, p): np.array(
            [
                workload.duration(workload.characters(rng, edges[b], edges[b + 1]), rng, start)
                for _ in range(SAMPLES)
            ]
        )
        for b in range(len(edges) - 1)
        for p, start in enumerate(phases)
    }
    all_polls, all_lags = [], []
    for lam in lams:
        polls, lags = np.zeros(n), np.zeros(n)
        for key, sample in draws.items():
            mine = (which == key[0]) & (phase == key[1])
            if not mine.any():
                continue
            looks = schedule(sample, lam, workload.min_interval, workload.timeout)
            polls[mine], lags[mine] = _outcomes(looks, durations[mine], workload)
        all_polls.append(polls)
        all_lags.append(lags)
    return Frontier(tuple(lams), tuple(all_polls), tuple(all_lags))


def _outcomes(
    looks: np.ndarray, durations: np.ndarray, workload: Workload
) -> tuple[np.ndarray, np.ndarray]:
    """Polls and lag of each job under `looks`, continued at the last gap past its end (and
    never past the deadline)."""
    gap = max(float(np.diff(looks)[-1]) if looks.size > 1 else looks[0], workload.min_interval)
    longest = min(float(durations.max()), workload.timeout)
    if longest > looks[-1]:
        extra = looks[-1] + gap * np.arange(1, math.ceil((longest - looks[-1]) / gap) + 1)
        looks = np.concatenate((looks, np.minimum(extra, workload.timeout)))
    index = np.minimum(np.searchsorted(looks, durations, side="left"), looks.size - 1)
    return index + 1.0, np.maximum(looks[index] - durations, 0.0)
