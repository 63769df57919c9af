"""Poll policies as a user sees them: the poll times a job gets on a virtual clock.

Written against mutmut's survivors (pyproject.toml [tool.mutmut], tests/mutation-equivalents.md):
each test pins a documented behaviour of tts_nb.policy, never how it is computed.
"""

from __future__ import annotations

import itertools
import math
import random

import pytest
from scipy import stats

import tts_nb as tn
from tts_nb.job import Job, Observation
from tts_nb.policy import DurationModel, Pacer, Prediction, optimal_looks
from tts_nb.scheduler import Scheduler
from tts_nb.state import State
from tts_nb.transport import Transport

from .test_durations_math import mixture_ppf, prediction, scipy_hazard, scipy_survival


class Ticking:
    """A provider's job that is done `duration` virtual seconds after its submit."""

    provider = "fake"
    kind = "speak"

    def __init__(self, clock, duration: float):
        self.clock, self.duration, self.polls = clock, duration, []

    def submit(self, call):
        self.t0 = self.clock.now()
        return Observation(State.PENDING, raw_status="queued", ids={"task": 1})

    def poll(self, call, ids):
        self.polls.append(round(self.clock.now() - self.t0, 6))
        done = self.clock.now() - self.t0 >= self.duration
        return Observation(State.SUCCEEDED if done else State.RUNNING, raw_status="x")

    def fetch(self, call, ids, seen):
        return "audio"


def run(policy, duration, *, min_interval=0.0, timeout=600.0, model=None):
    """The poll times (seconds after submit) of one job on a virtual clock."""
    clock = tn.VirtualClock()
    scheduler = Scheduler(clock)
    op = Ticking(clock, duration)
    job = Job(
        op,
        transport=Transport("http://127.0.0.1:9", provider="fake"),
        scheduler=scheduler,
        policy=policy,
        min_interval=min_interval,
        timeout=timeout,
        request={"text": "x" * 10},
        duration_model=model,
        text_length=10,
    ).start()
    scheduler.run_virtual()
    return job, op.polls


def plan(pacer: Pacer, now: float = 0.0, looks: int = 6) -> list[float | None]:
    """The next `looks` poll times of `pacer`, each asked at the previous one."""
    times: list[float | None] = []
    for _ in range(looks):
        when = pacer.next_poll(now)
        times.append(when)
        if when is None:
            break
        now = when
    return times


def test_each_policy_has_its_documented_defaults():
    base = tn.Fixed()
    assert (base.timeout, base.jitter, base.max_polls) == (None, 0.0, None)
    assert plan(Pacer(tn.Fixed(), min_interval=0, deadline=1e9), looks=3) == [5, 10, 15]
    # Backoff: 1 s, ×1.5, at most 30 s
    _, polls = run(tn.Backoff(), duration=120)
    expected = [1, 2.5, 4.75, 8.125, 13.1875, 20.78125, 32.171875, 49.2578125, 74.88671875]
    assert polls == pytest.approx(expected + [104.88671875, 134.88671875])  # capped at 30 s
    _, polls = run(tn.Progressive(), duration=70)
    assert polls == [30, 50, 60, 65, 68, 71]
    adaptive = tn.Adaptive()
    assert adaptive.quantile == 0.3 and adaptive.first_fraction == 1.0 and adaptive.then == 0.0
    # without a prediction: Backoff(1, 1.5, 15)
    _, polls = run(tn.Adaptive(), duration=60)
    assert polls == [1, 2.5, 4.75, 8.125, 13.1875, 20.78125, 32.171875, 47.171875, 62.171875]


def test_replace_keeps_the_other_fields():
    policy = tn.Fixed(7, timeout=60, jitter=0.1, max_polls=4)
    changed = policy.replace(interval=3)
    assert changed == tn.Fixed(3, timeout=60, jitter=0.1, max_polls=4)
    assert policy.interval == 7


def test_adaptive_then_sets_the_wait_after_the_first_look():
    model = DurationModel(prior=(10.0, 0.0))
    _, polls = run(tn.Adaptive(then=4), duration=21, min_interval=1.0, model=model)
    assert polls == [10, 14, 18, 22]


def test_adaptive_first_fraction_scales_the_first_look():
    model = DurationModel(prior=(10.0, 0.0))
    _, polls = run(
        tn.Adaptive(first_fraction=0.5, then=2), duration=9, min_interval=1.0, model=model
    )
    assert polls == [5, 7, 9]


def test_adaptive_takes_a_plain_number_as_the_expected_duration():
    pacer = Pacer(tn.Adaptive(then=3), min_interval=1, deadline=1e9, expected=12.0)
    assert plan(pacer, looks=3) == [12, 15, 18]


def test_adaptive_accepts_the_quantile_bounds_and_names_a_wrong_one():
    assert tn.Adaptive(quantile=0).quantile == 0
    assert tn.Adaptive(quantile=1).quantile == 1
    with pytest.raises(ValueError, match=r"quantile must be in 0\.\.1, not -0\.1"):
        tn.Adaptive(quantile=-0.1)


def test_prediction_quantile_rejects_values_outside_0_to_1_by_name():
    prediction = Prediction(10.0, (0.5, 1.0, 1.5))
    with pytest.raises(ValueError, match=r"q must be in 0\.\.1, not -0\.5"):
        prediction.quantile(-0.5)
    with pytest.raises(ValueError, match=r"not 1\.5"):
        prediction.quantile(1.5)
    assert Prediction(10.0).quantile(0.9) == 10.0  # no spread known: the line itself


def test_prediction_interpolates_between_sorted_ratios():
    prediction = Prediction(10.0, (1.5, 0.5, 1.0))
    assert prediction.ratios == (0.5, 1.0, 1.5)
    assert prediction.quantile(0.25) == pytest.approx(7.5)
    assert prediction.quantile(0.75) == pytest.approx(12.5)
    assert prediction.quantile(1.0) == pytest.approx(15.0)


def test_duration_model_needs_three_jobs_before_it_trusts_them():
    model = DurationModel(prior=(5.0, 0.0))
    model.observe(100, 20.0)
    model.observe(200, 30.0)
    assert model.predict(100) == 5.0 and model.predict(100).ratios == ()
    model.observe(300, 40.0)
    assert model.predict(400) == pytest.approx(50.0)
    assert model.predict(100).ratios == pytest.approx((1.0, 1.0, 1.0))


def test_duration_model_ignores_jobs_of_no_duration():
    model = DurationModel(prior=(5.0, 0.0))
    for chars in (10, 20, 30):
        model.observe(chars, 0.0)
        model.observe(chars, -1.0)
    assert model.predict(10) == 5.0


def test_duration_model_forgets_jobs_beyond_its_window():
    model = DurationModel(prior=(1.0, 0.0), window=3)
    for chars in (10, 20, 30):
        model.observe(chars, 100.0)
    for chars in (10, 20, 30):
        model.observe(chars, 2.0)
    assert model.predict(20) == pytest.approx(2.0)
    default = DurationModel(prior=(1.0, 0.0))
    for chars in range(1, 51):
        default.observe(chars, 100.0)
    for chars in range(1, 51):
        default.observe(chars, 2.0)
    assert default.predict(20) == pytest.approx(2.0)
    assert len(default.predict(20).ratios) == 50


def test_duration_model_keeps_the_prior_slope_when_all_texts_had_one_length():
    model = DurationModel(prior=(0.0, 0.5))
    for seconds in (48.0, 50.0, 52.0):
        model.observe(100, seconds)
    assert model.predict(100) == pytest.approx(50.0)
    assert model.predict(200) == pytest.approx(100.0)


def test_duration_model_never_predicts_that_longer_texts_are_faster():
    model = DurationModel(prior=(1.0, 0.1))
    for chars, seconds in ((10, 30.0), (20, 20.0), (30, 10.0)):
        model.observe(chars, seconds)
    assert model.predict(10) == pytest.approx(20.0)
    assert model.predict(1000) == pytest.approx(20.0)


def test_duration_model_never_predicts_a_negative_duration():
    model = DurationModel(prior=(-50.0, 0.1))
    assert model.predict(10) == 0.0
    # a learned line below zero for short texts: no ratio from a non-positive prediction
    learned = DurationModel(prior=(1.0, 0.0))
    for chars, seconds in ((100, 1.0), (200, 11.0), (300, 21.0)):
        learned.observe(chars, seconds)
    assert learned.predict(50) == 0.0
    assert learned.predict(100).ratios == pytest.approx((1.0, 1.0, 1.0))


def test_the_minimum_interval_applies_to_every_policy_delay():
    assert plan(Pacer(tn.Backoff(0.1, 2, 100), min_interval=1, deadline=1e9), looks=4) == [
        1,
        2,
        3,
        4,
    ]


def test_jitter_stretches_by_up_to_its_fraction():
    class Top(random.Random):
        def random(self):
            return 0.5

    pacer = Pacer(tn.Fixed(10, jitter=0.2), min_interval=1, deadline=1e9, rng=Top())
    assert pacer.next_poll(0) == pytest.approx(11.0)
    no_jitter = Pacer(tn.Fixed(10), min_interval=1, deadline=1e9, rng=Top())
    assert no_jitter.next_poll(0) == 10


def test_retry_after_shorter_than_the_plan_does_not_hurry_it():
    pacer = Pacer(tn.Fixed(10), min_interval=1, deadline=1e9)
    assert pacer.next_poll(0, retry_after=3) == 10
    assert pacer.next_poll(10, retry_after=15) == 25


def test_retry_after_ending_exactly_at_the_deadline_is_honoured():
    pacer = Pacer(tn.Fixed(1), min_interval=1, deadline=10)
    assert pacer.next_poll(5, retry_after=5) == 10


def test_no_look_is_planned_at_or_after_the_deadline():
    pacer = Pacer(tn.Fixed(4), min_interval=1, deadline=10)
    assert plan(pacer, looks=5) == [4, 8, 10, None]


def test_max_polls_counts_planned_looks():
    pacer = Pacer(tn.Fixed(1, max_polls=2), min_interval=0, deadline=1e9)
    assert plan(pacer, looks=4) == [1, 2, None]
    assert pacer.polls_planned == 2


def test_a_finite_policy_ends_the_plan():
    class TwoLooks(tn.Fixed):
        def delays(self, expected=None):
            yield from (2.0, 3.0)

    assert plan(Pacer(TwoLooks(), min_interval=0, deadline=1e9), looks=4) == [2, 5, None]
    # resumed after both looks passed: one look at once, then the plan is over
    resumed = Pacer(TwoLooks(), min_interval=0, deadline=1e9, elapsed=100)
    assert plan(resumed, now=100, looks=4) == [100, None]


@pytest.mark.parametrize(
    "elapsed, expected",
    [
        (0.0, [5, 10, 15]),  # a new job
        (3.0, [5, 10, 15]),  # resumed before its first look: the look stays at 5 s
        (5.0, [5, 10, 15]),  # resumed exactly at a look: that look was not missed
        (7.0, [7, 10, 15]),  # one look missed: at once, then back on the plan
        (12.0, [12, 15, 20]),
    ],
)
def test_a_resumed_job_keeps_the_plan_counted_from_its_submit(elapsed, expected):
    pacer = Pacer(tn.Fixed(5), min_interval=1, deadline=1e9, elapsed=elapsed)
    assert [round(t, 6) for t in plan(pacer, now=elapsed, looks=3)] == expected


def test_a_resumed_job_waits_at_least_the_minimum_interval_after_its_catch_up_look():
    pacer = Pacer(tn.Fixed(5), min_interval=4, deadline=1e9, elapsed=9.5)
    assert plan(pacer, now=9.5, looks=3) == [9.5, 13.5, 18.5]
    # the policy's own delays are raised to the minimum interval in the catch-up plan too
    slow = Pacer(tn.Fixed(1), min_interval=4, deadline=1e9, elapsed=3)
    assert plan(slow, now=3, looks=2) == [4, 8]


def test_the_catch_up_is_bounded_for_tiny_intervals_over_a_long_outage():
    pacer = Pacer(tn.Fixed(0.001), min_interval=0, deadline=1e12, elapsed=1e9)
    assert pacer.next_poll(1e9) == 1e9  # one look at once, not a billion


def test_adaptive_needs_a_positive_lag_cost_and_says_so():
    for wrong in (0, -1.0):
        with pytest.raises(ValueError) as caught:
            tn.Adaptive(lag_cost=wrong)
        assert str(caught.value) == f"lag_cost must be > 0, not {wrong!r}"
    assert tn.Adaptive(lag_cost=0.5).lag_cost == 0.5


def test_adaptive_delays_alone_look_at_the_expected_finish_then_every_then():
    from itertools import islice

    assert list(islice(tn.Adaptive(then=2).delays(10.0), 3)) == [10.0, 2, 2]
    assert list(islice(tn.Adaptive(first_fraction=0.5).delays(10.0), 2)) == [5.0, 0.0]
    assert list(islice(tn.Adaptive(fallback=tn.Fixed(4)).delays(None), 2)) == [4, 4]


PAST_THE_PLAN = [
    pytest.param(30.0, ((1.0, 0.1, 0.25),), 1.0, 0.5, id="by-the-hazard"),
    pytest.param(15.0, ((0.7, -0.1, 0.15), (0.3, 0.8, 0.3)), 0.5, 2.0, id="mixture"),
    pytest.param(30.0, ((1.0, 0.0, 0.05),), 1.0, 16.0, id="at-the-minimum-interval"),
    pytest.param(5.0, ((1.0, 0.0, 0.3),), 1.0, 0.05, id="a-fifth-of-the-time-so-far"),
]


@pytest.mark.parametrize(("line", "parts", "min_interval", "lag_cost"), PAST_THE_PLAN)
def test_adaptive_past_its_plan_waits_by_the_hazard_within_bounds(
    line, parts, min_interval, lag_cost
):
    """After its last planned look (past the 99.9 % quantile) each wait is sqrt(2 / (rate x
    hazard)), the hazard taken at the middle of the wait (three rounds of that fixed point),
    never under the minimum interval nor over a fifth of the time so far; the hazard is
    scipy's (in its far tail, where the planner uses the asymptote z / (sigma t), within 1 %)."""
    rate = lag_cost / min_interval
    q999 = mixture_ppf(0.999, line, parts)
    now, checked = 0.0, 0
    delays = tn.Adaptive(lag_cost=lag_cost).plan(prediction(line, parts), min_interval)
    while checked < 25:
        delay = next(delays)
        if now > q999:  # the planned looks end within one interval after the quantile
            wait, far = min_interval, False
            for _ in range(3):
                far |= scipy_survival(now + wait / 2, line, parts) < 1e-11
                hazard = scipy_hazard(now + wait / 2, line, parts)
                wait = max(min_interval, min(math.sqrt(2.0 / (rate * hazard)), 0.2 * now))
            assert delay == pytest.approx(wait, rel=0.01 if far else 1e-9), (now, delay)
            checked += 1
        now += delay


def delays_of(policy, expected, min_interval: float, count: int) -> list[float]:
    return list(itertools.islice(policy.plan(expected, min_interval), count))


def test_adaptive_without_a_spread_looks_by_20_intervals_then_backs_off_to_the_prior():
    # no spread learned: the first look at min(120 s, 20 x 2 s), then each wait a fifth of
    # the time so far, the last one only up to the prior's 120 s; then every interval (0:
    # the minimum interval, which the engine enforces)
    expected = [40.0, 8.0, 9.6, 11.52, 13.824, 16.5888, 19.90656, 0.56064, 0.0, 0.0, 0.0]
    assert delays_of(tn.Adaptive(), Prediction(120.0), 2.0, 11) == pytest.approx(expected)
    assert delays_of(tn.Adaptive(), 120.0, 2.0, 11) == pytest.approx(expected)
    # a prediction of no duration is not planned, even with a spread
    assert delays_of(tn.Adaptive(), Prediction(0.0, mu=0.1, sigma=0.3), 1.0, 4) == [0.0] * 4


def test_adaptive_plans_a_prediction_under_one_second_with_a_spread():
    got = delays_of(tn.Adaptive(), Prediction(0.8, mu=0.0, sigma=0.3), 1.0, 8)
    assert got[0] == pytest.approx(0.8 * math.exp(0.3 * stats.norm.ppf(0.3)))  # its 0.3 quantile
    assert min(got[1:]) >= 1.0 - 1e-9  # then planned looks, an interval apart at least


def test_adaptive_with_then_or_no_interval_looks_at_the_quantile_then_every_then():
    p = Prediction(30.0, mu=0.1, sigma=0.3)
    q30 = 30.0 * math.exp(0.1 + 0.3 * stats.norm.ppf(0.3))
    assert delays_of(tn.Adaptive(then=3.0), p, 1.0, 4) == pytest.approx([q30, 3.0, 3.0, 3.0])
    assert delays_of(tn.Adaptive(), p, 0.0, 3) == pytest.approx([q30, 0.0, 0.0])
    assert list(itertools.islice(tn.Adaptive().delays(p), 3)) == pytest.approx([q30, 0.0, 0.0])


@pytest.mark.parametrize("quantile", [0.05, 0.12, 0.3, 0.6])
def test_adaptive_looks_first_by_its_quantile_and_keeps_the_interval(quantile):
    p = Prediction(10.0, mu=0.1, sigma=0.3)
    got = delays_of(tn.Adaptive(quantile=quantile), p, 1.0, 40)
    assert got[0] <= 10.0 * math.exp(0.1 + 0.3 * stats.norm.ppf(quantile)) * (1 + 1e-12)
    assert min(got[1:]) >= 1.0 - 1e-9


def test_adaptive_keeps_the_plan_when_its_first_look_is_before_the_quantile():
    p = Prediction(10.0, mu=0.1, sigma=0.3)
    planned = optimal_looks(p, 16.0, 1.0)  # Adaptive's rate: lag_cost 16 / 1 s
    assert stats.lognorm.cdf(planned[0], 0.3, scale=10.0 * math.exp(0.1)) < 0.12
    looks = list(itertools.accumulate(delays_of(tn.Adaptive(quantile=0.12), p, 1.0, len(planned))))
    assert looks == pytest.approx(planned)
