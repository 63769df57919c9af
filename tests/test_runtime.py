"""`tn.reset()` starts a kernel's shared state afresh, and `tn.use_simulator()` leaves the
environment alone (the runtime holds the choice)."""

from __future__ import annotations

import os
import threading

import pytest
import requests

import tts_nb as tn
from tts_nb.scheduler import default_scheduler
from tts_nb.simulator import shared
from tts_nb.state import State

from .conftest import FAST, wait_until


def test_reset_forgets_every_job(tc, actor):
    job = tc.speak("Remember me.", actor_id=actor)
    job.wait(30)
    assert tn.all_jobs() == [job] and list(tn.jobs().job) == [job.id]
    tn.reset()
    assert tn.all_jobs() == [] and len(tn.jobs()) == 0
    assert job.id in set(tn.jobs(ledger=True).job)  # the ledger still has it


def test_reset_stops_the_default_scheduler_and_the_next_one_is_new():
    first = default_scheduler()
    first.call_soon(lambda: None)  # starts its thread
    thread = wait_until(lambda: first._thread, "the scheduler thread started")
    tn.reset()
    wait_until(lambda: not thread.is_alive(), "the old scheduler thread ended")
    with pytest.raises(RuntimeError, match="shut down"):
        first.call_soon(lambda: None)
    second = default_scheduler()
    ran = threading.Event()
    second.call_soon(ran.set)
    assert second is not first and ran.wait(5) and second._thread is not thread


def test_reset_restarts_the_simulator_and_gives_the_notice_again(capsys):
    old = tn.Typecast(api="legacy")
    tn.Typecast(api="legacy")
    assert capsys.readouterr().err.count("embedded simulator") == 1
    old_simulator = shared()
    tn.reset()
    with pytest.raises(requests.ConnectionError):  # stopped, before anything can reuse its port
        requests.get(old.base_url, timeout=5)
    new = tn.Typecast(api="legacy")
    tn.Typecast(api="legacy")
    assert capsys.readouterr().err.count("embedded simulator") == 1  # once more, once only
    assert shared() is not old_simulator and new.base_url != old.base_url
    assert new.speak("Fresh.", actor_id="James", policy=FAST).wait(30).size > 0


def test_a_job_queued_behind_a_limit_does_not_leak_into_the_next_runtime(sim):
    def client() -> tn.Typecast:
        return tn.Typecast(
            api_key=sim.credentials["typecast_v1_api_key"],
            base_url=sim.urls["typecast_v1"],
            policy=FAST,
            min_interval=0.05,
            api="v1",
            max_concurrent=1,
        )

    before = client()
    voice = before.voices().voice_id.iloc[0]
    running = before.speak("Long one. [[sim:slow]]", voice_id=voice)
    queued = before.speak("Waiting my turn.", voice_id=voice)
    assert before.gate.active == 1 and before.gate.queued == 1
    tn.reset()
    assert running.state is State.CANCELLED and queued.state is State.CANCELLED
    after = client()
    assert after.gate is not before.gate and (after.gate.active, after.gate.queued) == (0, 0)
    assert after.speak("My turn at once.", voice_id=voice).wait(30).size > 0


def test_use_simulator_leaves_the_environment_alone_yet_clients_use_it(monkeypatch):
    monkeypatch.setenv("TYPECAST_API_KEY", "a-real-looking-key")
    environment = dict(os.environ)
    simulator = tn.use_simulator()
    assert dict(os.environ) == environment
    client = tn.Typecast(api="legacy")
    assert client.simulated and client.base_url == simulator.urls["typecast"]
    assert "tn.use_simulator()" in repr(tn.status())
    tn.reset()  # forgets the choice: the key decides again
    assert not tn.Typecast(api="legacy").simulated
