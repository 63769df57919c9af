"""Shared fixtures: a fresh simulator per test, and clients pointed at it over real HTTP."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from typing import TypeVar

import pytest

import tts_nb as tn
from tts_nb.scheduler import Scheduler
from tts_nb.simulator import Simulator

KEY_VARS = (
    "TYPECAST_API_KEY",
    "CAMB_API_KEY",
    "ASPOSE_CLIENT_ID",
    "ASPOSE_CLIENT_SECRET",
    "TTS_NB_PROVIDER",
    "TTS_NB_TYPECAST_URL",
    "TTS_NB_TYPECAST_V1_URL",
    "TTS_NB_CAMB_URL",
    "TTS_NB_ASPOSE_URL",
)


def require_tool(name: str) -> str:
    """The path of the command-line tool `name`. Without it the test skips on a developer's
    machine, but fails under CI=true: the README's test command installs every tool the tests
    need, so a missing one there is a broken install line, not a reason to test less."""
    path = shutil.which(name)
    if path is None:
        message = (
            f"{name} is not installed; the README's test command (after <!-- test-command -->) "
            "installs it with apt"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return path


T = TypeVar("T")


def wait_until(condition: Callable[[], T], what: str, timeout: float = 10.0) -> T:
    """Look at `condition()` every 10 ms until it is truthy and return it; after `timeout`
    seconds, fail saying `what` did not happen (never hang until pytest-timeout)."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout:g} s: {what}")
        time.sleep(0.01)
    return value


@pytest.fixture(autouse=True)
def _no_keys_in_env(monkeypatch, tmp_path):
    """Tests never see the developer's keys, .env file or job ledger (each test has its own),
    nor another test's jobs, gates, notice or detected Typecast APIs (`tn.reset()`)."""
    for name in KEY_VARS:
        monkeypatch.delenv(name, raising=False)
    tn.reset()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TTS_NB_LEDGER", str(tmp_path / "ledger"))


@pytest.fixture
def sim():
    """A simulator running 50x faster than the real services."""
    with Simulator(speed=50, seed=7) as simulator:
        yield simulator


FAST = tn.Fixed(0.05, timeout=30)


def legacy_typecast(sim, **options) -> tn.Typecast:
    """A client of Typecast's legacy API on the simulator that polls every 50 ms."""
    return tn.Typecast(
        api_key=sim.credentials["typecast_api_key"],
        base_url=sim.urls["typecast"],
        policy=FAST,
        min_interval=0.05,
        api="legacy",
        **options,
    )


@pytest.fixture
def tc(sim):
    """A client of Typecast's legacy API on the simulator that polls every 50 ms."""
    return legacy_typecast(sim)


@pytest.fixture
def tc_v1(sim):
    """A client of Typecast's current API (v1) on the simulator; refused requests are sent
    again after 50 ms."""
    return tn.Typecast(
        api_key=sim.credentials["typecast_v1_api_key"],
        base_url=sim.urls["typecast_v1"],
        policy=FAST,
        min_interval=0.05,
        api="v1",
    )


@pytest.fixture
def actor(tc):
    return tc.actors().actor_id.iloc[0]


def virtual_typecast(sim):
    """(client, scheduler, clock): a legacy Typecast client on the simulator whose engine runs
    on a `VirtualClock`, so "nothing happens for an hour" is checked without waiting."""
    clock = tn.VirtualClock()
    scheduler = Scheduler(clock)
    return legacy_typecast(sim, scheduler=scheduler), scheduler, clock
