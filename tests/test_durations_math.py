"""The statistics of tts_nb.durations against independent oracles.

Written against mutmut's survivors (pyproject.toml [tool.mutmut], tests/mutation-equivalents.md).
Every expected value comes from scipy, from seeded numpy samples, from
`benchmarks.optimum.schedule` (the planner's recursion written again on purpose) or from a
literal, never from tts_nb itself.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from scipy.optimize import brentq
from scipy.special import logsumexp

from tts_nb.durations import (
    GRID_POINTS,
    DurationModel,
    Prediction,
    _mass,
    _truncated,
    optimal_looks,
)

try:
    from benchmarks.optimum import schedule as reference_schedule
except ImportError:  # a copy of the package without the benchmarks (mutmut's mutants/)
    reference_schedule = None


def prediction(line: float, parts: tuple[tuple[float, float, float], ...]) -> Prediction:
    """A Prediction of `line` s whose log(duration / line) follows `parts` (weight, mu, sigma)."""
    if len(parts) == 1:
        return Prediction(line, mu=parts[0][1], sigma=parts[0][2])
    return Prediction(line, mu=0.0, sigma=0.5, components=parts)


# --- the oracles: scipy and numpy only ---


def scale(line: float, mu: float) -> float:
    return line * math.exp(mu)


def mixture_ppf(q: float, line: float, parts) -> float:
    """The duration by which a share q is done, by root finding on scipy's distribution."""

    def excess(y: float) -> float:  # in log(duration / line); the precise side of 1/2
        if q > 0.5:
            return (1 - q) - sum(w * stats.norm.sf(y, mu, s) for w, mu, s in parts)
        return sum(w * stats.norm.cdf(y, mu, s) for w, mu, s in parts) - q

    low = min(mu - 12 * s for _, mu, s in parts)
    high = max(mu + 12 * s for _, mu, s in parts)
    return line * math.exp(brentq(excess, low, high, xtol=1e-14, rtol=1e-14))


def scipy_hazard(t: float, line: float, parts) -> float:
    """density / survival of the duration at t, in logarithms (precise far in the tail)."""
    log_density = [
        math.log(w) + stats.lognorm.logpdf(t, s, scale=scale(line, mu)) for w, mu, s in parts
    ]
    log_survival = [
        math.log(w) + stats.lognorm.logsf(t, s, scale=scale(line, mu)) for w, mu, s in parts
    ]
    return math.exp(logsumexp(log_density) - logsumexp(log_survival))


def scipy_survival(t: float, line: float, parts) -> float:
    return sum(w * stats.lognorm.sf(t, s, scale=scale(line, mu)) for w, mu, s in parts)


def sample_durations(line: float, parts, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    weights = np.array([w for w, _, _ in parts])
    which = rng.choice(len(parts), size=n, p=weights / weights.sum())
    mu = np.array([p[1] for p in parts])[which]
    sigma = np.array([p[2] for p in parts])[which]
    return line * np.exp(mu + sigma * rng.standard_normal(n))


def sampled_cost(looks, durations: np.ndarray, rate: float) -> float:
    """Mean polls + rate x mean lag of these jobs under `looks`: a job is found by the first
    look at or after its end; one that ends after the last look costs every look + 1 and no
    lag (the same rule for every schedule compared)."""
    looks = np.asarray(looks, float)
    index = np.searchsorted(looks, durations, side="left")
    found = index < looks.size
    polls = np.where(found, index + 1, looks.size + 1)
    lag = np.where(found, looks[np.minimum(index, looks.size - 1)] - durations, 0.0)
    return float(polls.mean() + rate * lag.mean())


def exact_cost(looks, line: float, parts, rate: float) -> float:
    """The same cost by the log-normal's formulas (scipy), without sampling noise:
    E[polls] = 1 + the sum of P(T > t_i) over the looks, E[T; T <= t] = line e^(mu + s²/2)
    Phi((log(t / line) - mu) / s - s) per part."""
    t = np.asarray(looks, float)
    y = np.log(t / line)
    cdf = sum(w * stats.norm.cdf(y, mu, s) for w, mu, s in parts)
    survival = sum(w * stats.norm.sf(y, mu, s) for w, mu, s in parts)
    partial = sum(
        w * scale(line, mu + s * s / 2) * stats.norm.cdf((y - mu) / s - s) for w, mu, s in parts
    )
    cdf, partial = np.concatenate(([0.0], cdf)), np.concatenate(([0.0], partial))
    lag = float((t * np.diff(cdf) - np.diff(partial)).sum())
    return 1.0 + float(survival.sum()) + rate * lag


# --- optimal_looks: the planned looks of a job ---

PLANS = [
    pytest.param(10.0, ((1.0, 0.1, 0.3),), 1.0, 16.0, id="log-normal"),
    pytest.param(20.0, ((1.0, -0.2, 0.8),), 1.0, 4.0, id="wide"),
    pytest.param(15.0, ((0.7, -0.1, 0.15), (0.3, 0.8, 0.3)), 1.0, 16.0, id="mixture"),
    pytest.param(3.0, ((1.0, 0.02, 0.48),), 2.0, 2.0, id="few-looks"),
    pytest.param(0.8, ((1.0, 0.0, 0.3),), 1.0, 16.0, id="shorter-than-the-interval"),
    # horizon / GRID_POINTS > min_interval / 4: the grid, not the interval, sets the step
    pytest.param(40.0, ((1.0, 0.05, 0.2),), 0.1, 16.0, id="long-job-tiny-interval"),
    pytest.param(200.0, ((0.6, 0.0, 0.1), (0.4, 0.5, 0.4)), 0.2, 8.0, id="long-mixture"),
]


def plan(line, parts, min_interval, lag_cost):
    """(looks, rate, q999, grid step) as `Adaptive` asks for them: rate = lag_cost / interval."""
    rate = lag_cost / min_interval
    looks = np.array(optimal_looks(prediction(line, parts), rate, min_interval))
    q999 = mixture_ppf(0.999, line, parts)
    step = max(min_interval / 4, (q999 + min_interval) / GRID_POINTS)
    return looks, rate, q999, step


def test_the_cost_oracles_agree():
    line, parts, rate = 15.0, ((0.7, -0.1, 0.15), (0.3, 0.8, 0.3)), 16.0
    looks = np.arange(2.0, 80.0, 1.5)
    sampled = sampled_cost(looks, sample_durations(line, parts, 200_000, seed=3), rate)
    assert sampled == pytest.approx(exact_cost(looks, line, parts, rate), rel=3e-3)


@pytest.mark.parametrize(("line", "parts", "min_interval", "lag_cost"), PLANS)
def test_the_plan_keeps_the_interval_and_reaches_the_999_quantile(
    line, parts, min_interval, lag_cost
):
    looks, _, q999, step = plan(line, parts, min_interval, lag_cost)
    gaps = np.diff(np.concatenate(([0.0], looks)))
    assert gaps.min() >= min_interval * (1 - 1e-9)  # the first look too, after the submit
    # a job that ends by the 99.9 % quantile is found by a planned look; the plan ends
    # within one interval (and a grid step) after it
    assert q999 * (1 + 1e-9) < looks[-1] <= (q999 + min_interval + step) * (1 + 1e-9)


@pytest.mark.skipif(reference_schedule is None, reason="needs benchmarks/ (the reference)")
@pytest.mark.parametrize(("line", "parts", "min_interval", "lag_cost"), PLANS)
def test_the_plan_costs_no_more_than_the_reference_optimum(line, parts, min_interval, lag_cost):
    looks, rate, _, step = plan(line, parts, min_interval, lag_cost)
    durations = sample_durations(line, parts, 100_000, seed=1)
    reference = reference_schedule(durations, rate, min_interval, math.inf)
    # the reference plans on the samples themselves with a finer grid; on long jobs the
    # planner's 400 points are coarser than the interval, which costs a few per cent
    tolerance = 0.01 if step == min_interval / 4 else 0.08
    assert sampled_cost(looks, durations, rate) <= sampled_cost(reference, durations, rate) * (
        1 + tolerance
    )


@pytest.mark.parametrize(("line", "parts", "min_interval", "lag_cost"), PLANS)
def test_the_plan_costs_no_more_than_any_fixed_grid(line, parts, min_interval, lag_cost):
    looks, rate, q999, _ = plan(line, parts, min_interval, lag_cost)
    durations = sample_durations(line, parts, 100_000, seed=2)
    cost = sampled_cost(looks, durations, rate)
    for every in (1, 2, 4, 8):
        gap = every * min_interval
        grid = np.arange(gap, q999 + 2 * gap, gap)
        assert cost <= sampled_cost(grid, durations, rate) * (1 + 1e-9), gap


def one_look_changes(looks: np.ndarray, step: float):
    """Each look moved by a grid step either way, each one dropped, a look inserted halfway
    before each: (kind, schedule)."""
    for i in range(looks.size):
        for shift in (-step, step):
            moved = looks.copy()
            moved[i] += shift
            yield "move", moved
        if looks.size > 1:
            yield "drop", np.delete(looks, i)
        before = looks[i - 1] if i else 0.0
        yield "insert", np.insert(looks, i, (before + looks[i]) / 2)


@pytest.mark.parametrize(("line", "parts", "min_interval", "lag_cost"), PLANS)
def test_no_single_look_changed_makes_the_plan_cheaper(line, parts, min_interval, lag_cost):
    looks, rate, _, step = plan(line, parts, min_interval, lag_cost)
    cost = exact_cost(looks, line, parts, rate)
    # moves and drops stay on the planner's grid, where it is optimal up to the one poll it
    # does not count for the jobs past its horizon; a look halfway may be off its grid
    tolerance = {"move": 2e-5, "drop": 2e-5, "insert": 3e-3}
    for kind, changed in one_look_changes(looks, step):
        gaps = np.diff(np.concatenate(([0.0], changed)))
        if gaps.min() < min_interval * (1 - 1e-9) or changed[-1] < looks[-1]:
            continue  # not allowed: under the interval, or a plan that ends sooner
        assert cost <= exact_cost(changed, line, parts, rate) * (1 + tolerance[kind]), (
            kind,
            changed,
        )


def test_where_most_jobs_end_the_plan_looks_every_minimum_interval():
    looks, _, _, _ = plan(10.0, ((1.0, 0.1, 0.3),), 1.0, 16.0)
    assert np.diff(looks).min() == pytest.approx(1.0)


def test_jobs_mostly_done_within_the_interval_are_first_looked_at_after_it():
    looks, _, _, _ = plan(0.8, ((1.0, 0.0, 0.3),), 1.0, 16.0)
    assert looks[0] == pytest.approx(1.0)


# --- Prediction: quantile, survival, hazard ---

SINGLES = [
    pytest.param(0.6, -0.4, 0.35, id="line-under-1s"),
    pytest.param(45.0, 0.3, 1.7, id="wide"),
    pytest.param(12.0, 0.15, 0.25, id="tight"),
]
MIXTURES = [
    pytest.param(0.7, ((0.55, -0.2, 1.2), (0.45, 1.1, 1.6)), id="wide-parts-line-under-1s"),
    pytest.param(30.0, ((0.7, -0.1, 0.15), (0.3, 0.8, 0.3)), id="queue"),
]
QUANTILES = (0.0, 1e-6, 0.2, 0.5, 0.97, 1.0)


@pytest.mark.parametrize(("line", "mu", "sigma"), SINGLES)
def test_quantile_of_a_log_normal_is_scipys(line, mu, sigma):
    p = Prediction(line, mu=mu, sigma=sigma)
    for q in QUANTILES:
        # 0 and 1 are held 1e-9 inside: finite times, the first and the last look
        expected = line * stats.lognorm.ppf(min(max(q, 1e-9), 1 - 1e-9), sigma, scale=math.exp(mu))
        assert p.quantile(q) == pytest.approx(expected, rel=1e-9), q


@pytest.mark.parametrize(("line", "parts"), MIXTURES)
def test_quantile_of_a_mixture_is_scipys(line, parts):
    p = Prediction(line, mu=0.0, sigma=0.5, components=parts)
    for q in QUANTILES:
        expected = mixture_ppf(min(max(q, 1e-9), 1 - 1e-9), line, parts)
        assert p.quantile(q) == pytest.approx(expected, rel=1e-6), q


def test_quantile_without_a_spread_or_of_no_duration_is_the_line():
    assert Prediction(5.0).quantile(0.3) == 5.0
    assert Prediction(0.0, mu=0.2, sigma=0.4).quantile(0.7) == 0.0


@pytest.mark.parametrize(("line", "parts"), MIXTURES)
def test_survival_and_density_of_the_log_ratio_are_scipys(line, parts):
    p = Prediction(line, mu=0.0, sigma=0.5, components=parts)
    for z in (-3.0, -0.4, 0.0, 0.9, 2.5):
        survival, density = p._survival(z)
        assert survival == pytest.approx(
            sum(w * stats.norm.sf(z, mu, s) for w, mu, s in parts), rel=1e-12, abs=0.0
        )
        assert density == pytest.approx(
            sum(w * stats.norm.pdf(z, mu, s) for w, mu, s in parts), rel=1e-12, abs=0.0
        )


def test_survival_of_a_single_log_normal_is_scipys():
    survival, density = Prediction(8.0, mu=0.3, sigma=0.6)._survival(0.75)
    assert survival == pytest.approx(stats.norm.sf(0.75, 0.3, 0.6), rel=1e-12)
    assert density == pytest.approx(stats.norm.pdf(0.75, 0.3, 0.6), rel=1e-12)


@pytest.mark.parametrize(("line", "mu", "sigma"), SINGLES)
def test_hazard_of_a_log_normal_is_scipys(line, mu, sigma):
    p = Prediction(line, mu=mu, sigma=sigma)
    for factor in (0.3, 0.8, 1.0, 1.7, 3.0):
        t = line * math.exp(mu) * factor
        assert p.hazard(t) == pytest.approx(scipy_hazard(t, line, ((1.0, mu, sigma),)), rel=1e-9)


@pytest.mark.parametrize(("line", "parts"), MIXTURES)
def test_hazard_of_a_mixture_is_scipys(line, parts):
    p = Prediction(line, mu=0.0, sigma=0.5, components=parts)
    for factor in (0.3, 0.8, 1.0, 1.7, 3.0):
        t = line * factor
        assert p.hazard(t) == pytest.approx(scipy_hazard(t, line, parts), rel=1e-9)


def test_hazard_before_one_second_is_scipys():
    p = Prediction(0.6, mu=0.1, sigma=0.4)
    assert p.hazard(0.5) == pytest.approx(scipy_hazard(0.5, 0.6, ((1.0, 0.1, 0.4),)), rel=1e-9)


FAR_TAILS = [
    # survival < 1e-12: the hazard of the part that reaches farthest there, within the
    # asymptote's 1/z² (a few per cent); each set picks another part than a guess by
    # mu + c sigma or by sigma alone would
    pytest.param(12.0, ((1.0, 0.2, 0.35),), 9.0, id="single"),
    pytest.param(7.0, ((0.5, 0.0, 1.0), (0.5, 2.0, 0.2)), 8.0, id="wide-part-nearer"),
    pytest.param(7.0, ((0.5, 0.0, 0.5), (0.5, 2.0, 0.3)), 7.0, id="far-part-narrower"),
    pytest.param(7.0, ((0.5, 0.0, 1.0), (0.5, 1.0, 0.5)), 8.0, id="wide-part-sigma-1"),
    pytest.param(7.0, ((0.5, 0.0, 1.0), (0.5, 2.8, 0.1)), 8.0, id="far-narrow-part"),
    pytest.param(7.0, ((0.4, 0.0, 1.0), (0.6, 2.0, 0.8)), 9.0, id="far-part-reaches-farther"),
]


@pytest.mark.parametrize(("line", "parts", "log_ratio"), FAR_TAILS)
def test_hazard_far_in_the_tail_is_scipys_within_its_asymptote(line, parts, log_ratio):
    t = line * math.exp(log_ratio)
    assert scipy_survival(t, line, parts) < 1e-12
    if len(parts) == 1:
        p = Prediction(line, mu=parts[0][1], sigma=parts[0][2])
    else:
        p = Prediction(line, mu=0.0, sigma=0.5, components=parts)
    assert p.hazard(t) == pytest.approx(scipy_hazard(t, line, parts), rel=0.025)


def test_hazard_is_zero_without_a_spread_before_the_submit_or_for_no_duration():
    assert Prediction(10.0).hazard(5.0) == 0.0
    spread = Prediction(10.0, mu=0.1, sigma=0.3)
    assert spread.hazard(0.0) == 0.0
    assert spread.hazard(-1.0) == 0.0
    assert Prediction(0.0, mu=0.1, sigma=0.3).hazard(2.0) == 0.0
    mixture = Prediction(10.0, mu=0.0, sigma=0.5, components=((0.5, 0.0, 0.2), (0.5, 1.0, 0.2)))
    assert mixture.hazard(0.0) == 0.0


# --- the EM's helpers: a normal's mass and its truncated moments ---

INTERVALS = [
    pytest.param(0.4, 0.7, -0.3, 1.2, id="around-the-mean"),
    pytest.param(-1.3, 2.5, -6.0, -2.0, id="both-ends-negative"),
    pytest.param(2.0, 0.3, -math.inf, 1.7, id="open-below"),
    pytest.param(-0.5, 1.8, 0.5, math.inf, id="open-above"),
    pytest.param(1.0, 0.5, 3.5, 4.0, id="upper-tail"),
    pytest.param(0.0, 2.0, -12.0, -10.0, id="lower-tail"),
]
FAR_INTERVALS = [
    pytest.param(1.0, 0.5, 5.5, 6.5, id="far-upper"),
    pytest.param(1.0, 0.5, 5.5, math.inf, id="far-upper-open"),
    pytest.param(-2.0, 0.4, -math.inf, -6.0, id="far-lower-open"),
    pytest.param(0.3, 1.5, -20.0, -13.0, id="far-lower"),
]


def scipy_mass(mean, sd, low, high):
    if low > mean:  # the upper tail: survivals are precise there
        return stats.norm.sf(low, mean, sd) - stats.norm.sf(high, mean, sd)
    return stats.norm.cdf(high, mean, sd) - stats.norm.cdf(low, mean, sd)


@pytest.mark.parametrize(("mean", "sd", "low", "high"), INTERVALS + FAR_INTERVALS)
def test_mass_of_an_interval_is_scipys(mean, sd, low, high):
    expected = scipy_mass(mean, sd, low, high)
    assert _mass(mean, sd, low, high) == pytest.approx(expected, rel=1e-9, abs=0.0)


@pytest.mark.parametrize(
    ("mean", "sd", "x"), [(0.5, 2.5, -1.0), (-1.2, 0.4, -1.0), (3.0, 1.5, 6.5)]
)
def test_mass_of_an_exact_value_is_its_density(mean, sd, x):
    assert _mass(mean, sd, x, x) == pytest.approx(stats.norm.pdf(x, mean, sd), rel=1e-12)
    # a width under 1e-9 sd is an exact value too
    width = 0.5e-9 * sd
    assert _mass(mean, sd, x - width, x) == pytest.approx(stats.norm.pdf(x, mean, sd), rel=1e-6)


def test_mass_never_reaches_zero():
    assert _mass(0.0, 1.0, 40.0, 40.0) == 1e-300  # the density underflows; its log must not
    assert _mass(0.0, 1.0, -math.inf, -40.0) == 1e-300
    assert _mass(0.0, 1.0, 40.0, 41.0) == 1e-300


@pytest.mark.parametrize(("mean", "sd", "low", "high"), INTERVALS)
def test_truncated_mean_and_variance_are_scipys(mean, sd, low, high):
    expected_mean, expected_variance = stats.truncnorm.stats(
        (low - mean) / sd, (high - mean) / sd, loc=mean, scale=sd, moments="mv"
    )
    got_mean, got_variance = _truncated(mean, sd, low, high)
    assert got_mean == pytest.approx(float(expected_mean), abs=1e-7 * sd)
    assert got_variance == pytest.approx(float(expected_variance), rel=1e-5)


@pytest.mark.parametrize(("mean", "sd", "low", "high"), FAR_INTERVALS)
def test_truncated_far_in_a_tail_sits_at_the_nearer_end(mean, sd, low, high):
    expected_mean, expected_variance = stats.truncnorm.stats(
        (low - mean) / sd, (high - mean) / sd, loc=mean, scale=sd, moments="mv"
    )
    got_mean, got_variance = _truncated(mean, sd, low, high)
    nearer = low if low > mean else high
    assert got_mean == nearer
    # there the truncated normal is within sd / |z| of that end, and hardly spread
    assert abs(got_mean - float(expected_mean)) < 0.12 * sd
    assert 0.0 <= got_variance <= float(expected_variance) + 1e-12


@pytest.mark.parametrize(("low", "high"), [(-1.5, -1.5), (2.0, 2.0 + 1e-9)])
def test_truncated_to_an_exact_value_is_that_value(low, high):
    got_mean, got_variance = _truncated(0.7, 2.5, low, high)  # widths under 1e-9 sd
    assert got_mean == pytest.approx((low + high) / 2, abs=1e-15)
    assert got_variance == 0.0


# --- DurationModel: the EM fit of interval-censored jobs ---


def observed(model: DurationModel, jobs, first_look: float, every: float) -> None:
    """Each (characters, duration) job as a poller sees it: still running at the last look
    before its end, done at the first one after (looks at first_look, then every `every` s)."""
    for characters, duration in jobs:
        if duration <= first_look:
            model.observe_interval(characters, 0.0, first_look)
            continue
        n = math.ceil((duration - first_look) / every)
        model.observe_interval(characters, first_look + (n - 1) * every, first_look + n * every)


def jobs_from(line, log_ratios, characters):
    return [(int(c), float(line(c) * math.exp(r))) for c, r in zip(characters, log_ratios)]


def test_em_recovers_the_line_and_the_spread_from_interval_censored_jobs():
    rng = np.random.default_rng(11)
    characters = rng.integers(100, 2000, 400)
    jobs = jobs_from(lambda c: 2.0 + 0.01 * c, rng.normal(0.1, 0.15, 400), characters)
    model = DurationModel(prior=(5.0, 0.002), window=400)
    observed(model, jobs, first_look=3.0, every=2.0)
    for c in (200, 1000, 1800):
        p = model.predict(c)
        median = (2.0 + 0.01 * c) * math.exp(0.1)
        assert p.quantile(0.5) == pytest.approx(median, rel=0.05), c
        assert p.quantile(0.9) == pytest.approx(median * math.exp(0.15 * 1.2816), rel=0.05), c
        assert p.sigma == pytest.approx(0.15, abs=0.04)
        assert p.components == ()  # one hump: no mixture


@pytest.mark.parametrize(
    ("seed", "share", "apart", "sd", "every"),
    [
        pytest.param(12, 0.3, 1.0, 0.1, 1.0, id="far-apart"),
        pytest.param(13, 0.15, 0.7, 0.12, 0.5, id="a-small-hump"),
        pytest.param(14, 0.5, 0.5, 0.08, 0.25, id="close-and-even"),
    ],
)
def test_em_finds_two_parts_in_two_humped_jobs(seed, share, apart, sd, every):
    rng = np.random.default_rng(seed)
    n = 300
    characters = rng.integers(300, 1500, n)
    queued = rng.random(n) < share  # these jobs wait, and take e^apart times as long
    log_ratios = np.where(queued, rng.normal(apart, sd, n), rng.normal(0.0, sd, n))
    model = DurationModel(prior=(2.0, 0.01), window=n)
    observed(model, jobs_from(lambda c: 2.0 + 0.01 * c, log_ratios, characters), 2.0, every)
    parts = model.predict(800).components
    assert len(parts) == 2
    (w_fast, mu_fast, s_fast), (w_slow, mu_slow, s_slow) = parts  # in the order of mu
    # each hump as the jobs drew it, a job 25 finishes ago weighing half (the documented
    # half-life of the spread)
    recency = 0.5 ** ((n - 1 - np.arange(n)) / 25.0)

    def weighted(hump):
        w = recency * hump
        mean = float((w * log_ratios).sum() / w.sum())
        return (
            float(w.sum() / recency.sum()),
            mean,
            math.sqrt(float((w * (log_ratios - mean) ** 2).sum() / w.sum())),
        )

    share_slow, mean_slow, sd_slow = weighted(queued)
    share_fast, mean_fast, sd_fast = weighted(~queued)
    assert (w_fast, w_slow) == pytest.approx((share_fast, share_slow), abs=0.01)
    assert mu_slow - mu_fast == pytest.approx(mean_slow - mean_fast, abs=0.03)
    assert (s_fast, s_slow) == pytest.approx((sd_fast, sd_slow), abs=0.02)


def test_em_fits_the_recency_weighted_log_normal_of_jobs_of_one_length():
    """The median and spread are those of the newest jobs (half-life 25 jobs) in logarithms,
    not the line's mean: the line alone would say 22 % more here."""
    rng = np.random.default_rng(40)
    n = 300
    log_ratios = rng.normal(0.0, 0.5, n)
    model = DurationModel(prior=(2.0, 0.01), window=n)
    observed(model, jobs_from(lambda c: 10.0, log_ratios, [500] * n), 1.0, 0.5)
    recency = 0.5 ** ((n - 1 - np.arange(n)) / 25.0)
    mu = float((recency * log_ratios).sum() / recency.sum())
    sd = math.sqrt(float((recency * (log_ratios - mu) ** 2).sum() / recency.sum()))
    p = model.predict(500)
    assert p.components == ()
    assert p.quantile(0.5) == pytest.approx(10.0 * math.exp(mu), rel=0.01)
    assert p.quantile(0.9) == pytest.approx(10.0 * math.exp(mu + 1.2816 * sd), rel=0.015)
    assert p.sigma == pytest.approx(sd, rel=0.025)


def test_three_identical_jobs_keep_the_prior_spread_weighed_as_one_job():
    # no spread seen: the prior's 0.3 counts as one job against the three, the newest
    # weighing 1, the others 2^(-1/25) and 2^(-2/25) (a half-life of 25 jobs)
    model = DurationModel(prior=(2.0, 0.01))
    for _ in range(3):
        model.observe(500, 9.0)
    p = model.predict(500)
    assert p.quantile(0.5) == pytest.approx(9.0)
    assert p.sigma == pytest.approx(0.3 / math.sqrt(2 + 0.5 ** (1 / 25) + 0.5 ** (2 / 25)))


def test_sub_second_durations_are_learned_as_they_were():
    model = DurationModel(prior=(2.0, 0.01))
    for seconds in (0.4, 0.45, 0.5, 0.55, 0.6):
        model.observe(100, seconds)
    p = model.predict(100)
    assert (p.quantile(0.0), p.quantile(0.5), p.quantile(1.0)) == pytest.approx((0.4, 0.5, 0.6))


def test_intervals_that_end_at_zero_or_before_they_begin_are_ignored():
    clean, noisy = DurationModel(prior=(2.0, 0.01)), DurationModel(prior=(2.0, 0.01))
    for model in (clean, noisy):
        for low, high in ((4.0, 6.0), (5.0, 7.0), (3.0, 5.0)):
            model.observe_interval(400, low, high)
    for low, high in ((0.0, 0.0), (-2.0, -1.0), (6.0, 5.0)):
        noisy.observe_interval(400, low, high)
    for q in (0.1, 0.5, 0.9):
        assert noisy.predict(400).quantile(q) == clean.predict(400).quantile(q)


def test_exact_durations_fit_the_line_weighted_by_one_over_the_fitted_duration_squared():
    """Durations vary in proportion to their length: each job weighs 1 / its duration on a
    first plain fit, squared, and one more than twice as long as that fit counts as half its
    own duration (the documented rule); numpy's least squares is the oracle."""
    rng = np.random.default_rng(21)
    x = rng.integers(50, 2000, 40)
    y = (0.3 + 0.004 * x) * np.exp(rng.normal(0, 0.2, 40))
    y[[3, 17]] *= 3.0  # two jobs far slower than their line
    model = DurationModel(prior=(2.0, 0.01), window=40)
    for characters, seconds in zip(x, y):
        model.observe(int(characters), float(seconds))
    b0, a0 = np.polyfit(x, y, 1)
    fitted = np.maximum.reduce([a0 + b0 * x, y / 2, np.full(x.size, 1e-6)])
    b, a = np.polyfit(x, y, 1, w=1 / fitted)  # polyfit squares its weights
    for characters in (50, 500, 2000):
        assert float(model.predict(characters)) == pytest.approx(a + b * characters, rel=1e-9)
