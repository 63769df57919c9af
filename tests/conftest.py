"""Shared fixtures: a fresh simulator per test, and clients pointed at it over real HTTP."""

from __future__ import annotations

import pytest

import tts_nb as tn
from tts_nb.providers import typecast as typecast_module
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


@pytest.fixture(autouse=True)
def _no_keys_in_env(monkeypatch, tmp_path):
    """Tests never see the developer's keys, .env file or job ledger (each test has its own)."""
    for name in KEY_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(typecast_module, "_detected", {})  # which API each key is: per test
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TTS_NB_LEDGER", str(tmp_path / "ledger"))


@pytest.fixture
def sim():
    """A simulator running 50x faster than the real services."""
    with Simulator(speed=50, seed=7) as simulator:
        yield simulator


FAST = tn.Fixed(0.05, timeout=30)


@pytest.fixture
def tc(sim):
    """A client of Typecast's legacy API on the simulator that polls every 50 ms."""
    return tn.Typecast(
        api_key=sim.credentials["typecast_api_key"],
        base_url=sim.urls["typecast"],
        policy=FAST,
        min_interval=0.05,
        api="legacy",
    )


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
