"""Poll policies and the engine on a virtual clock: exact poll times, no sleeping."""

from __future__ import annotations

import random

import pytest

import tts_nb as tn
from tts_nb.job import Job, Observation
from tts_nb.policy import DurationModel, Pacer, Prediction
from tts_nb.scheduler import Scheduler
from tts_nb.state import State
from tts_nb.transport import Transport


class FakeOperation:
    """A job that is done `duration` virtual seconds after submit; records poll times."""

    provider = "fake"
    kind = "speak"

    def __init__(self, clock, duration: float, statuses=None, retry_after=None):
        self.clock = clock
        self.duration = duration
        self.polls: list[float] = []
        self.retry_after = retry_after
        self.statuses = statuses

    def submit(self, call):
        self.t0 = self.clock.now()
        return Observation(State.PENDING, raw_status="queued", ids={"task": 1})

    def poll(self, call, ids):
        now = self.clock.now()
        self.polls.append(round(now - self.t0, 6))
        if self.statuses is not None:
            return Observation(State.RUNNING, raw_status=self.statuses)
        if now - self.t0 >= self.duration:
            return Observation(State.SUCCEEDED, raw_status="done")
        return Observation(State.RUNNING, raw_status="progress", retry_after=self.retry_after)

    def fetch(self, call, ids, seen):
        return "audio"


def run(policy, duration, *, min_interval=0.0, timeout=600.0, model=None, **op_kwargs):
    clock = tn.VirtualClock()
    scheduler = Scheduler(clock)
    op = FakeOperation(clock, duration, **op_kwargs)
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


def test_fixed_polls_every_interval_until_done():
    job, polls = run(tn.Fixed(5), duration=12)
    assert polls == [5, 10, 15]
    assert job.state is State.SUCCEEDED and job.wait(0) == "audio"
    assert job.polls == 3


def test_backoff_grows_and_caps():
    _, polls = run(tn.Backoff(1, 2, 8), duration=30)
    assert polls == [1, 3, 7, 15, 23, 31]


def test_progressive_long_waits_first_then_repeats_last():
    _, polls = run(tn.Progressive((30, 20, 10, 5, 3)), duration=75)
    assert polls == [30, 50, 60, 65, 68, 71, 74, 77]


def test_minimum_interval_cannot_be_undercut():
    _, polls = run(tn.Fixed(0.2), duration=3, min_interval=1.0)
    assert polls == [1, 2, 3]


def test_retry_after_wins_over_policy():
    _, polls = run(tn.Fixed(1), duration=10, retry_after=4)
    assert polls == [1, 5, 9, 13]


def test_deadline_gets_a_last_look_then_times_out():
    job, polls = run(tn.Fixed(4), duration=100, timeout=10)
    assert polls == [4, 8, 10]
    assert job.state is State.TIMED_OUT
    with pytest.raises(tn.JobTimeout, match="deadline of 10 s"):
        job.wait(0)


def test_max_polls_gives_up_like_the_seed_sample():
    job, polls = run(tn.Fixed(10, max_polls=3), duration=100)
    assert polls == [10, 20, 30]
    assert job.state is State.TIMED_OUT
    with pytest.raises(tn.JobTimeout, match="allows 3 polls"):
        job.wait(0)


def test_unknown_status_is_recorded_and_runs_until_the_deadline():
    job, polls = run(tn.Fixed(2), duration=0, timeout=7, statuses="being-reviewed")
    assert polls == [2, 4, 6, 7]
    assert job.state is State.TIMED_OUT
    assert job.raw_status == "being-reviewed"


def test_jitter_only_lengthens_and_is_reproducible():
    policy = tn.Fixed(10, jitter=0.2)
    pacer_a = Pacer(policy, min_interval=1, deadline=1e9, rng=random.Random(3))
    pacer_b = Pacer(policy, min_interval=1, deadline=1e9, rng=random.Random(3))
    times_a = [pacer_a.next_poll(0) for _ in range(50)]
    assert times_a == [pacer_b.next_poll(0) for _ in range(50)]
    assert all(10 <= t < 12 for t in times_a)
    assert len(set(times_a)) > 40


def test_retry_after_past_the_deadline_stops_instead_of_polling_early():
    pacer = Pacer(tn.Fixed(1), min_interval=1, deadline=10)
    assert pacer.next_poll(5, retry_after=30) is None


def test_adaptive_looks_first_near_the_expected_finish():
    model = DurationModel(prior=(20.0, 0.0))
    _, polls = run(tn.Adaptive(), duration=21, min_interval=1.0, model=model)
    assert polls == [20, 21]


def test_adaptive_without_prediction_falls_back():
    _, polls = run(tn.Adaptive(fallback=tn.Fixed(3)), duration=7)
    assert polls == [3, 6, 9]


def test_duration_model_learns_a_line_from_finished_jobs():
    model = DurationModel(prior=(1.0, 0.0))
    assert model.predict(100) == 1.0
    for chars in (10, 50, 100, 200):
        model.observe(chars, 2.0 + 0.1 * chars)
    assert model.predict(300) == pytest.approx(32.0)


def test_policies_are_immutable_and_printable():
    policy = tn.Backoff(1, 2, 8)
    assert policy.replace(maximum=4).maximum == 4 and policy.maximum == 8
    assert repr(tn.Fixed(5)) == "Fixed(timeout=None, jitter=0.0, max_polls=None, interval=5)"
    with pytest.raises(AttributeError):
        policy.initial = 3


def test_duration_model_learns_the_spread_as_ratios_to_its_line():
    model = DurationModel(prior=(10.0, 0.0))
    assert model.predict(100).ratios == ()  # nothing seen yet: the prior alone
    for seconds in (8.0, 9.0, 10.0, 11.0, 12.0):
        model.observe(100, seconds)
    prediction = model.predict(100)
    assert prediction == pytest.approx(10.0)
    assert prediction.quantile(0.0) == pytest.approx(8.0)
    assert prediction.quantile(0.25) == pytest.approx(9.0)
    assert prediction.quantile(0.5) == pytest.approx(10.0)
    assert prediction.quantile(1.0) == pytest.approx(12.0)
    with pytest.raises(ValueError):
        prediction.quantile(1.5)


def test_prediction_is_a_float_for_policies_that_want_one_number():
    prediction = Prediction(20.0, (0.5, 1.5))
    assert prediction + 1 == 21.0 and isinstance(prediction, float)
    assert prediction.quantile(0.5) == pytest.approx(20.0)


def test_adaptive_first_look_is_at_most_the_learned_quantile_and_planned_to_the_finish():
    def learned() -> DurationModel:
        model = DurationModel(prior=(1.0, 0.0))
        for seconds in (16.0, 18.0, 20.0, 22.0, 24.0):
            model.observe(10, seconds)
        return model

    for quantile, bound in ((0.25, 18.0), (0.75, 22.0)):
        _, polls = run(
            tn.Adaptive(quantile=quantile), duration=21, min_interval=1.0, model=learned()
        )
        assert polls[0] <= bound  # never later than the quantile (a look at 22 would leave
        # the jobs done at 16-20 s unseen for seconds)
        assert polls[0] >= 14.0  # nor looking long before the first similar job ended
        assert all(b - a >= 1.0 for a, b in zip(polls, polls[1:]))
        assert 21 <= polls[-1] < 22  # seen within one minimum interval of the finish
    _, cheap = run(tn.Adaptive(lag_cost=0.5), duration=21, min_interval=1.0, model=learned())
    assert len(cheap) < len(polls) and cheap[-1] >= polls[-1]  # lag cheaper: fewer looks


def test_adaptive_rejects_a_quantile_outside_0_to_1():
    with pytest.raises(ValueError, match="quantile"):
        tn.Adaptive(quantile=2)
