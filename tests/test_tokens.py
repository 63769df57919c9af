"""Continuation tokens: a job resumed from its token alone in another process (the first one
SIGKILLed mid-job), never a secret inside, and tampered or foreign tokens refused."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

import tts_nb as tn
from tts_nb import tokens
from tts_nb.client import Client
from tts_nb.errors import InvalidInput
from tts_nb.simulator import Simulator

from .conftest import FAST, wait_until

CHILD = """
    import sys, time
    import tts_nb as tn
    tc = tn.Typecast(policy=tn.Fixed(0.05), min_interval=0.05)
    job = tc.speak("Still thinking about it. [[sim:slow]]", actor_id=sys.argv[2])
    deadline = time.monotonic() + 30
    while not job.provider_ids:
        if time.monotonic() > deadline:
            sys.exit("not within 30 s: the submit was never answered")
        time.sleep(0.01)
    with open(sys.argv[1], "w") as out:
        out.write(job.continuation_token())
    print("ready", job.id, flush=True)
    time.sleep(60)
"""


def payload(token: str) -> dict:
    """The JSON inside a token, decoded by hand (what anyone holding it can read)."""
    data = token.split(":", 2)[2]
    return json.loads(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)))


def posts(sim) -> list:
    return sim.log.find(origin="typecast", method="POST", path="/api/speak")


def test_a_token_resumes_in_another_process_after_the_first_is_killed(monkeypatch, tmp_path, actor):
    with Simulator(speed=5, seed=11) as sim:  # slow enough that the job outlives its process
        env = {
            **os.environ,
            "TYPECAST_API_KEY": sim.credentials["typecast_api_key"],
            "TTS_NB_TYPECAST_URL": sim.urls["typecast"],
            "TTS_NB_LEDGER": str(tmp_path / "child-ledger"),  # this process's ledger lacks it
        }
        path = tmp_path / "token.txt"
        child = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(CHILD), str(path), actor],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            line = child.stdout.readline().split()
            assert line and line[0] == "ready", "the child ended early (its stderr is above)"
            job_id = line[1]
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait()
        assert child.returncode == -signal.SIGKILL
        token = path.read_text()
        assert token.startswith("tts_nb:1:") and payload(token)["job"] == job_id
        sim.advance(3600)  # the provider finished it while nobody polled

        monkeypatch.setenv("TYPECAST_API_KEY", sim.credentials["typecast_api_key"])
        monkeypatch.setenv("TTS_NB_TYPECAST_URL", sim.urls["typecast"])
        (job,) = tn.resume(token)
        clip = job.wait(30)
        assert job.id == job_id and clip.duration_s > 0
        assert len(posts(sim)) == 1  # the child's submit only: nothing submitted again
        steps = job.history.step.tolist()
        assert steps[0] == "resume" and steps[-1] == "fetch", steps
        assert tn.resume(job_id)[0] is job  # now in this process's ledger and registry


def test_no_secret_is_inside_a_token(sim, tc, actor, monkeypatch):
    key = sim.credentials["typecast_api_key"]
    job = tc.speak(f"My key is {key}, do not tell.", actor_id=actor, policy=FAST)
    wait_until(lambda: job.provider_ids, "the submit was never answered")
    camb = tn.Camb(api_key=sim.credentials["camb_api_key"], base_url=sim.urls["camb"])
    aspose = tn.Aspose(
        client_id=sim.credentials["aspose_client_id"],
        client_secret=sim.credentials["aspose_client_secret"],
        base_url=sim.urls["aspose"],
    )
    others = [
        camb.tts("Hello there.", voice_id=camb.voices().voice_id.iloc[0], policy=FAST),
        aspose.text_to_speech("Hello there.", policy=FAST),
    ]
    for other in others:
        other.wait(30)
    access_tokens = [r.headers.get("authorization") for r in sim.log.find(origin="aspose")]
    secrets = [*sim.credentials.values(), *(a.split()[-1] for a in access_tokens if a)]
    for each in (job, *others):
        token = each.continuation_token()
        inside = json.dumps(payload(token))
        assert payload(token)["v"] == 1 and payload(token)["provider"] == each.provider
        leaked = [s for s in secrets if s in inside or s in token]
        assert not leaked, f"{each.provider}'s token holds a secret"
    assert "My key is" in json.dumps(payload(job.continuation_token()))  # the text is kept
    job.cancel()


def tampered(token: str, **changes) -> str:
    data = {**payload(token), **changes}
    raw = json.dumps(data).encode()
    return "tts_nb:1:" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_a_tampered_endpoint_is_refused_and_gets_no_key(sim, tc, actor, monkeypatch):
    job = tc.speak("Where does my key go?", actor_id=actor, policy=FAST)
    wait_until(lambda: job.provider_ids, "the submit was never answered")
    job.cancel()
    monkeypatch.setenv("TYPECAST_API_KEY", sim.credentials["typecast_api_key"])
    monkeypatch.setenv("TTS_NB_TYPECAST_URL", sim.urls["typecast"])
    with Simulator(speed=50, seed=3) as evil:
        bad = tampered(job.continuation_token(), endpoint=evil.urls["typecast"], job="evil0001")
        with pytest.raises(InvalidInput, match="neither typecast's own endpoint") as info:
            tn.resume(bad)
        assert "TTS_NB_TYPECAST_URL=" in str(info.value)
        assert sim.credentials["typecast_api_key"] not in str(info.value)
        with pytest.raises(InvalidInput, match="TTS_NB_TYPECAST_URL="):
            Client.from_token(bad)
        with pytest.raises(InvalidInput, match="the client given talks to"):
            tc.resume(bad)
        assert evil.log.find() == []  # not a single request, so no key either


def test_unknown_versions_and_damaged_tokens_are_refused(sim, tc, actor):
    job = tc.speak("Versions.", actor_id=actor, policy=FAST)
    wait_until(lambda: job.provider_ids, "the submit was never answered")
    job.cancel()
    good = job.continuation_token()
    assert tokens.decode(good).ids == job.provider_ids
    future = good.replace("tts_nb:1:", "tts_nb:7:", 1)
    with pytest.raises(InvalidInput, match="version '7'.*reads version 1"):
        tn.resume(future)
    with pytest.raises(InvalidInput, match="damaged"):
        tn.resume("tts_nb:1:not-base64-json!")
    with pytest.raises(InvalidInput, match="damaged"):
        tn.resume(tampered(good, ids="not a mapping"))
    with pytest.raises(InvalidInput, match="not a tts_nb continuation token"):
        tokens.decode("eyJ2IjoxfQ")
