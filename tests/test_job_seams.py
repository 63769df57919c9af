"""Issue 14 items 1 and 5: a job notifies once per change, never while it holds its lock;
`running()` is true while it runs; a cancelled `wait()` raises `tn.JobCancelled`; the history
and the teaching stepper live outside the engine."""

from __future__ import annotations

import concurrent.futures
import threading

import pytest

import tts_nb as tn
from tts_nb.history import History
from tts_nb.state import State
from tts_nb.teaching import Stepper

from .test_job_contracts import AUDIO, DONE, RUNNING, SUBMITTED, answer, make_job

FAILED = answer(200, {"id": "j1", "status": "failed", "message": "voice unavailable"})


def _lock_is_free(job) -> bool:
    """Whether another thread could take the job's lock right now (an RLock is re-entrant,
    so the observer's own thread would always get it)."""
    got: list[bool] = []

    def probe() -> None:
        taken = job._lock.acquire(blocking=False)
        if taken:
            job._lock.release()
        got.append(taken)

    thread = threading.Thread(target=probe)
    thread.start()
    thread.join()
    return got[0]


class Counter:
    """An observer noting what each notification showed, and whether the lock was free."""

    def __init__(self, job) -> None:
        self.seen: list[tuple] = []
        self.free: list[bool] = []
        self.running: list[bool] = []
        job.observe(self)

    def __call__(self, job) -> None:
        self.free.append(_lock_is_free(job))
        self.running.append(job.running())
        self.seen.append(
            (job.state, job.next_poll_at, job.submit_started_at, repr(job.rows), job.error)
        )


def test_each_change_notifies_once_with_the_lock_released():
    job, scheduler, _ = make_job([SUBMITTED, RUNNING, RUNNING, DONE, AUDIO], start=False)
    counter = Counter(job)
    job.start()
    scheduler.run_virtual()
    assert job.wait(0) == b"RIFF-audio"
    assert counter.seen and all(counter.free)
    # every notification shows something new: no change is announced twice
    assert all(a != b for a, b in zip(counter.seen, counter.seen[1:]))
    # the submit start, a row per exchange (5), an answer read per submit or poll (4), a
    # plan per poll scheduled (3), the end
    assert len(counter.seen) == 1 + 5 + 4 + 3 + 1
    assert [state for state, *_ in counter.seen].count(State.SUCCEEDED) == 1


def test_a_failure_and_a_cancel_notify_once_too():
    failed, scheduler, _ = make_job([SUBMITTED, FAILED], start=False)
    counter = Counter(failed)
    failed.start()
    scheduler.run_virtual()
    assert failed.state is State.FAILED and all(counter.free)
    assert [state for state, *_ in counter.seen].count(State.FAILED) == 1

    cancelled, _, _ = make_job([], start=False)
    counter = Counter(cancelled)
    assert cancelled.cancel()
    assert len(counter.seen) == 1 and counter.seen[0][0] is State.CANCELLED and all(counter.free)


def test_running_is_true_from_the_start_until_the_end():
    job, scheduler, _ = make_job([SUBMITTED, RUNNING, DONE, AUDIO], start=False)
    counter = Counter(job)
    assert not job.running()
    job.start()
    assert job.running()
    scheduler.run_virtual()
    assert counter.running[:-1] and all(counter.running[:-1])  # every change before the end
    assert counter.running[-1] is False and not job.running() and job.done()


def test_wait_on_a_cancelled_job_raises_job_cancelled():
    job, scheduler, _ = make_job([SUBMITTED, RUNNING, RUNNING, DONE, AUDIO])

    def cancel_once_running(job) -> None:  # an observer may act on the job: no lock is held
        if job.raw_status == "running":
            job.cancel()

    job.observe(cancel_once_running)
    scheduler.run_virtual()
    assert job.state is State.CANCELLED and job.cancelled() and not job.running()
    with pytest.raises(tn.JobCancelled) as caught:
        job.wait(0)
    assert isinstance(caught.value, tn.TTSError)
    assert isinstance(caught.value, concurrent.futures.CancelledError)
    with pytest.raises(concurrent.futures.CancelledError):
        job.result(0)


def test_history_is_its_own_object_and_the_stepper_drives_manual_jobs():
    job, _, _ = make_job([SUBMITTED, DONE, AUDIO], start=False)
    assert isinstance(job._log, History)
    job.event("queue", "queued: 0 ahead")
    assert job.rows[-1]["step"] == "queue" and job.history.shape[0] == 1
    with pytest.raises(tn.InvalidInput, match="step-by-step"):
        Stepper(job)
