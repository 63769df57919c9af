"""CAMB.AI's /tts-stream over real HTTP against the simulator, and how tolerantly status
answers are read (a tiny fake CAMB on 127.0.0.1 says what the simulator never does)."""

from __future__ import annotations

import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
import soundfile

import tts_nb as tn
from tts_nb.simulator import Simulator, speech
from tts_nb.state import State

FAST = tn.Fixed(0.05, timeout=30)


@pytest.fixture(scope="module")
def _module_sim():
    with Simulator(speed=1000, seed=13) as simulator:
        yield simulator


@pytest.fixture
def sim(_module_sim):
    camb = _module_sim.camb
    camb.credits, camb.denied = None, set()
    _module_sim.faults.retry_after_s = 0.1  # a 429's Retry-After: short, the path is the same
    camb.used_credits.clear()
    _module_sim.log.clear()
    return _module_sim


@pytest.fixture
def camb(sim):
    return tn.Camb(
        api_key=sim.credentials["camb_api_key"],
        base_url=sim.urls["camb"],
        policy=FAST,
        min_interval=0.05,
    )


def streams(sim):
    return sim.log.find(origin="camb", method="POST", path="/apis/tts-stream")


# ------------------------------------------------------------------------ happy path
def test_streaming_tts_gives_wav_speech_at_submit_and_notes_the_credits(camb, sim):
    job = camb.tts("Hello from the stream.", voice_id=147320)
    clip = job.wait(30)
    assert clip.format == "wav" and clip.data[:4] == b"RIFF"
    samples, rate = soundfile.read(io.BytesIO(clip.data))
    assert rate == clip.sample_rate and len(samples) / rate > 0.5 and clip.rms_dbfs > -40
    assert clip.meta["credits_required"] == len("Hello from the stream.")
    assert clip.meta["language"] == "en-us" and clip.voice == "camb:Ava"
    history = job.history
    assert history.step.tolist() == ["submit"] and history.http_status.tolist() == [200]
    assert history.note.iloc[0] == "X-Credits-Required: 22"
    assert job.state is State.SUCCEEDED and job.polls == 0
    (post,) = streams(sim)
    sent = job.exchanges[0].request_body
    assert json.loads(sent) == {
        "text": "Hello from the stream.",
        "language": "en-us",
        "voice_id": 147320,
        "output_configuration": {"format": "wav"},
    }
    assert sim.camb.used_credits == {sim.credentials["camb_api_key"]: 22}


def test_an_identical_stream_request_is_reused_not_charged_twice(camb, sim):
    first = camb.tts("Only once, please.", voice_id=147320).wait(30)
    again = camb.tts("Only once, please.", voice_id=147320, language=1)
    assert again.wait(30).data == first.data and again.reused_from
    assert len(streams(sim)) == 1


@pytest.mark.parametrize(
    "given, locale",
    [(1, "en-us"), ("English", "en-us"), ("en_US", "en-us"), ("French (France)", "fr-fr"),
     ("fr", "fr-fr"), ("en-uk", "en-uk"), ("111", "pt-br")],
)  # fmt: skip
def test_languages_resolve_to_the_locale_the_endpoint_wants(camb, sim, given, locale):
    job = camb.tts("Bonjour tout le monde.", voice_id=147376, language=given)
    assert job.request["language"] == locale
    assert job.wait(30).rms_dbfs > -40


def test_speech_model_and_format_are_checked_and_sent(camb, sim):
    clip = camb.tts("Flac please.", 147320, speech_model="mars-pro", output_format="FLAC").wait(30)
    assert clip.format == "flac" and clip.meta["speech_model"] == "mars-pro"
    with pytest.raises(tn.InvalidInput, match="speech_model='mars-9'.*mars-flash, mars-pro"):
        camb.tts("Hello there.", 147320, speech_model="mars-9")
    with pytest.raises(tn.InvalidInput, match="output_format='pcm_s16le'.*wav, flac, mp3"):
        camb.tts("Hello there.", 147320, output_format="pcm_s16le")
    with pytest.raises(tn.InvalidInput, match="gender, age belong.*stream=False"):
        camb.tts("Hello there.", 147320, gender="male", age=30)
    with pytest.raises(tn.InvalidInput, match="speech_model belong.*drop stream=False"):
        camb.tts("Hello there.", 147320, language=1, speech_model="mars-pro", stream=False)
    assert len(streams(sim)) == 1


@pytest.mark.parametrize("text, size", [("Hi", 2), ("x" * 3001, 3001), ("  ab \n", 2)])
def test_text_outside_3_to_3000_characters_is_refused_before_sending(camb, sim, text, size):
    with pytest.raises(tn.InvalidInput, match=f"text has {size} characters.*3 to 3000"):
        camb.tts(text, voice_id=147320)
    assert not sim.log.find(origin="camb", method="POST")


def test_the_simulator_refuses_those_texts_too(sim):
    for text, kind in (("Hi", "string_too_short"), ("x" * 3001, "string_too_long")):
        answer = _post(sim, {"text": text, "language": "en-us", "voice_id": 147320})
        assert answer.status_code == 422 and answer.json()["detail"][0]["type"] == kind


# ------------------------------------------------------------------------------ errors
def test_an_unsupported_locale_is_a_422_listing_the_supported_ones(camb, sim):
    job = camb.tts("Hej allihop.", voice_id=147320, language="sv-se")
    with pytest.raises(tn.InvalidInput, match="language: Input should be 'ar-kw'") as info:
        job.wait(30)
    assert info.value.status_code == 422 and "'en-us'" in str(info.value)
    assert "'sv-se'" not in str(info.value).split("language: ")[1].split(".")[0]
    assert job.state is State.FAILED and len(streams(sim)) == 1


def test_auth_errors_401_and_403_are_auth_errors(camb, sim):
    bad = tn.Camb(api_key="wrong-key", base_url=sim.urls["camb"], policy=FAST)
    job = bad.tts("Hello there.", voice_id=147320, language="en-us")
    with pytest.raises(tn.AuthError, match="Invalid API key.*CAMB_API_KEY") as info:
        job.wait(30)
    assert info.value.status_code == 401
    sim.camb.denied = {"/tts-stream"}
    job = camb.tts("Hello there.", voice_id=147320)
    with pytest.raises(tn.AuthError, match="no permission to use /tts-stream.*plan") as info:
        job.wait(30)
    assert info.value.status_code == 403 and job.state is State.FAILED


def test_running_out_of_credits_is_payment_required(camb, sim):
    sim.camb.credits = 30
    assert camb.tts("Twenty characters!!", voice_id=147320).wait(30).rms_dbfs > -40
    job = camb.tts("Twenty more of them.", voice_id=147320)
    with pytest.raises(tn.QuotaError, match="PAYMENT_REQUIRED.*needs 20 credits.*has 11"):
        job.wait(30)
    assert job.state is State.PAYMENT_REQUIRED
    assert sim.camb.used_credits == {sim.credentials["camb_api_key"]: 19}


def test_a_429_with_retry_after_is_submitted_again_at_no_cost(camb, sim):
    sim.faults.script(429, origin="camb", method="POST", path="/apis/tts-stream")
    job = camb.tts("Come back later.", voice_id=147320)
    assert job.wait(30).rms_dbfs > -40
    assert [r.status for r in streams(sim)] == [429, 200]
    assert job.history.note.str.contains("submitting again").any()


def test_a_stream_broken_mid_body_is_unconfirmed_and_never_sent_again(camb, sim):
    job = camb.tts("This stream breaks. [[sim:broken-stream]]", voice_id=147320)
    with pytest.raises(tn.ProviderError, match="did NOT send it again") as info:
        job.wait(30)
    assert info.value.maybe_sent and job.submit_unconfirmed
    assert job.state is State.FAILED
    assert len(streams(sim)) == 1 and streams(sim)[0].status == 200  # it was served, then cut
    with pytest.raises(tn.InvalidInput, match="never arrived.*force=True"):
        camb.tts("This stream breaks. [[sim:broken-stream]]", voice_id=147320)
    assert len(streams(sim)) == 1


def test_a_body_that_is_not_audio_fails_as_bad_audio_and_unconfirmed(camb, sim):
    job = camb.tts("Broken renderer. [[sim:not-audio]]", voice_id=147320)
    with pytest.raises(tn.ProviderError, match="looks like JSON.*did NOT send it again"):
        job.wait(30)
    assert job.submit_unconfirmed and len(streams(sim)) == 1


def test_a_stream_job_cannot_be_resumed_and_says_why(camb):
    with pytest.raises(tn.InvalidInput, match="no id to look up later"):
        camb._rebuild_operation("tts-stream", {"text": "x"}, {})


def test_the_simulator_streams_every_format_soundfile_can_write(sim):
    body = {"text": "Format check.", "language": "de-de", "voice_id": 147331}
    for fmt, head in (("wav", b"RIFF"), ("flac", b"fLaC"), ("mp3", None)):
        answer = _post(sim, {**body, "output_configuration": {"format": fmt}})
        assert answer.headers["Transfer-Encoding"] == "chunked"
        assert head is None or answer.content[:4] == head
        assert tn.Clip.from_bytes(answer.content).duration_s > 0.3
    pcm = _post(
        sim, {**body, "output_configuration": {"format": "pcm_s16le", "sample_rate": 16000}}
    )
    wav = _post(sim, {**body, "output_configuration": {"format": "wav", "sample_rate": 16000}})
    samples = np.frombuffer(pcm.content, dtype="<i2")  # raw 16-bit samples, no header
    wav_clip = tn.Clip.from_bytes(wav.content)
    assert wav_clip.sample_rate == 16000
    assert len(samples) / 16000 == pytest.approx(wav_clip.duration_s, rel=0.1)
    assert np.sqrt(np.mean((samples / 32768.0) ** 2)) > 0.01  # speech, not silence
    adts = _post(sim, {**body, "output_configuration": {"format": "adts"}})
    assert adts.status_code == 501 and "cannot produce adts" in adts.json()["detail"]
    assert _post(sim, {**body, "speech_model": "mars-9"}).status_code == 422


def _post(sim, body):
    import requests

    headers = {"x-api-key": sim.credentials["camb_api_key"]}
    return requests.post(f"{sim.urls['camb']}/tts-stream", json=body, headers=headers, timeout=30)


# ---------------------------------------------- as tolerant as camb-sdk (a fake CAMB)
class FakeCamb:
    """A few scripted answers of a CAMB-like server on 127.0.0.1: ``routes`` maps
    "METHOD /path" to (status, content type, body)."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, str, bytes]] = {}
        self.received: list[tuple[str, str, bytes]] = []  # (method, path, body) as sent
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                fake.received.append((self.command, self.path, self.rfile.read(length)))
                status, kind, body = fake.routes.get(
                    f"{self.command} {self.path.split('?')[0]}", (404, "text/plain", b"nope")
                )
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def json(self, route: str, data, status: int = 200) -> None:
        self.routes[route] = (status, "application/json", json.dumps(data).encode())


@pytest.fixture
def fake():
    server = FakeCamb()
    server.json("GET /list-voices", [{"id": 7, "voice_name": "Fake"}])
    server.json("GET /source-languages", [{"id": 1, "language": "English", "short_name": "en-us"}])
    server.json("POST /tts", {"task_id": "task-1"})
    yield server
    server.server.shutdown()
    server.server.server_close()


def fake_client(fake):
    return tn.Camb(api_key="fake-key", base_url=fake.url, policy=FAST, min_interval=0.05)


def flac() -> bytes:
    return speech.encode(speech.synthesize("Tolerant.", "en-us"), "flac")


@pytest.mark.parametrize("status", ["SUCCESS", "success", "Success", "COMPLETED", "completed"])
def test_a_digit_string_run_id_and_status_case_variants_succeed(fake, status):
    fake.json("GET /tts/task-1", {"status": status, "run_id": "123"})
    fake.routes["GET /tts-result/123"] = (200, "audio/flac", flac())
    job = fake_client(fake).tts("Tolerant.", voice_id=7, language=1, stream=False)
    assert job.wait(30).format == "flac"
    assert job.provider_ids["run_id"] == 123 and job.raw_status == status


@pytest.mark.parametrize("status", ["FAILED", "failed", "Error"])
def test_failed_is_terminal_and_a_dict_message_stays_readable(fake, status):
    message = {"code": "E42", "detail": "the voice model crashed"}
    fake.json("GET /tts/task-1", {"status": status, "run_id": None, "message": message})
    job = fake_client(fake).tts("Tolerant.", voice_id=7, language=1, stream=False)
    with pytest.raises(tn.JobFailed, match=r'CAMB.AI says: \{"code": "E42", "detail": "the voice'):
        job.wait(30)
    assert job.state is State.FAILED and job.polls == 1
    assert job.history.note.iloc[-1].count("the voice model crashed") == 1


def test_an_expired_link_answered_400_by_the_storage_host_is_expired(fake):
    fake.json("POST /text-to-voice", {"task_id": "task-2"})
    fake.json("GET /text-to-voice/task-2", {"status": "SUCCESS", "run_id": 9})
    fake.json("GET /text-to-voice-result/9", {"previews": [f"{fake.url}/bucket/p1.flac"]})
    gcs = b"<Error><Code>ExpiredToken</Code><Message>The provided token has expired.</Message>"
    fake.routes["GET /bucket/p1.flac"] = (400, "application/xml", gcs)
    description = " ".join(
        ["A calm, warm and friendly narrator voice for long evening stories"] * 2
    )
    job = fake_client(fake).text_to_voice("Tolerant.", description)
    with pytest.raises(tn.ExpiredResult, match=r"\(400\)") as info:
        job.wait(30)
    assert info.value.status_code == 400 and job.state is State.EXPIRED


# ------------------------------------------- every rule of the request, and what is sent
@pytest.mark.parametrize("text", ["   ", "", None, 42])
def test_an_empty_or_missing_text_is_refused_by_name_before_sending(camb, sim, text):
    with pytest.raises(tn.InvalidInput) as info:
        camb.tts(text, voice_id=147320)
    assert str(info.value) == "text is empty: give the text to speak."
    assert info.value.provider == "camb"
    assert not sim.log.find(origin="camb", method="POST")


def test_the_clip_carries_the_text_that_was_spoken(camb):
    clip = camb.tts("  Spoken and labelled.  ", voice_id=147320).wait(30)
    assert clip.text == "Spoken and labelled."


def test_user_instructions_are_sent_and_must_be_a_string(camb, sim):
    with pytest.raises(tn.InvalidInput) as info:
        camb.tts("Hello there.", 147320, speech_model="mars-instruct", user_instructions=3)
    assert str(info.value) == "user_instructions must be a string."
    assert info.value.provider == "camb" and not streams(sim)
    job = camb.tts(
        "Hello there.", 147320, speech_model="mars-instruct", user_instructions="Say it slowly."
    )
    assert job.wait(30).meta["speech_model"] == "mars-instruct"
    assert json.loads(job.exchanges[0].request_body) == {
        "text": "Hello there.",
        "language": "en-us",
        "voice_id": 147320,
        "speech_model": "mars-instruct",
        "user_instructions": "Say it slowly.",
        "output_configuration": {"format": "wav"},
    }


def _fake_stream(fake, status=200, body=None):
    """The fake CAMB's /tts-stream: a WAV (or the given JSON error)."""
    if body is None:
        wav = speech.encode(speech.synthesize("Edge.", "en-us"), "wav")
        fake.routes["POST /tts-stream"] = (status, "audio/wav", wav)
    else:
        fake.json("POST /tts-stream", body, status)


@pytest.mark.parametrize("size", [3, 3000])
def test_texts_of_exactly_3_and_3000_characters_are_sent(fake, size):
    _fake_stream(fake)
    text = ("abcdefghij " * 300)[:size].strip()
    text = text + "x" * (size - len(text))
    assert len(text) == size
    job = fake_client(fake).tts(text, voice_id=7)
    clip = job.wait(30)
    assert clip.format == "wav" and clip.text == text
    (sent,) = [json.loads(body) for method, path, body in fake.received if path == "/tts-stream"]
    assert sent["text"] == text and sent["voice_id"] == 7


@pytest.mark.parametrize("status", [400, 403])
def test_a_refusal_naming_payment_required_is_a_quota_error_whatever_its_status(fake, status):
    said = "PAYMENT_REQUIRED: Your account has insufficient credits for this operation"
    _fake_stream(fake, status, {"detail": said})
    job = fake_client(fake).tts("Out of credits.", voice_id=7)
    with pytest.raises(tn.QuotaError) as info:
        job.wait(30)
    assert said in str(info.value) and str(info.value).endswith(
        " Add credits on your CAMB.AI account's billing page, then speak again."
    )
    assert info.value.provider == "camb" and job.state is State.PAYMENT_REQUIRED


def test_a_refusal_without_payment_required_keeps_its_own_type(fake):
    _fake_stream(fake, 403, {"detail": "Forbidden for this plan"})
    job = fake_client(fake).tts("Not allowed.", voice_id=7)
    with pytest.raises(tn.AuthError, match="Forbidden for this plan") as info:
        job.wait(30)
    assert "Add credits" not in str(info.value) and job.state is State.FAILED


@pytest.mark.parametrize(
    "option", ["gender", "age", "project_name", "project_description", "folder_id"]
)
def test_each_task_flow_option_is_refused_on_the_stream_by_name(camb, sim, option):
    value = {"gender": "male", "age": 30, "folder_id": 3}.get(option, "text")
    with pytest.raises(tn.InvalidInput) as info:
        camb.tts("Hello there.", 147320, **{option: value})
    assert str(info.value) == (
        f"{option} belong(s) to CAMB's deprecated task flow, which /tts-stream does not "
        "take: pass stream=False to use them."
    )
    assert not sim.log.find(origin="camb", method="POST")


def test_a_translation_result_of_another_shape_is_a_provider_error(fake):
    fake.json("GET /target-languages", [{"id": 76, "language": "French", "short_name": "fr-fr"}])
    fake.json("POST /translated-tts", {"task_id": "task-3"})
    fake.json("GET /translated-tts/task-3", {"status": "SUCCESS", "run_id": 5})
    fake.routes["GET /tts-result/5"] = (200, "audio/flac", flac())
    fake.json("GET /translation-result/5", {"texts": "Bonjour"})
    job = fake_client(fake).translated_tts("Hello.", 7, source_language=1, target_language=76)
    with pytest.raises(tn.ProviderError) as info:
        job.wait(30)
    assert str(info.value) == "camb: unexpected translation result 'Bonjour'."
    assert job.state is State.FAILED


def test_a_client_without_a_key_says_how_to_give_one(sim):
    keyless = tn.Camb(base_url=sim.urls["camb"], policy=FAST, min_interval=0.05)
    with pytest.raises(tn.AuthError) as info:
        keyless.tts("Hello there.", voice_id=147320).wait(30)
    assert str(info.value) == "No CAMB.AI API key: pass api_key= or set CAMB_API_KEY."
    assert info.value.provider == "camb"
    assert not sim.log.find(origin="camb")


@pytest.mark.parametrize(("status", "shown"), [(7, "7"), (None, "None"), (["DONE"], "['DONE']")])
def test_a_status_that_is_not_text_is_shown_as_sent(fake, status, shown):
    fake.json("GET /tts/task-1", {"status": status, "run_id": None})
    client = tn.Camb(api_key="fake-key", base_url=fake.url, policy=tn.Fixed(0.05, timeout=0.4))
    job = client.tts("Tolerant.", voice_id=7, language=1, stream=False)
    with pytest.raises(tn.JobTimeout):
        job.wait(30)
    assert job.raw_status == shown
    assert f"unknown CAMB.AI status {shown!r}: treated as" in job.history.note.iloc[-1]


# ----------------------------------------- every status CAMB's task protocol documents
@pytest.mark.parametrize(
    ("answer", "error", "state", "note"),
    [
        (
            {"status": "TIMEOUT", "message": "took too long"},
            tn.JobTimeout,
            State.TIMED_OUT,
            "CAMB.AI stopped the tts task: processing exceeded the maximum allowed duration "
            "(TIMEOUT). CAMB.AI says: took too long Break the text into shorter segments and "
            "submit them separately.",
        ),
        (
            {"status": "PAYMENT_REQUIRED", "exception_reason": "PAYMENT_REQUIRED"},
            tn.QuotaError,
            State.PAYMENT_REQUIRED,
            "CAMB.AI did not run the tts task: the account has insufficient credits "
            "(PAYMENT_REQUIRED). [PAYMENT_REQUIRED] Add credits on your account's billing "
            "page in CAMB.AI studio, then submit again.",
        ),
        (
            {"status": "ERROR", "exception_reason": "SOURCE_TOO_LONG", "message": "too long"},
            tn.JobFailed,
            State.FAILED,
            "CAMB.AI reported an error for the tts task (ERROR). CAMB.AI says: too long "
            "[SOURCE_TOO_LONG] The text is too long: split it into shorter segments.",
        ),
        (
            {"status": "ERROR", "exception_reason": "NONE", "message": {}},
            tn.JobFailed,
            State.FAILED,
            "CAMB.AI reported an error for the tts task (ERROR). No error details were given. "
            "Review the inputs (text, voice, languages) and submit again; contact CAMB.AI "
            "support if it repeats.",
        ),
    ],
)
def test_each_terminal_status_ends_the_task_with_camb_advice(fake, answer, error, state, note):
    fake.json("GET /tts/task-1", answer)
    job = fake_client(fake).tts("Tolerant.", voice_id=7, language=1, stream=False)
    with pytest.raises(error):
        job.wait(30)
    assert job.state is state and job.polls == 1 and job.raw_status == answer["status"]
    assert job.history.note.iloc[-1] == note


def test_an_unknown_language_id_or_voice_name_is_refused_by_name_before_sending(camb, sim):
    sim.log.clear()
    with pytest.raises(tn.InvalidInput) as language:
        camb.tts("Hello there.", 147320, language=99999)
    assert (str(language.value), language.value.provider) == (
        "language=99999 is not one of CAMB.AI's languages. See camb.languages().",
        "camb",
    )
    with pytest.raises(tn.InvalidInput) as voice:
        camb.tts("Hello there.", "Zzqxv", language="en-us")
    assert str(voice.value) == (
        "voice_id 'Zzqxv' is neither an integer voice id nor a voice's name. See camb.voices()."
    )
    assert [e for e in sim.log.find(origin="camb") if e.method == "POST"] == []
