"""Teaching mode: HTTP text and curl commands that re-run against the simulator, and step-by-step
jobs a learner drives one cell at a time."""

from __future__ import annotations

import json
import os
import subprocess
import threading

import pytest

import tts_nb as tn
from tts_nb.state import State
from tts_nb.teaching import ManualScheduler
from tts_nb.transport import Exchange

from .conftest import FAST, require_tool


@pytest.fixture
def curl() -> str:
    return require_tool("curl")


needs_curl = pytest.mark.usefixtures("curl")
TRICKY = 'It\'s $HOME, `date`, "quoted" & !bang — 안녕'


def run_curl(command: str, cwd, key: str | None) -> tuple[int, bytes]:
    """Run a teaching curl command in a clean shell where only the key variable is set."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    if key is not None:
        env["TYPECAST_API_KEY"] = key
    done = subprocess.run(
        ["bash", "-c", command + " --silent --show-error --write-out '\\n%{http_code}'"],
        env=env,
        cwd=cwd,
        capture_output=True,
        timeout=30,
        check=True,
    )
    body, _, code = done.stdout.rpartition(b"\n")
    return int(code), body


@pytest.fixture
def finished(tc, actor):
    job = tc.speak(TRICKY, actor_id=actor)
    job.wait(30)
    return job


def test_curl_names_the_key_by_variable_and_never_holds_it(finished, sim):
    key = sim.credentials["typecast_api_key"]
    transcript = tn.teach.show(finished)
    commands = transcript.curls()
    assert len(commands) == len(finished.exchanges) >= 3
    api = [c for c, e in zip(commands, finished.exchanges) if e.step != "fetch"]
    assert all('--header "Authorization: Bearer $TYPECAST_API_KEY"' in c for c in api)
    fetch = commands[-1]
    assert "Authorization" not in fetch and "--output fetch.wav" in fetch  # the CDN gets no key
    texts = [*commands, *transcript.http(), repr(transcript), transcript._repr_html_()]
    assert all(key not in text for text in texts)
    assert "Authorization: Bearer ••••" in transcript.http()[0]
    assert commands[0].startswith("curl \\\n  --request POST \\\n  --url http://127.0.0.1:")


@needs_curl
def test_reissued_curls_get_the_same_answers(finished, tc, sim, tmp_path):
    key = sim.credentials["typecast_api_key"]
    commands = tn.teach.show(finished).curls()
    steps = [exchange.step for exchange in finished.exchanges]

    # the last poll: the same JSON, byte for byte
    poll = commands[len(steps) - 1 - steps[::-1].index("poll")]
    assert run_curl(poll, tmp_path, key) == (200, finished.exchanges[-2].response_body.encode())

    # the download: the same audio bytes the job's clip holds
    assert run_curl(commands[-1], tmp_path, key)[0] == 200
    assert (tmp_path / "fetch.wav").read_bytes() == finished.clip.data

    # the submit: a new speak of the same (shell-hostile) text, as long as the first
    status, body = run_curl(commands[0], tmp_path, key)
    assert status == 200
    again = json.loads(body)["result"]["speak_v2_url"]
    assert again != finished.provider_ids["speak_v2_url"]
    sim.advance(3600)  # let it finish
    redo = tn.teach.request(tc, "GET", again).json["result"]
    assert redo["status"] == "done" and redo["text_count"] == len(TRICKY)
    assert redo["duration"] == pytest.approx(finished.clip.duration_s, abs=0.01)

    # without the variable the same command is refused: the key really comes from it
    assert run_curl(poll, tmp_path, None)[0] == 401


def test_http_text_shows_request_and_pretty_json_answer(finished):
    text = tn.teach.show(finished).http()[0]
    head, _, answer = text.partition("\n\nHTTP/1.1 ")
    assert head.startswith("POST /api/speak HTTP/1.1\nHost: 127.0.0.1:")
    assert json.loads(head.split("\n\n", 1)[1])["text"] == TRICKY
    assert answer.startswith("200 OK\nContent-Type: application/json")
    assert '"speak_v2_url": "http://127.0.0.1:' in answer


def test_step_by_step_job_runs_one_exchange_per_cell(tc, actor, sim, monkeypatch):
    ran = []  # the thread of every scheduled call that ran: only job.step() may run one
    schedule = ManualScheduler.call_at

    def recording(self, when, fn, *, download=False):
        def run():
            ran.append(threading.current_thread())
            fn()

        return schedule(self, when, run, download=download)

    monkeypatch.setattr(ManualScheduler, "call_at", recording)
    job = tn.teach.steps(tc).speak("One step at a time.", actor_id=actor)
    assert job.manual and job.state is State.PENDING
    assert job.exchanges == [] and sim.log.find(method="POST") == [] and ran == []

    submit = job.step()
    assert [e.step for e in submit] == ["submit"]
    assert "speak_v2_url" in submit.json["result"]
    assert "run job.step() again" in repr(submit)

    seen = []
    for _ in range(120):  # a simulated minute and more; the speak takes a few seconds
        transcript = job.step()
        assert [e.step for e in transcript] == ["poll"]
        seen.append(transcript.json["result"]["status"])
        if seen[-1] == "done":
            break
        sim.advance(1.0)
    assert seen[-1] == "done", f"not done after 120 simulated seconds: {seen[-3:]}"
    assert set(seen) <= {"started", "progress", "done"}
    assert not job.done() and "job.step() downloads the result" in repr(transcript)

    fetch = job.step()
    assert [e.step for e in fetch] == ["fetch"] and fetch.json is None
    assert job.state is State.SUCCEEDED and job.clip.duration_s > 0.5
    assert "the job ended: SUCCEEDED" in repr(fetch)
    # one call per step (submit, each poll, the fetch), each in the caller's thread
    assert ran == [threading.current_thread()] * (len(seen) + 2)
    assert len(job.step()) == 0  # nothing more to do
    assert list(job.history.step) == ["submit", *["poll"] * len(seen), "fetch"]

    # the same request again is sent again (not reused): the learner sees real exchanges
    again = tn.teach.steps(tc).speak("One step at a time.", actor_id=actor)
    assert [e.step for e in again.step()] == ["submit"]
    assert len(sim.log.find(method="POST", path="/api/speak")) == 2


def test_step_is_refused_on_a_job_that_polls_by_itself(tc, actor):
    job = tc.speak("Automatic.", actor_id=actor)
    with pytest.raises(tn.InvalidInput, match=r"tn.teach.steps\(client\)"):
        job.step()
    job.wait(30)


def test_raw_request_shows_errors_instead_of_raising(sim):
    client = tn.Typecast(api_key="not-the-key", base_url=sim.urls["typecast"], api="legacy")
    transcript = tn.teach.request(client, "GET", "/api/actor")
    assert transcript[0].status == 401
    assert transcript.json["message"]["error_code"]
    assert "not-the-key" not in repr(transcript)


def test_form_secrets_become_variables():
    exchange = Exchange(
        step="token",
        method="POST",
        url="http://127.0.0.1:1/connect/token",
        started=0.0,
        request_headers={"Content-Type": "application/x-www-form-urlencoded"},
        request_body="grant_type=client_credentials&client_id=••••&client_secret=••••",
    )
    command = tn.teach.curl(exchange, "aspose")
    assert '--data-urlencode "client_id=$ASPOSE_CLIENT_ID"' in command
    assert '--data-urlencode "client_secret=$ASPOSE_CLIENT_SECRET"' in command
    assert "--data-urlencode grant_type=client_credentials" in command


def test_status_says_where_requests_go(monkeypatch):
    monkeypatch.setenv("TYPECAST_API_KEY", "a-real-looking-key")
    mixed = tn.status()
    assert not mixed.simulated["typecast"] and mixed.simulated["camb"]
    assert not mixed.offline and "a-real-looking-key" not in repr(mixed) + mixed._repr_html_()
    monkeypatch.setenv("TTS_NB_PROVIDER", "simulator")
    forced = tn.status()
    assert forced.offline and "TTS_NB_PROVIDER=simulator" in repr(forced)
    assert forced.simulator_urls["typecast"].startswith("http://127.0.0.1:")
    text, page = repr(forced), forced._repr_html_()
    assert "typecast API: v1" in text and forced.simulator_urls["typecast_v1"] in text
    assert f"POST {forced.simulator_urls['camb']}/tts-stream" in text
    assert "var(--jp-layout-color2," in page and "var(--jp-ui-font-color1," in page
    assert "api=&#x27;legacy&#x27;" in page  # escaped text
    assert "not detected yet" in repr(mixed)  # a key whose API nobody asked about yet


def test_status_resolves_endpoints_as_the_clients_do(monkeypatch):
    # No key but an endpoint setting: a client goes there, not to the simulator; so does status.
    monkeypatch.setenv("TTS_NB_CAMB_URL", "https://camb.example.test/apis")
    monkeypatch.setenv("TTS_NB_ASPOSE_URL", "http://aspose.example.test")  # refused: plain http
    where = tn.status()
    assert not where.simulated["camb"] and tn.Camb().base_url == "https://camb.example.test/apis"
    assert "https://camb.example.test/apis (set by TTS_NB_CAMB_URL)" in repr(where)
    assert "POST https://camb.example.test/apis/tts-stream" in repr(where)
    assert "not an https:// URL" in where.reasons["aspose"]
    assert where.simulated["typecast"]


@needs_curl
def test_camb_curl_sends_the_key_as_x_api_key(sim):
    camb = tn.Camb(
        api_key=sim.credentials["camb_api_key"],
        base_url=sim.urls["camb"],
        policy=FAST,
        min_interval=0.05,
    )
    voice = int(camb.voices().voice_id[0])
    job = camb.tts("Hello from CAMB.", voice_id=voice, language="en-us", stream=False)
    job.wait(60)
    polls = [(e, c) for e, c in zip(job.exchanges, tn.teach.show(job).curls()) if e.step == "poll"]
    exchange, command = polls[-1]
    assert '--header "x-api-key: $CAMB_API_KEY"' in command
    assert sim.credentials["camb_api_key"] not in command
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "CAMB_API_KEY": camb._key.reveal()}
    done = subprocess.run(["bash", "-c", command + " --silent"], env=env, capture_output=True)
    assert json.loads(done.stdout) == json.loads(exchange.response_body)


@needs_curl
def test_aspose_curls_get_a_token_and_use_it(sim):
    client_id, secret = sim.credentials["aspose_client_id"], sim.credentials["aspose_client_secret"]
    aspose = tn.Aspose(
        client_id=client_id,
        client_secret=secret,
        base_url=sim.urls["aspose"],
        policy=FAST,
        min_interval=0.05,
    )
    job = aspose.text_to_speech("Hello from Aspose.")
    job.wait(60)
    commands = dict(zip((e.step for e in job.exchanges), tn.teach.show(job).curls()))
    token_curl, poll_curl = commands["token"], commands["poll"]
    assert '"client_secret=$ASPOSE_CLIENT_SECRET"' in token_curl and secret not in token_curl
    assert '--header "Authorization: Bearer $ASPOSE_TOKEN"' in poll_curl
    assert "# ASPOSE_TOKEN is the access_token" in poll_curl
    path = os.environ.get("PATH", "/usr/bin:/bin")
    env = {"PATH": path, "ASPOSE_CLIENT_ID": client_id, "ASPOSE_CLIENT_SECRET": secret}
    answer = subprocess.run(["bash", "-c", token_curl + " --silent"], env=env, capture_output=True)
    token = json.loads(answer.stdout)["access_token"]
    env = {"PATH": path, "ASPOSE_TOKEN": token}
    answer = subprocess.run(["bash", "-c", poll_curl + " --silent"], env=env, capture_output=True)
    again = json.loads(answer.stdout)
    assert again["taskStatus"] == "Completed" and again["id"] == job.provider_ids["task_id"]
    assert again["results"][0]["data"].startswith("UklGR")  # base64 of "RIFF": the WAV


def test_half_done_stepping_jobs_never_hold_up_other_jobs(tc, actor):
    stepper = tn.teach.steps(tc)
    abandoned = [stepper.speak("Left half done.", actor_id=actor) for _ in range(4)]
    for job in abandoned:
        job.step()  # submitted, then never polled
    assert all(not job.done() for job in abandoned)
    same = tc.speak("Left half done.", actor_id=actor)  # not shared with a stepping job
    assert same not in abandoned and same.wait(30).duration_s > 0


def test_one_exchange_jobs_show_the_request_and_a_short_audio_summary(tc_v1, sim):
    camb = tn.Camb(
        api_key=sim.credentials["camb_api_key"], base_url=sim.urls["camb"], min_interval=0.05
    )
    jobs = {
        "/v1/text-to-speech": tc_v1.speak("Shown, not dumped.", "Noah"),
        "/tts-stream": camb.tts("Shown, not dumped.", int(camb.voices().voice_id[0])),
    }
    for path, job in jobs.items():
        job.wait(30)
        shown = tn.teach.show(job)
        text, page = repr(shown), shown._repr_html_()
        assert f"POST {job.exchanges[0].url}" in text and path in text
        assert '"text": "Shown, not dumped."' in text
        assert f"<{len(job.clip.data)} bytes audio/wav>" in text and "RIFF" not in text
        assert "&lt;" in page and "RIFF" not in page and len(page) < 5000
        assert shown.json is None  # the answer was audio, not JSON
