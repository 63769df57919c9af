"""Aspose.OCR Cloud text-to-speech end to end over real HTTP against the simulator."""

from __future__ import annotations

import concurrent.futures
import io
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
import soundfile

import tts_nb as tn
from tts_nb.job import all_jobs
from tts_nb.ledger import Ledger
from tts_nb.scheduler import Scheduler
from tts_nb.state import State

from .conftest import FAST, wait_until

TTS = "/v5.0/ocr/ConvertTextToSpeech"
TRIAL = "/v5.0/ocr/ConvertTextToSpeechTrial"


def make_client(sim, **kwargs) -> tn.Aspose:
    options = dict(
        client_id=sim.credentials["aspose_client_id"],
        client_secret=sim.credentials["aspose_client_secret"],
        base_url=sim.urls["aspose"],
        policy=FAST,
        min_interval=0.05,
    )
    options.update(kwargs)
    return tn.Aspose(**options)


@pytest.fixture
def aspose(sim):
    return make_client(sim)


@pytest.fixture
def stub_server():
    """Start fake Aspose servers on 127.0.0.1: `route(method, path, body)` returns (status,
    JSON-able answer or plain text)."""
    servers = []

    def start(route) -> str:
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, answer = route(self.command, self.path.split("?")[0], body)
                text = answer if isinstance(answer, str) else json.dumps(answer)
                kind = "text/plain" if isinstance(answer, str) else "application/json"
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(text.encode())))
                self.end_headers()
                self.wfile.write(text.encode())

            do_GET = do_POST = do_DELETE = _serve

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def token_requests(sim):
    return sim.log.find(origin="aspose", method="POST", path="/connect/token")


def submits(sim, path=TTS):
    return [r for r in sim.log.find(origin="aspose", method="POST") if r.path == path]


def test_text_becomes_real_english_speech(aspose, sim):
    short = aspose.text_to_speech("Hello there.").wait(30)
    long = aspose.text_to_speech(
        "Hello there. This sentence is quite a bit longer, so reading it aloud takes longer."
    ).wait(30)
    for clip in (short, long):
        assert clip.format == "wav" and clip.data[:4] == b"RIFF"
        samples, rate = soundfile.read(io.BytesIO(clip.data))
        assert rate == clip.sample_rate and len(samples) / rate == pytest.approx(clip.duration_s)
        assert clip.rms_dbfs > -40  # speech, not silence
        assert clip.voice == "aspose:English" and clip.meta["task_id"].startswith("TTS")
    assert long.duration_s > 2 * short.duration_s
    assert short.text == "Hello there."


def test_history_shows_token_submit_and_every_status(aspose, sim):
    job = aspose.text_to_speech("Take a moment. [[sim:slow]]")
    job.wait(30)
    history = job.history
    assert list(history.step[:2]) == ["token", "submit"] and history.step.iloc[-1] == "poll"
    assert history.http_status.tolist() == [200] * len(history)
    polls = history[history.step == "poll"]
    assert len(polls) == job.polls >= 3
    assert polls.raw_status.tolist()[0] == "Pending"
    assert "Processing" in set(polls.raw_status)
    assert polls.raw_status.iloc[-1] == "Completed" and history.state.iloc[-1] == "SUCCEEDED"
    assert len(history) == len(sim.log.find(origin="aspose"))
    assert job.request == {"text": "Take a moment. [[sim:slow]]", "voice": "English",
                           "language": "English", "trial": False}  # fmt: skip


def test_error_status_is_job_failed_with_the_services_messages(aspose):
    job = aspose.text_to_speech("This one breaks. [[sim:fail]]")
    with pytest.raises(tn.JobFailed, match="the speech engine stopped on this text") as info:
        job.wait(30)
    assert info.value.raw_status == "Error" and job.state is State.FAILED
    assert "send it again" in str(info.value)


def test_not_exist_on_first_look_is_not_found_with_advice(aspose):
    job = aspose.text_to_speech("Gone already. [[sim:not-exist]]")
    with pytest.raises(tn.NotFound, match="Check the id, or send the text again"):
        job.wait(30)
    assert job.state is State.NOT_FOUND and job.raw_status == "NotExist"


def test_a_result_deleted_after_24_hours_is_expired(sim):
    client = make_client(sim, policy=tn.Fixed(0.2, timeout=30))
    job = client.text_to_speech("Too late. [[sim:slow]]")
    wait_until(
        lambda: job.polls >= 1 and job.raw_status in ("Pending", "Processing"),
        "no poll saw the task pending or processing",
    )
    sim.advance(25 * 3600)  # results are kept 24 hours
    with pytest.raises(tn.ExpiredResult, match="deleted 24 hours after the text was sent"):
        job.wait(30)
    assert (
        "results are deleted 24 hours after the text was sent. Send the text again with the "
        "same parameters (it is a new, charged request)." in job.history.note.dropna().iloc[-1]
    )
    assert job.state is State.EXPIRED and job.raw_status == "NotExist"


def test_unknown_status_is_tolerated_until_the_deadline(sim):
    client = make_client(sim, policy=tn.Fixed(0.05, timeout=0.5))
    job = client.text_to_speech("Hmm. [[sim:unknown-status]]")
    with pytest.raises(tn.JobTimeout):
        job.wait(30)
    assert job.state is State.TIMED_OUT and job.raw_status == "Suspended" and job.polls >= 3
    assert job.history.note.str.contains("unknown Aspose taskStatus 'Suspended'").any()


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        ("garbled", "not valid base64"),
        ("empty-audio", "sent no audio|empty"),
        ("not-audio", "not audio"),
    ],
)
def test_unusable_audio_is_bad_audio(aspose, marker, message):
    job = aspose.text_to_speech(f"Broken audio. [[sim:{marker}]]")
    with pytest.raises(tn.BadAudio, match=message) as info:
        job.wait(30)
    assert info.value.provider == "aspose"
    assert job.state is State.FAILED and job.raw_status == "Completed"


def test_one_token_serves_many_concurrent_jobs(aspose, sim):
    jobs = [aspose.text_to_speech(f"Number {i}.") for i in range(8)]
    done, _ = concurrent.futures.wait(jobs, timeout=60)
    assert len(done) == 8 and all(job.state is State.SUCCEEDED for job in jobs)
    more = [aspose.text_to_speech(f"Later {i}.") for i in range(3)]
    assert all(job.wait(30).duration_s > 0 for job in more)
    assert len(token_requests(sim)) == 1
    assert len(submits(sim)) == 11  # one POST per job
    assert len({job.provider_ids["task_id"] for job in jobs + more}) == 11
    api = [r for r in sim.log.find(origin="aspose") if r.path != "/connect/token"]
    assert all(r.headers["authorization"].startswith("Bearer eyJ") for r in api)


def test_an_expired_token_is_renewed_once_and_the_submit_resent(aspose, sim):
    aspose.text_to_speech("Before.").wait(30)
    sim.advance(3700)  # the token lives 3600 s
    job = aspose.text_to_speech("After an hour.")
    assert job.wait(30).duration_s > 0
    assert len(token_requests(sim)) == 2
    assert [r.status for r in submits(sim)] == [200, 401, 200]  # the 401 created no task
    steps = list(zip(job.history.step, job.history.http_status))
    assert steps[:3] == [("submit", 401), ("token", 200), ("submit", 200)]


def test_a_token_refused_during_polling_is_renewed(sim):
    client = make_client(sim, policy=tn.Fixed(0.1, timeout=30))
    job = client.text_to_speech("Keep going. [[sim:slow]]")
    wait_until(lambda: job.polls >= 1, "the job was never polled")
    sim.aspose.revoke_tokens()
    assert job.wait(30).duration_s > 0
    rows = list(zip(job.history.step, job.history.http_status))
    at = rows.index(("poll", 401))
    assert rows[at + 1 : at + 3] == [("token", 200), ("poll", 200)]
    assert len(token_requests(sim)) == 2


def test_a_token_is_renewed_shortly_before_it_expires(sim):
    """On the client's own (virtual) clock: a 3600 s token is renewed a minute before it
    expires; a short-lived one (2 s) is kept half its life."""
    clock = tn.VirtualClock()
    client = make_client(sim, scheduler=Scheduler(clock))
    first = client.tokens.get(None)
    clock.advance(3600 - 60 - 0.5)
    assert client.tokens.get(None) == first
    clock.advance(1.0)
    second = client.tokens.get(None)
    assert second != first
    sim.aspose.token_ttl_s = 2
    client.tokens.invalidate(second)
    third = client.tokens.get(None)
    clock.advance(0.9)
    assert client.tokens.get(None) == third
    clock.advance(0.2)
    assert client.tokens.get(None) not in (first, second, third)
    assert [r.status for r in token_requests(sim)] == [200, 200, 200, 200]


def test_a_rejected_secret_is_never_retried(sim):
    client = make_client(sim, client_secret="wrong-secret-123")
    jobs = [client.text_to_speech(f"Hi {i}.") for i in range(4)]
    errors = []
    for job in jobs:
        with pytest.raises(tn.AuthError) as info:
            job.wait(10)
        errors.append(info.value)
        assert job.state is State.FAILED
    assert len(token_requests(sim)) == 1  # four jobs, one failed login
    assert submits(sim) == []
    message = str(errors[0])
    assert "invalid_client" in message and "does not retry a rejected secret" in message
    assert "5 failed token requests" in message and "ASPOSE_CLIENT_SECRET" in message
    assert sum("Not sent again" in str(e) for e in errors) == 3
    assert all("wrong-secret-123" not in str(e) for e in errors)


def test_a_locked_out_pair_gets_an_auth_error_that_says_so(sim):
    cid, url = sim.credentials["aspose_client_id"], sim.urls["aspose"]
    form = {"grant_type": "client_credentials", "client_id": cid, "client_secret": "typo"}
    answers = [requests.post(f"{url}/connect/token", data=form).status_code for _ in range(6)]
    assert answers == [400] * 5 + [429]  # what other programs' retry loops cause
    client = make_client(sim, client_secret="typo")
    job = client.text_to_speech("Locked.")
    with pytest.raises(tn.AuthError, match="locked this client id and secret out") as info:
        job.wait(10)
    assert info.value.status_code == 429 and 580 < info.value.retry_after <= 600
    assert "Wait that long without retrying" in str(info.value)
    assert len(token_requests(sim)) == 7
    clip = make_client(sim).text_to_speech("The right pair still works.").wait(30)
    assert clip.format == "wav" and clip.data[:4] == b"RIFF" and clip.duration_s > 0.5


def test_trial_mode_sends_no_credentials_and_reads_a_notice(sim):
    trial = tn.Aspose(base_url=sim.urls["aspose"], trial=True, policy=FAST, min_interval=0.05)
    assert repr(trial).endswith("trial>")
    clip = trial.text_to_speech("Hello there.").wait(30)
    normal = make_client(sim).text_to_speech("Hello there.").wait(30)
    assert clip.duration_s > normal.duration_s + 1.5  # "Please authenticate to the API…"
    assert clip.meta["trial"] and "Evaluation mode" in clip.meta["warnings"][0]
    trial_requests = [r for r in sim.log.find(origin="aspose") if r.path == TRIAL]
    assert {r.method for r in trial_requests} == {"POST", "GET"}
    assert all("authorization" not in r.headers for r in trial_requests)
    assert len(token_requests(sim)) == 1  # only the normal client's


def test_trial_limits_are_clear_errors(sim):
    trial = tn.Aspose(base_url=sim.urls["aspose"], trial=True, policy=FAST, min_interval=0.05)
    with pytest.raises(tn.InvalidInput) as info:
        trial.text_to_speech("x" * 501)
    assert str(info.value) == (
        "The text has 501 characters, but Aspose's trial accepts at most 500: shorten it, "
        "split it into several requests, or use an account (client_id/client_secret) instead "
        "of trial=True."
    )
    assert info.value.provider == "aspose"
    assert submits(sim, TRIAL) == []
    body = {"text": "Spent.", "settings": {"language": "English", "resultType": "Wav"}}
    for _ in range(10):  # today's allowance, spent elsewhere from the same address
        assert requests.post(sim.urls["aspose"] + TRIAL, json=body).status_code == 200
    job = trial.text_to_speech("One too many.")
    with pytest.raises(tn.QuotaError, match="10 requests a day from one IP address") as info:
        job.wait(10)
    assert info.value.status_code == 429 and "client_id=" in str(info.value)
    assert len(submits(sim, TRIAL)) == 11  # not sent again: the allowance renews tomorrow
    sim.advance(24 * 3600)
    assert trial.text_to_speech("A new day.").wait(30).duration_s > 0


@pytest.mark.parametrize("quoted", [False, True])
def test_task_ids_are_read_with_or_without_quotes(sim, quoted):
    sim.aspose.quote_ids = quoted
    client = make_client(sim)
    job = client.text_to_speech("Quotes or not.")
    assert job.wait(30).duration_s > 0
    submit = job.exchanges[1]
    assert submit.response_body.startswith('"') == quoted
    task_id = job.provider_ids["task_id"]
    assert task_id.startswith("TTS") and '"' not in task_id
    assert sim.log.find(method="GET", path=TTS)[0].query["id"] == [task_id]


def test_submit_is_sent_once_even_when_it_fails(aspose, sim):
    sim.faults.script(500, origin="aspose", method="POST", path=TTS)
    with pytest.raises(tn.ProviderError, match="500"):
        aspose.text_to_speech("Once only.").wait(10)
    sim.faults.script("lost_answer", origin="aspose", method="POST", path=TTS)
    with pytest.raises(tn.ProviderError, match="did NOT send it again"):
        aspose.text_to_speech("Lost in transit.").wait(10)
    assert len(submits(sim)) == 2


def test_a_token_endpoint_outage_is_retried_once_then_fails_without_a_submit(aspose, sim):
    sim.faults.script(503, origin="aspose", path="/connect/token")
    assert aspose.text_to_speech("One hiccup.").wait(30).duration_s > 0
    assert [r.status for r in token_requests(sim)] == [503, 200]
    aspose.tokens.invalidate(aspose.tokens.get(None))
    sim.faults.script(503, "reset", origin="aspose", path="/connect/token")
    with pytest.raises(tn.ProviderError, match="so no speech was requested") as info:
        aspose.text_to_speech("No token.").wait(10)
    assert not info.value.maybe_sent and len(submits(sim)) == 1
    assert [r.status for r in token_requests(sim)] == [503, 200, 503, None]


def test_invalid_input_is_rejected_before_any_request(aspose, sim):
    with pytest.raises(tn.InvalidInput, match='reads aloud only English texts. Use language="'):
        aspose.text_to_speech("Bonjour.", language="French")
    with pytest.raises(tn.InvalidInput) as empty:
        aspose.text_to_speech("  ")
    assert (str(empty.value), empty.value.provider) == (
        "text is empty: give the sentence to speak.",
        "aspose",
    )
    assert sim.log.find(origin="aspose") == []
    with pytest.raises(tn.InvalidInput) as info:
        aspose.text_to_speech("Hallo.", language="de")
    assert str(info.value) == (
        "language='de' is not supported: Aspose.OCR Cloud reads aloud only English texts. "
        'Use language="English" (or another provider for other languages).'
    )
    assert info.value.provider == "aspose"
    assert sim.log.find(origin="aspose") == []
    clip = aspose.text_to_speech("Lower case works.", language="english").wait(30)
    assert clip.format == "wav" and clip.voice == "aspose:English" and clip.duration_s > 0.5
    assert aspose.text_to_speech("The short code.", language=" EN ").wait(30).duration_s > 0.5


def test_half_the_credentials_is_an_error_that_names_the_missing_one(sim):
    with pytest.raises(tn.InvalidInput, match="ASPOSE_CLIENT_SECRET is missing"):
        tn.Aspose(client_id="abc", base_url=sim.urls["aspose"])


def test_without_credentials_the_shared_simulator_is_used():
    from tts_nb.simulator import shared

    client = tn.Aspose()
    assert client.simulated and client.base_url == shared().urls["aspose"]
    assert repr(client) == "<Aspose simulator>"


def test_secret_and_tokens_never_appear_in_reprs_histories_or_errors(sim):
    secret = sim.credentials["aspose_client_secret"]
    client = make_client(sim)
    ok = client.text_to_speech("Secret keeping.")
    ok.wait(30)
    token = client.tokens.issued()[0]
    failed = client.text_to_speech(f"My secret is {secret} and {token} [[sim:fail]]")
    with pytest.raises(tn.JobFailed) as info:
        failed.wait(30)
    bad = make_client(sim, client_secret=secret[::-1])
    with pytest.raises(tn.AuthError) as refused:
        bad.text_to_speech("Nope.").wait(10)
    texts = [
        repr(client),
        repr(ok),
        repr(ok.wait(0)),
        str(info.value),
        str(refused.value),
        ok.status_line(),
        ok.history.to_string(),
        failed.history.to_csv(),
        repr(failed.request),
        tn.history().to_csv(),
        tn.jobs().to_csv(),
        repr(client.transport.__dict__),
        repr(client.__dict__),
    ]
    texts += [repr(e) for e in ok.exchanges + failed.exchanges]
    assert all(secret not in text and token not in text for text in texts)
    assert all(secret[::-1] not in text for text in texts)
    assert '"access_token": "••••"' in ok.exchanges[0].response_body
    assert "client_secret=••••" in ok.exchanges[0].request_body
    assert "Bearer ••••" in repr(ok.exchanges[1].request_headers)


def test_simulator_speaks_the_documented_shapes(sim):
    url, cid = sim.urls["aspose"], sim.credentials["aspose_client_id"]
    form = {
        "grant_type": "client_credentials",
        "client_id": cid,
        "client_secret": sim.credentials["aspose_client_secret"],
    }
    token = requests.post(f"{url}/connect/token", data=form).json()
    assert token["expires_in"] == 3600 and token["token_type"] == "Bearer"
    auth = {"Authorization": f"Bearer {token['access_token']}"}
    missing = requests.get(f"{url}{TTS}", params={"id": "x"})
    assert missing.status_code == 401
    assert set(missing.json()) == {"type", "title", "status", "detail", "instance"}
    french = {"text": "Bonjour", "settings": {"language": "French", "resultType": "Wav"}}
    rejected = requests.post(f"{url}{TTS}", json=french, headers=auth)
    assert rejected.status_code == 400 and "Settings.Language" in rejected.json()["errors"]
    body = {"text": "Lower case path.", "settings": {"language": "English", "resultType": "Wav"}}
    plain = requests.post(
        f"{url}{TTS.lower()}", json=body, headers={**auth, "Accept": "text/plain"}
    )
    assert plain.text.startswith("TTS") and plain.headers["Content-Type"].startswith("text/plain")
    quoted = requests.post(f"{url}{TTS}", json=body, headers={**auth, "Accept": "application/json"})
    assert quoted.json().startswith("TTS")
    sim.advance(60)
    done = requests.get(f"{url}{TTS}", params={"id": plain.text}, headers=auth).json()
    assert done["taskStatus"] == "Completed" and done["responseStatusCode"] == "Ok"
    assert done["results"][0]["type"] == "WavFile" and done["error"] is None
    assert requests.delete(f"{url}{TTS}", params={"id": plain.text}, headers=auth).ok
    gone = requests.get(f"{url}{TTS}", params={"id": plain.text}, headers=auth).json()
    assert gone["taskStatus"] == "NotExist"


def test_recorded_jobs_are_rebuilt_for_their_own_endpoints(aspose, sim):
    body = {"text": "Again.", "settings": {"language": "English", "resultType": "Wav"}}
    job = aspose.text_to_speech("Again.")
    job.wait(30)
    account = aspose._rebuild_operation(job.kind, body, job.request)
    trial = aspose._rebuild_operation("trial_text_to_speech", body, job.request)
    assert (account.path, trial.path) == (TTS, TRIAL) and trial.kind != job.kind
    with pytest.raises(tn.InvalidInput, match="cannot resume a 'speak' job"):
        aspose._rebuild_operation("speak", body, job.request)


def deletes(sim, path=TTS):
    return [r for r in sim.log.find(origin="aspose", method="DELETE") if r.path == path]


def test_cancel_deletes_the_task_and_records_the_answer(sim):
    client = make_client(sim, policy=tn.Fixed(0.1, timeout=30))
    job = client.text_to_speech("Never mind. [[sim:slow]]")
    # a poll answered (not only started), so no poll is in flight when the cancel comes
    wait_until(lambda: "poll" in job.history.step.tolist(), "the job was never polled")
    task_id = job.provider_ids["task_id"]
    assert job.cancel() and job.state is State.CANCELLED
    wait_until(  # sent on a worker
        lambda: "cancel" in job.history.step.tolist(), "the cancel request was never sent"
    )
    (delete,) = deletes(sim)
    assert delete.query["id"] == [task_id] and delete.status == 200
    row = job.history_full[job.history_full.step == "cancel"].iloc[-1]
    assert row.method == "DELETE" and row.http_status == 200
    wait_until(
        lambda: job.history.note.astype(str).str.contains(f"Aspose deleted task {task_id}").any(),
        "the history never said the task was deleted",
    )
    assert task_id not in sim.aspose._tasks  # the text does not stay on Aspose for 24 h
    assert not job.cancel() and len(deletes(sim)) == 1


def test_cancel_of_a_step_by_step_job_deletes_in_the_cell(sim):
    job = tn.teach.steps(make_client(sim)).text_to_speech("One step at a time.")
    job.step()  # token and submit
    job.cancel()
    assert [r.query["id"] for r in deletes(sim)] == [[job.provider_ids["task_id"]]]
    assert job.history.step.tolist()[-1] == "cancel"


def test_a_cancel_during_a_slow_submit_keeps_the_charged_result(sim):
    client = make_client(sim)
    sim.aspose.hold_answers = threading.Event()  # the task is created, its id held back
    job = client.text_to_speech("Cancelled on the wire.")
    wait_until(lambda: len(submits(sim)) == 1, "the slow submit never reached the server")
    assert job.cancel() and not job.provider_ids
    assert "cancelled while the submit was on the wire" in job.history.note.iloc[-1]
    sim.aspose.hold_answers.set()
    wait_until(
        lambda: "accepted after the cancel" in str(job.history.note.iloc[-1]),
        "the history never said the submit was accepted after the cancel",
    )
    task_id = job.provider_ids["task_id"]
    record = Ledger(os.environ["TTS_NB_LEDGER"]).get(job.id)
    assert record["state"] == "CANCELLED" and record["provider_ids"] == {"task_id": task_id}
    assert deletes(sim) == []  # no id at cancel time, and the late one is kept, not deleted
    (resumed,) = tn.resume(job.id, client=client)
    clip = resumed.wait(30)
    assert clip.meta["task_id"] == task_id and clip.duration_s > 0
    assert [j for j in all_jobs() if j.id == job.id] == [resumed]  # one job per id
    assert len(submits(sim)) == 1  # fetched, not sent again


def test_the_token_rejection_never_shows_the_refused_credentials(stub_server):
    secret = "cs-LIVE-secret-0123456789"

    def route(method, path, body):
        said = f"client_secret {secret} is not valid"
        return 400, {"error": "invalid_client", "error_description": said}

    client = tn.Aspose(client_id="cid-live-42", client_secret=secret, base_url=stub_server(route))
    with pytest.raises(tn.AuthError, match="invalid_client") as info:
        client.tokens.get(None)  # outside any job: the provider's own message must be clean
    assert secret not in str(info.value) and secret not in repr(info.value)
    assert "client_secret •••• is not valid" in str(info.value)


def test_teach_request_for_a_token_never_prints_it(sim):
    client = make_client(sim)
    form = {
        "grant_type": "client_credentials",
        "client_id": sim.credentials["aspose_client_id"],
        "client_secret": sim.credentials["aspose_client_secret"],
    }
    shown = tn.teach.request(client, "POST", "/connect/token", form=form, authed=False)
    (token,) = sim.aspose._tokens  # the live token the simulator just issued
    views = [repr(shown), shown._repr_html_(), *shown.curls(), *shown.http(), repr(shown[0])]
    assert all(token not in view for view in views)
    assert shown.json["access_token"] == "••••" and shown[0].status == 200


def test_a_status_or_message_echoing_the_token_is_masked_everywhere(stub_server):
    """A provider that echoes the client secret and the live token in its statuses and
    messages: neither reaches the error, the history, the raw status, the ledger or views."""
    secret, token = "cs-LIVE-secret-9876543210", "eyJ-live-token-ABCDEFGHIJ"
    polls = []

    def route(method, path, body):
        if path == "/connect/token":
            return 200, {"access_token": token, "expires_in": 3600}
        if method == "POST":
            return 200, "TTS00001-aaaa-bbbb"
        polls.append(path)
        if len(polls) == 1:
            return 200, {"taskStatus": f"Queued-for-{token}", "responseStatusCode": secret}
        messages = [f"token {token} and secret {secret} rejected"]
        return 200, {"taskStatus": "Error", "responseStatusCode": "Error",
                     "error": {"messages": messages}}  # fmt: skip

    client = tn.Aspose(
        client_id="cid-live-42",
        client_secret=secret,
        base_url=stub_server(route),
        policy=FAST,
        min_interval=0.05,
    )
    job = client.text_to_speech("Echo my secrets.")
    with pytest.raises(tn.JobFailed) as info:
        job.wait(30)
    ledger_bytes = b"".join(
        path.read_bytes() for path in Path(os.environ["TTS_NB_LEDGER"]).rglob("*") if path.is_file()
    )
    shown = tn.teach.show(job)
    texts = [
        str(info.value),
        repr(info.value),
        str(info.value.raw_status),
        str(job.raw_status),
        job.history.to_string(),
        job.status_line(),
        tn.jobs().to_csv(),
        tn.history().to_csv(),
        repr(shown),
        shown._repr_html_(),
        *shown.curls(),
        ledger_bytes.decode("utf-8", "replace"),
    ]
    for value in (secret, token):
        assert [text for text in texts if value in text] == []
    assert "unknown Aspose taskStatus 'Queued-for-••••'" in job.history.to_string()
    assert "token •••• and secret •••• rejected" in str(info.value)


# ------------------------------------------- every refusal, in Aspose's words plus the fix
def test_a_client_without_any_credentials_says_how_to_give_them(sim):
    client = tn.Aspose(base_url=sim.urls["aspose"], policy=FAST, min_interval=0.05)
    job = client.text_to_speech("Nobody logged in.")
    with pytest.raises(tn.AuthError) as info:
        job.wait(10)
    assert str(info.value) == (
        "No Aspose credentials: pass client_id= and client_secret=, set "
        "ASPOSE_CLIENT_ID and ASPOSE_CLIENT_SECRET, or use trial=True."
    )
    assert info.value.provider == "aspose" and job.state is State.FAILED
    assert sim.log.find(origin="aspose") == []


def _token_then(api_status, api_answer, seen):
    """A route: /connect/token issues a token; the speech endpoint answers as given."""

    def route(method, path, body):
        seen.append((method, path))
        if path == "/connect/token":
            return 200, {"access_token": "tok-a", "expires_in": 3600, "token_type": "Bearer"}
        return api_status, api_answer

    return route


def _always(status, answer, seen):
    """A route: every request, /connect/token too, gets this answer."""

    def route(method, path, body):
        seen.append((method, path))
        return status, answer

    return route


def test_a_token_request_answered_401_is_a_rejection_that_is_not_sent_again(stub_server):
    seen = []
    url = stub_server(_always(401, {"error": "invalid_client"}, seen))
    client = tn.Aspose(client_id="cid-1", client_secret="cs-1", base_url=url)
    with pytest.raises(tn.AuthError) as info:
        client.tokens.get(None)
    assert str(info.value).startswith(
        "Aspose rejected the client id and secret at /connect/token (401: invalid_client). "
        "tts_nb does not retry a rejected secret"
    )
    assert info.value.status_code == 401 and info.value.provider == "aspose"
    with pytest.raises(tn.AuthError, match=r"Not sent again: this client already got that"):
        client.tokens.get(None)
    assert seen == [("POST", "/connect/token")]


def test_a_token_lockout_is_not_asked_again_and_says_how_long_is_left(stub_server):
    seen = []
    url = stub_server(_always(429, {"error": "too many failed requests"}, seen))
    client = tn.Aspose(client_id="cid-1", client_secret="cs-1", base_url=url)
    with pytest.raises(tn.AuthError) as first:
        client.tokens.get(None)
    assert str(first.value).startswith(
        "Aspose has locked this client id and secret out of /connect/token for 600 s (429)"
    )
    assert 590.0 < first.value.retry_after <= 600.0  # no Retry-After: ten minutes
    with pytest.raises(tn.AuthError) as again:
        client.tokens.get(None)
    assert str(again.value).endswith("(Not sent again: this client already got that answer.)")
    assert 590.0 < again.value.retry_after <= 600.0
    assert seen == [("POST", "/connect/token")]


def test_a_403_problem_details_answer_says_the_plan_may_not_allow_the_api(stub_server):
    seen = []
    problem = {"title": "Forbidden", "detail": "Application has no OCR access", "status": 403}
    url = stub_server(_token_then(403, problem, seen))
    client = tn.Aspose(client_id="cid-1", client_secret="cs-1", base_url=url, policy=FAST)
    job = client.text_to_speech("Not on this plan.")
    with pytest.raises(tn.AuthError) as info:
        job.wait(10)
    assert str(info.value).endswith(
        ": Forbidden — Application has no OCR access These credentials may not use this "
        "API: check the application's plan in the Aspose Cloud dashboard."
    )
    assert info.value.status_code == 403
    assert seen == [("POST", "/connect/token"), ("POST", TTS)]  # a 403 renews no token


def test_a_401_after_a_fresh_token_keeps_aspose_words_and_says_tts_nb_gave_up(stub_server):
    seen = []
    problem = {"title": "Unauthorized", "errors": {"token": ["expired", "revoked"]}}
    url = stub_server(_token_then(401, problem, seen))
    client = tn.Aspose(client_id="cid-1", client_secret="cs-1", base_url=url, policy=FAST)
    job = client.text_to_speech("Refused twice.")
    with pytest.raises(tn.AuthError) as info:
        job.wait(10)
    assert str(info.value).endswith(
        ": Unauthorized — token: expired revoked The access token was not accepted; tts_nb "
        "fetches a new one once and then gives up. Check ASPOSE_CLIENT_ID and "
        "ASPOSE_CLIENT_SECRET (Aspose Cloud dashboard → Applications), then create a new "
        "tn.Aspose client."
    )
    assert seen == [("POST", "/connect/token"), ("POST", TTS)] * 2  # renewed once, then no more


def _one_task(poll_answer):
    """A route: /connect/token issues a token, the submit a task id, every poll `poll_answer`."""

    def route(method, path, body):
        if path == "/connect/token":
            return 200, {"access_token": "tok-a", "expires_in": 3600, "token_type": "Bearer"}
        if method == "POST":
            return 200, "TTS-0001-stub"
        return 200, poll_answer

    return route


def test_an_error_status_without_messages_says_so(stub_server):
    route = _one_task({"taskStatus": "Error", "responseStatusCode": "Error", "results": []})
    client = tn.Aspose(client_id="c", client_secret="s", base_url=stub_server(route), policy=FAST)
    job = client.text_to_speech("No details.")
    with pytest.raises(tn.JobFailed) as info:
        job.wait(10)
    assert job.history.note.dropna().iloc[-1] == (
        "Aspose could not convert the text (Error): no details given. Check the text "
        "(plain English) and send it again."
    )
    assert info.value.raw_status == "Error"


@pytest.mark.parametrize("answer", ["<html>Service Unavailable</html>", '"x y"', ""])
def test_a_submit_answer_that_is_no_task_id_is_a_provider_error(stub_server, answer):
    polls = []

    def route(method, path, body):
        if path == "/connect/token":
            return 200, {"access_token": "tok-a", "expires_in": 3600}
        if method == "GET":
            polls.append(path)
        return 200, answer

    client = tn.Aspose(client_id="c", client_secret="s", base_url=stub_server(route), policy=FAST)
    job = client.text_to_speech("Which task?")
    with pytest.raises(tn.ProviderError) as info:
        job.wait(10)
    assert str(info.value).startswith(
        f"aspose: expected a task id from POST {TTS}, got {answer!r}. The submit request may "
        "have reached aspose"
    )
    assert info.value.maybe_sent and polls == [] and job.state is State.FAILED


@pytest.mark.parametrize(
    "answer, keys",
    [({"token_type": "Bearer", "expires_in": 3600}, "['expires_in', 'token_type']"), ([1], "[1]")],
)
def test_a_token_answer_without_an_access_token_is_a_provider_error(stub_server, answer, keys):
    client = tn.Aspose(
        client_id="c", client_secret="s", base_url=stub_server(lambda *_: (200, answer))
    )
    with pytest.raises(tn.ProviderError) as info:
        client.tokens.get(None)
    assert str(info.value) == f"Aspose's token answer has no access_token (keys: {keys})."
    assert info.value.provider == "aspose"


def test_an_identical_request_is_reused_unless_forced(aspose, sim):
    first = aspose.text_to_speech("Only once, please.")
    again = aspose.text_to_speech("Only once, please.")
    assert first.wait(30).data == again.wait(30).data

    def submits() -> int:
        posts = [e for e in sim.log.find(origin="aspose") if e.method == "POST"]
        return sum("token" not in e.path for e in posts)

    assert submits() == 1
    forced = aspose.text_to_speech("Only once, please.", force=True)
    assert forced.wait(30).duration_s > 0.5
    assert submits() == 2


def test_a_completed_task_without_audio_in_its_results_is_bad_audio(stub_server):
    route = _one_task({"taskStatus": "Completed", "results": [], "responseStatusCode": "Ok"})
    client = tn.Aspose(client_id="c", client_secret="s", base_url=stub_server(route), policy=FAST)
    with pytest.raises(tn.BadAudio) as info:
        client.text_to_speech("No audio comes back.").wait(10)
    assert str(info.value) == (
        "Aspose reported the task Completed (Ok) but sent no audio in results. Send the text "
        "again; report it to Aspose if it repeats."
    )
    assert info.value.provider == "aspose"
