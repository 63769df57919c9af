"""`tn.doctor()` / `python -m tts_nb doctor` against the simulator posing as real accounts:
keys and endpoints come from the environment, exactly as a user's would."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import tts_nb as tn
from tts_nb.diagnose import doctor


@pytest.fixture
def accounts(sim, monkeypatch):
    """Every provider's key and endpoint set in the environment, pointing at the simulator."""
    values = {
        "TYPECAST_API_KEY": sim.credentials["typecast_v1_api_key"],
        "TTS_NB_TYPECAST_V1_URL": sim.urls["typecast_v1"],
        "CAMB_API_KEY": sim.credentials["camb_api_key"],
        "TTS_NB_CAMB_URL": sim.urls["camb"],
        "ASPOSE_CLIENT_ID": sim.credentials["aspose_client_id"],
        "ASPOSE_CLIENT_SECRET": sim.credentials["aspose_client_secret"],
        "TTS_NB_ASPOSE_URL": sim.urls["aspose"],
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def by_check(report):
    return {(f.provider, f.check): f for f in report.findings}


def charged(sim):
    """Requests that would cost money: every POST but Aspose's (free) token request."""
    return [r for r in sim.log.find(method="POST") if not r.path.endswith("/connect/token")]


def test_free_checks_find_each_account_and_charge_nothing(sim, accounts):
    report = doctor()
    found = by_check(report)
    assert report.ok and report.exit_code == 0, repr(report)
    assert "v1 API" in found["typecast", "key"].detail
    assert "100,000 credits left" in found["typecast", "account"].detail
    assert found["typecast", "catalogue"].ok and "voices" in found["typecast", "catalogue"].detail
    assert found["camb", "catalogue"].raw_status == "200"
    assert found["camb", "languages"].ok
    assert found["aspose", "key"].ok and "token" in found["aspose", "key"].detail
    assert all(f.latency_s is not None and f.latency_s > 0 for f in report.findings if f.ok)
    assert charged(sim) == []
    text = repr(report)
    for secret in sim.credentials.values():
        assert secret not in text and secret not in report.frame().to_string()


def test_speak_says_the_cost_before_each_charged_request(sim, accounts):
    said = []
    report = doctor(speak=True, say=lambda line: said.append((line, len(charged(sim)))))
    found = by_check(report)
    assert report.ok, repr(report)
    # one notice per provider, each before that provider's synthesis was sent
    assert [line.split(":")[0] for line, _ in said] == ["typecast", "camb", "aspose"]
    assert [before for _, before in said] == [0, 1, 2]
    assert len(charged(sim)) == 3
    for provider in ("typecast", "camb", "aspose"):
        assert found[provider, "speak"].ok and " s at " in found[provider, "speak"].detail
    assert "credits charged" in found["camb", "speak"].detail


def test_a_rejected_key_is_a_problem_with_its_status_and_no_secret(sim, accounts, monkeypatch):
    wrong = "tc-this-key-is-wrong-0123"
    monkeypatch.setenv("TYPECAST_API_KEY", wrong)
    monkeypatch.delenv("CAMB_API_KEY")
    report = doctor()
    found = by_check(report)
    assert not report.ok and report.exit_code == 1
    key = found["typecast", "key"]
    assert key.ok is False and "401" in key.detail and "space or newline" in key.detail
    assert found["camb", "key"].ok is None and "CAMB_API_KEY not set" in found["camb", "key"].detail
    assert wrong not in repr(report) and wrong not in report._repr_html_()


def test_a_legacy_key_is_recognised_as_such(sim, accounts, monkeypatch):
    monkeypatch.setenv("TYPECAST_API_KEY", sim.credentials["typecast_api_key"])
    monkeypatch.setenv("TTS_NB_TYPECAST_URL", sim.urls["typecast"])
    monkeypatch.delenv("TTS_NB_TYPECAST_V1_URL")
    found = by_check(doctor(providers=("typecast",)))
    assert "legacy API" in found["typecast", "key"].detail
    assert found["typecast", "account"].ok is None
    assert found["typecast", "catalogue"].ok


def test_html_view_escapes_provider_text():
    from tts_nb.diagnose import Finding, Report

    payload = Finding("camb", "catalogue", False, "<img src=x onerror=alert(1)>", "<script>")
    page = Report([payload])._repr_html_()
    assert "<img" not in page and "&lt;img" in page
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_command_line_exit_status(sim, accounts):
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    ok = subprocess.run(
        [sys.executable, "-m", "tts_nb", "doctor"], env=env, capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "no problems found" in ok.stdout and "typecast" in ok.stdout
    env["CAMB_API_KEY"] = "camb-wrong-key-0000"
    bad = subprocess.run(
        [sys.executable, "-m", "tts_nb", "doctor"], env=env, capture_output=True, text=True
    )
    assert bad.returncode == 1 and "FAIL camb" in bad.stdout
    assert "camb-wrong-key-0000" not in bad.stdout + bad.stderr


def test_doctor_is_public():
    assert tn.doctor is doctor
