"""Run the real engine (`Job`, `Pacer`, `Scheduler`, `DurationModel`) on a virtual clock.

Each job is a `TimedOperation` that answers "done" from `duration` seconds after its submit,
so a policy's polls, detection lag and give-ups are measured exactly, and thousands of jobs
lasting minutes run in about a second. Jobs arrive over time and share one duration model,
as the jobs of one client do, so the adaptive policy learns as it would in a notebook.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tts_nb.clock import VirtualClock
from tts_nb.job import Job, Observation
from tts_nb.policy import DurationModel, PollPolicy
from tts_nb.runtime import current
from tts_nb.scheduler import Scheduler
from tts_nb.state import State
from tts_nb.transport import Transport


class TimedOperation:
    """A provider job that is done `duration` seconds after submit; records when it was polled."""

    kind = "speak"

    def __init__(self, provider: str, clock: VirtualClock, duration: float) -> None:
        self.provider = provider
        self.clock = clock
        self.duration = duration
        self.submitted_at = 0.0
        self.polls: list[float] = []  # seconds after submit

    def submit(self, call) -> Observation:
        self.submitted_at = self.clock.now()
        return Observation(State.PENDING, raw_status="queued", ids={"task": 1})

    def poll(self, call, ids: Mapping[str, Any]) -> Observation:
        elapsed = self.clock.now() - self.submitted_at
        self.polls.append(elapsed)
        if elapsed >= self.duration:
            return Observation(State.SUCCEEDED, raw_status="done")
        return Observation(State.RUNNING, raw_status="progress")

    def fetch(self, call, ids: Mapping[str, Any], seen: Observation) -> None:
        return None


@dataclass(frozen=True)
class Outcome:
    """One job's result: how many polls, when it was seen done, whether it was given up."""

    characters: int
    duration: float
    polls: tuple[float, ...]
    succeeded: bool
    gave_up: bool

    @property
    def lag(self) -> float | None:
        """Seconds from the job finishing to the client seeing it (None when never seen)."""
        return self.polls[-1] - self.duration if self.succeeded else None

    @property
    def min_gap(self) -> float:
        """The shortest wait between submit and a poll or between two polls."""
        times = (0.0, *self.polls)
        return min((b - a for a, b in zip(times, times[1:])), default=float("inf"))


def run_policy(
    policy: PollPolicy,
    jobs: Iterable[tuple[int, float, float]],
    *,
    provider: str,
    min_interval: float,
    timeout: float,
    model: Any = None,
) -> list[Outcome]:
    """Run `jobs` (characters, duration, arrival) under `policy`; one shared duration model.

    `model` is anything with `predict(characters)` and `observe_interval(characters, low,
    high)`: a `DurationModel` (the client's), or None for no prediction at all.
    """
    clock = VirtualClock()
    scheduler = Scheduler(clock)
    transport = Transport("http://127.0.0.1:9", provider=provider)
    deadline = policy.timeout if policy.timeout is not None else timeout
    started: list[tuple[TimedOperation, Job, int]] = []

    def arrive(characters: int, duration: float) -> None:
        operation = TimedOperation(provider, clock, duration)
        job = Job(
            operation,
            transport=transport,
            scheduler=scheduler,
            policy=policy,
            min_interval=min_interval,
            timeout=deadline,
            request={"characters": characters},
            duration_model=model,
            text_length=characters,
        )
        started.append((operation, job.start(), characters))

    for characters, duration, arrival in jobs:
        scheduler.call_at(arrival, lambda c=characters, d=duration: arrive(c, d))
    scheduler.run_virtual()
    outcomes = [
        Outcome(
            characters=characters,
            duration=operation.duration,
            polls=tuple(operation.polls),
            succeeded=job.state is State.SUCCEEDED,
            gave_up=job.state is State.TIMED_OUT,
        )
        for operation, job, characters in started
    ]
    forget(job for _, job, _ in started)
    transport.session.close()
    return outcomes


def forget(jobs: Iterable[Job]) -> None:
    """Drop benchmark jobs from the process's job registry (`tn.jobs()`), which keeps every job
    of a kernel for its tables: a sweep starts hundreds of thousands of them."""
    gone = {id(job) for job in jobs}
    runtime = current()
    with runtime.jobs_lock:
        runtime.jobs[:] = [j for j in runtime.jobs if id(j) not in gone]


def new_model(prior: tuple[float, float]) -> DurationModel:
    """A fresh duration model, as a new client starts with."""
    return DurationModel(prior)


@dataclass(frozen=True)
class Summary:
    """Per policy: polls per job and detection lag (median, p95, mean), give-ups, the fastest
    poll."""

    jobs: int
    polls_median: float
    polls_p95: float
    lag_median: float
    lag_p95: float
    gave_up: int
    gave_up_before_deadline: int
    min_gap: float
    polls_mean: float = float("nan")
    lag_mean: float = float("nan")

    @classmethod
    def of(cls, outcomes: Sequence[Outcome], deadline: float) -> Summary:
        polls = np.array([len(o.polls) for o in outcomes], dtype=float)
        lags = np.array([o.lag for o in outcomes if o.lag is not None], dtype=float)
        return cls(
            jobs=len(outcomes),
            polls_median=float(np.median(polls)),
            polls_p95=float(np.percentile(polls, 95)),
            lag_median=float(np.median(lags)) if lags.size else float("nan"),
            lag_p95=float(np.percentile(lags, 95)) if lags.size else float("nan"),
            gave_up=sum(o.gave_up for o in outcomes),
            gave_up_before_deadline=sum(o.gave_up and o.duration <= deadline for o in outcomes),
            min_gap=min(o.min_gap for o in outcomes),
            polls_mean=float(polls.mean()),
            lag_mean=float(lags.mean()) if lags.size else float("nan"),
        )
