"""Typecast's current API (v1) end to end over real HTTP against the simulator: detection of
the key's API, synchronous jobs, errors of each status, the concurrency queue, validation."""

from __future__ import annotations

import concurrent.futures
import io
import json

import pytest
import soundfile

import tts_nb as tn
from tts_nb.adapters import adapter_for
from tts_nb.providers.typecast_v1 import Account
from tts_nb.runtime import current
from tts_nb.simulator.markers import parse_markers
from tts_nb.state import State

from .conftest import FAST

TTS = "/v1/text-to-speech"


def posts(sim):
    return sim.log.find(origin="typecast_v1", method="POST", path=TTS)


def credits_of(text: str) -> int:
    return len(parse_markers(text)[1])


@pytest.fixture
def voice(tc_v1):
    return tc_v1.voices().voice_id.iloc[0]


def v1_client(sim, **kwargs):
    options = dict(
        api_key=sim.credentials["typecast_v1_api_key"],
        base_url=sim.urls["typecast_v1"],
        policy=FAST,
        min_interval=0.05,
    )
    return tn.Typecast(**{**options, **kwargs})


# --------------------------------------------------------------------------- synthesis
def test_speak_returns_real_speech_in_one_exchange(tc_v1, voice, sim):
    job = tc_v1.speak("Hello there from the current API.", voice_id=voice)
    clip = job.wait(30)
    assert clip.format == "wav" and clip.data[:4] == b"RIFF"
    samples, rate = soundfile.read(io.BytesIO(clip.data))
    assert len(samples) / rate == pytest.approx(clip.duration_s, rel=0.01)
    assert clip.rms_dbfs > -40 and clip.duration_s > 1  # speech, not silence
    assert clip.meta["audio_duration_s"] == pytest.approx(clip.duration_s, abs=0.01)
    history = job.history_full
    assert history.step.tolist() == ["submit"] and history.method.tolist() == ["POST"]
    assert history.http_status.tolist() == [200] and history.state.tolist() == ["SUCCEEDED"]
    assert f"X-Audio-Duration: {clip.meta['audio_duration_s']:g} s" in history.note.iloc[0]
    assert job.state is State.SUCCEEDED and job.polls == 0 and len(posts(sim)) == 1
    assert clip.voice == "typecast:Olivia" and clip.text == "Hello there from the current API."


def test_output_options_reach_the_audio(tc_v1, voice):
    mp3 = tc_v1.speak("Compressed.", voice_id=voice, audio_format="mp3").wait(30)
    assert mp3.format == "mp3" and mp3.mimetype == "audio/mpeg"
    normal = tc_v1.speak("Tempo check, one two three.", voice_id=voice).wait(30)
    fast = tc_v1.speak("Tempo check, one two three.", voice_id=voice, audio_tempo=2.0).wait(30)
    assert fast.duration_s < 0.75 * normal.duration_s
    quiet = tc_v1.speak("Tempo check, one two three.", voice_id=voice, volume=25).wait(30)
    assert quiet.rms_dbfs < normal.rms_dbfs - 6


def test_voice_names_are_resolved_and_unknown_names_suggest(tc_v1):
    assert tc_v1.speak("By name.", voice_id="james").wait(30).voice == "typecast:James"
    with pytest.raises(tn.InvalidInput, match="Close names: james.*tc.voices"):
        tc_v1.speak("x", voice_id="Jmaes")


def test_voices_table_and_filters(tc_v1, sim):
    voices = tc_v1.voices()
    assert list(voices.columns) == [
        "voice_id", "name", "gender", "age", "use_cases", "models", "emotions",
    ]  # fmt: skip
    assert len(voices) == 8 and voices.voice_id.str.startswith("tc_").all()
    first = voices.iloc[0]
    assert first.models == ["ssfm-v21", "ssfm-v30"]
    assert (first["name"], first.use_cases) == ("Olivia", ["Announcer", "Conversational"])
    podcasts = tc_v1.voices(use_cases="Podcast")
    assert sim.log.find(path="/v2/voices")[-1].query == {"use_cases": ["Podcast"]}
    assert len(podcasts) and all("Podcast" in cases for cases in podcasts.use_cases)
    assert "whisper" in first.emotions["ssfm-v30"] and "whisper" not in first.emotions["ssfm-v21"]
    women = tc_v1.voices(gender="female")
    assert 0 < len(women) < len(voices) and set(women.gender) == {"female"}
    assert sim.log.find(path="/v2/voices")[-1].query == {"gender": ["female"]}
    sim.log.clear()
    with pytest.raises(tn.InvalidInput, match="age='old' is not accepted: use one of"):
        tc_v1.voices(age="old")
    assert sim.log.find() == []


def test_account_reports_credits_and_gives_the_queue_the_plans_limit(tc_v1, voice, sim):
    before = tc_v1.account()
    assert (before.plan, before.credits_total, before.credits_used) == ("free", 100_000, 0)
    assert before.concurrency_limit == 2 and tc_v1.max_concurrent == 2
    text = "Count my characters."
    tc_v1.speak(text, voice_id=voice).wait(30)
    after = tc_v1.account()
    assert after.credits_used == len(text) and after.credits_left == 100_000 - len(text)
    assert "plan free" in repr(after) and f"{after.credits_left:,} left" in repr(after)
    sim.typecast_v1.plan = "lite"
    assert tc_v1.account().concurrency_limit == 5
    assert tc_v1.max_concurrent == 5 and tc_v1.gate.limit == 5
    chosen = v1_client(sim, max_concurrent=3)
    chosen.account()
    assert chosen.gate.limit == 3  # a limit the user chose is kept
    page = Account("<script>alert(1)</script>", 10, 2, 2)._repr_html_()
    assert "<script>" not in page and "&lt;script&gt;" in page and "8 of 10" in page


# --------------------------------------------------------------------------- detection
def test_the_keys_api_is_detected_once_per_key(sim):
    v1_key, legacy_key = sim.credentials["typecast_v1_api_key"], sim.credentials["typecast_api_key"]
    clients = [tn.Typecast(api_key=v1_key, base_url=sim.urls["typecast_v1"]) for _ in range(3)]
    assert {c.api for c in clients} == {"v1"} and clients[0]._auth_headers() == {
        "X-API-KEY": v1_key
    }
    legacy = [tn.Typecast(api_key=legacy_key, base_url=sim.urls["typecast"]) for _ in range(3)]
    assert {c.api for c in legacy} == {"legacy"}
    assert len(sim.log.find(origin="typecast_v1", path="/v1/users/me/subscription")) == 1
    assert len(sim.log.find(origin="typecast", path="/v1/users/me/subscription")) == 1
    assert len(sim.log.find(origin="typecast", path="/api/actor")) == 1
    remembered = repr(current().typecast_apis)
    assert v1_key not in remembered and legacy_key not in remembered


def test_detection_uses_the_endpoint_settings(sim, monkeypatch):
    monkeypatch.setenv("TTS_NB_TYPECAST_V1_URL", sim.urls["typecast_v1"])
    monkeypatch.setenv("TTS_NB_TYPECAST_URL", sim.urls["typecast"])
    monkeypatch.setenv("TYPECAST_API_KEY", sim.credentials["typecast_v1_api_key"])
    current = tn.Typecast()
    assert current.api == "v1" and current.base_url == sim.urls["typecast_v1"]
    assert not current.simulated
    monkeypatch.setenv("TYPECAST_API_KEY", sim.credentials["typecast_api_key"])
    legacy = tn.Typecast()
    assert legacy.api == "legacy" and legacy.base_url == sim.urls["typecast"]
    # the legacy key was refused by v1 (403), then accepted by the legacy API
    assert [r.status for r in sim.log.find(path="/v1/users/me/subscription")] == [200, 403]
    assert "Typecast legacy" in repr(legacy)


def test_a_key_neither_api_accepts_is_an_auth_error_naming_the_choice(sim):
    with pytest.raises(tn.AuthError) as info:
        tn.Typecast(api_key="not-a-key", base_url=sim.urls["typecast_v1"])
    message = str(info.value)
    base = sim.urls["typecast_v1"].rstrip("/")
    assert message.startswith(
        f"Could not tell which Typecast API this key belongs to (v1: {base}/v1/users/me/"
        f"subscription answered 401; legacy: {base}/api/actor answered 401). A 401 usually "
        "means a space or newline was copied along with TYPECAST_API_KEY."
    )
    assert "api='v1'" in message and "api='legacy'" in message and "not-a-key" not in message
    with pytest.raises(tn.InvalidInput, match="api='v1'"):
        tn.Typecast(api="v2")


def test_without_keys_tn_typecast_is_v1_on_the_simulator():
    from tts_nb.simulator import shared

    tc = tn.Typecast(policy=FAST, min_interval=0.05)
    assert tc.api == "v1" and tc.simulated and tc.base_url == shared().urls["typecast_v1"]
    assert tc.max_concurrent == 2  # the Free plan's limit
    assert tc.speak("Offline and current.", voice_id="Noah").wait(30).voice == "typecast:Noah"


# --------------------------------------------------------------------------- errors
def test_a_legacy_key_on_v1_gets_403_saying_how_to_choose(sim, voice):
    client = v1_client(sim, api_key=sim.credentials["typecast_api_key"], api="v1")
    with pytest.raises(tn.AuthError) as info:
        client.account()
    assert info.value.status_code == 403
    message = str(info.value)
    assert "legacy" in message and "api='legacy'" in message and "TYPECAST_API_KEY" in message
    assert sim.credentials["typecast_api_key"] not in message
    job = client.speak("Wrong door.", voice_id=voice)
    with pytest.raises(tn.AuthError, match="do not mix"):
        job.wait(10)
    assert job.state is State.FAILED and len(posts(sim)) == 1


def test_a_bad_key_gets_401_naming_the_usual_cause(sim):
    client = v1_client(sim, api_key="tc1-sim-typo", api="v1")
    with pytest.raises(tn.AuthError, match="space or newline") as info:
        client.voices()
    assert info.value.status_code == 401 and "Invalid or missing API key" in str(info.value)


def test_credits_running_out_is_payment_required(tc_v1, voice, sim):
    sim.typecast_v1.plan_credits = 30
    tc_v1.speak("Twenty characters!!", voice_id=voice).wait(30)
    job = tc_v1.speak("Twenty more of them!", voice_id=voice)
    with pytest.raises(tn.QuotaError, match="credits") as info:
        job.wait(10)
    assert info.value.status_code == 402 and job.state is State.PAYMENT_REQUIRED
    assert [r.status for r in posts(sim)] == [200, 402]
    assert tc_v1.account().credits_used == len("Twenty characters!!")


def test_an_unknown_voice_is_not_found_naming_the_catalogue(tc_v1):
    job = tc_v1.speak("Nobody home.", voice_id="tc_000000000000000000000000")
    with pytest.raises(tn.NotFound, match=r"tc\.voices\(\)"):
        job.wait(10)
    assert job.state is State.NOT_FOUND


def test_the_servers_422_is_invalid_input_with_its_field(tc_v1, voice):
    body = {"voice_id": voice, "text": "Hi", "model": "ssfm-v21", "language": "hin"}
    transcript = tn.teach.request(tc_v1, "POST", TTS, json_body=body)
    assert transcript[0].status == 422
    assert transcript.json == {
        "error": {
            "code": "validation_error",
            "message": "language 'hin' is not supported by ssfm-v21",
            "field": "language",
        }
    }
    with pytest.raises(tn.InvalidInput, match=r"field language\) \[validation_error\]"):
        tc_v1.transport.request("POST", TTS, step="submit", json_body=body)


def test_over_the_concurrency_limit_requests_wait_and_are_charged_once(sim, voice):
    client = v1_client(sim, max_concurrent=6)  # above the Free plan's 2: the server refuses
    texts = [f"Number {i} takes its time. [[sim:slow]]" for i in range(6)]
    jobs = [client.speak(text, voice_id=voice) for text in texts]
    done, _ = concurrent.futures.wait(jobs, timeout=120)
    assert len(done) == 6 and all(job.state is State.SUCCEEDED for job in jobs)
    statuses = [r.status for r in posts(sim)]
    assert statuses.count(429) >= 1 and statuses.count(200) == 6
    assert sim.typecast_v1.syntheses == 6
    assert client.account().credits_used == sum(credits_of(t) for t in texts)
    for job in jobs:
        codes = job.history.http_status.tolist()
        assert codes[-1] == 200 and codes.count(200) == 1 and set(codes[:-1]) <= {429}
        assert len(codes) == len(job.exchanges)  # every exchange recorded
    refused = [job for job in jobs if len(job.exchanges) > 1]
    assert refused and all("nothing was charged" in job.history.note.iloc[0] for job in refused)


def test_a_submit_without_an_answer_is_never_sent_again(tc_v1, voice, sim):
    sim.faults.script("lost_answer", origin="typecast_v1", method="POST")
    job = tc_v1.speak("Lost in transit.", voice_id=voice)
    with pytest.raises(tn.ProviderError, match="did NOT send it again") as info:
        job.wait(10)
    assert info.value.maybe_sent and job.submit_unconfirmed and len(posts(sim)) == 1
    assert sim.typecast_v1.syntheses == 1  # the server did the work (and charged it)
    with pytest.raises(tn.InvalidInput, match="never arrived"):
        tc_v1.speak("Lost in transit.", voice_id=voice)
    assert len(posts(sim)) == 1
    assert tc_v1.speak("Lost in transit.", voice_id=voice, force=True).wait(30).duration_s > 0


@pytest.mark.parametrize(
    ("marker", "error", "message"),
    [
        ("[[sim:fail]]", tn.ProviderError, "synthesis failed"),
        ("[[sim:empty-audio]]", tn.BadAudio, "empty: 0 bytes"),
        ("[[sim:not-audio]]", tn.BadAudio, "looks like JSON"),
    ],
)
def test_markers_make_rare_outcomes_on_v1(tc_v1, voice, sim, marker, error, message):
    job = tc_v1.speak(f"Rare. {marker}", voice_id=voice)
    with pytest.raises(error, match=message):
        job.wait(10)
    assert job.state is State.FAILED and len(posts(sim)) == 1


# --------------------------------------------------------------------------- wrong calls
def test_the_other_apis_calls_name_the_right_one(tc_v1, tc, sim):
    sim.log.clear()
    cases = [
        (lambda: tc_v1.actors(), r"Call tc\.voices\(\)"),
        (lambda: tc_v1.speak("Hi", actor_id="Olivia"), r"voice_id=…\) \(see tc\.voices"),
        (
            lambda: tc_v1.speak("Hi", voice_id="tc_a", lang="en-us"),
            r"^speak\(lang=…\) belongs to Typecast's legacy API, .*language='eng'",
        ),
        (lambda: tc_v1.speak("Hi", voice_id="tc_a", xapi_audio_format="mp3"), "audio_format="),
        (lambda: tc.voices(), r"^voices\(\) belongs to Typecast's v1 API, .* Call tc\.actors\(\)"),
        (lambda: tc.account(), "no such endpoint"),
        (lambda: tc.speak("Hi", voice_id="tc_a"), "actor_id="),
        (lambda: tc.speak("Hi", actor_id="Olivia", audio_tempo=1.5), "use tempo="),
    ]
    for call, message in cases:
        with pytest.raises(tn.InvalidInput, match=message):
            call()
    assert sim.log.find() == []


def test_the_positional_voice_is_this_clients_voice_on_either_api(tc_v1, tc, sim):
    assert tc_v1.speak("Positional on v1.", "Noah").wait(30).voice == "typecast:Noah"
    legacy = tc.speak("Positional on legacy.", "Olivia")
    assert legacy.wait(30).voice == "typecast:Olivia" and legacy.request["voice"] == "Olivia"
    sim.log.clear()
    with pytest.raises(tn.InvalidInput, match="given twice"):
        tc_v1.speak("Hi", "Noah", voice_id="tc_a")
    with pytest.raises(tn.InvalidInput, match="given twice"):
        tc.speak("Hi", "Olivia", actor_id="Olivia")
    assert sim.log.find() == []


def test_invalid_input_is_rejected_before_any_request(tc_v1, sim):
    sim.log.clear()
    voice = "tc_24733c084faaa75c08fc08af"
    cases = [
        (dict(text="   "), "text is empty"),
        (dict(text="x" * 2001), "at most 2000 per request"),
        (dict(voice_id=""), "voice_id is missing"),
        (dict(model="ssfm-v40"), "model='ssfm-v40' is not accepted"),
        (dict(language="xx"), "ISO 639-3"),
        (dict(model="ssfm-v21", language="hin"), r"not supported by ssfm-v21 \(ssfm-v30 speaks"),
        (dict(model="ssfm-v21", emotion_preset="whisper"), "emotion_preset='whisper'"),
        (dict(model="ssfm-v21", emotion_type="preset"), "emotion_type is for model='ssfm-v30'"),
        (dict(emotion_type="smart", emotion_preset="sad"), "are for emotion_type='preset'"),
        (dict(emotion_type="preset", next_text="Then"), "need emotion_type='smart'"),
        (dict(emotion_intensity=2.5), r"emotion_intensity=2\.5 is out of range"),
        (dict(previous_text="x" * 2001), "at most 2000 characters"),
        (dict(volume=120, target_lufs=-14), "cannot be used together"),
        (dict(volume=300), r"volume=300 is out of range: Typecast accepts 0\.\.200"),
        (dict(audio_pitch=1.5), "whole number"),
        (dict(audio_tempo=3), r"audio_tempo=3 is out of range"),
        (dict(audio_format="ogg"), "audio_format='ogg' is not accepted"),
        (dict(remove_silence_ms=-1), "remove_silence_ms=-1 is out of range"),
        (dict(seed=1), "seed is no longer supported"),
        (dict(speed_x=1.2), "Did you mean audio_tempo="),
    ]
    for changes, message in cases:
        kwargs = {"text": "Hello", "voice_id": voice, **changes}
        with pytest.raises(tn.InvalidInput, match=message):
            tc_v1.speak(**kwargs)
    assert sim.log.find() == []


def test_prompts_are_sent_as_the_sdk_models_them(tc_v1, voice):
    smart = tc_v1.speak("Really?", voice_id=voice, previous_text="I won.", next_text="Wow.")
    preset = tc_v1.speak("Yes.", voice_id=voice, emotion_preset="whisper", emotion_intensity=1.5)
    old = tc_v1.speak("Sure.", voice_id=voice, model="ssfm-v21", emotion_preset="sad")
    assert all(job.wait(30).duration_s > 0 for job in (smart, preset, old))
    prompts = [json.loads(job.exchanges[0].request_body)["prompt"] for job in (smart, preset, old)]
    assert prompts == [
        {"emotion_type": "smart", "previous_text": "I won.", "next_text": "Wow."},
        {"emotion_type": "preset", "emotion_preset": "whisper", "emotion_intensity": 1.5},
        {"emotion_preset": "sad"},
    ]


# --------------------------------------------------------------------------- a normal Job
def test_an_identical_request_reuses_the_result(tc_v1, voice, sim):
    first = tc_v1.speak("Say it once.", voice_id=voice)
    clip = first.wait(30)
    again = tc_v1.speak("Say it once.", voice_id=voice)
    assert again.reused_from == first.id and again.clip.data == clip.data
    assert again.history.step.tolist() == ["reuse"] and len(posts(sim)) == 1


def test_a_finished_v1_job_resumes_with_its_stored_result(tc_v1, voice):
    job = tc_v1.speak("Keep me.", voice_id=voice)
    clip = job.wait(30)
    (back,) = tn.resume(job.id)
    assert back.state is State.SUCCEEDED and back.clip.data == clip.data
    with pytest.raises(tn.InvalidInput, match="nothing to poll"):
        tc_v1._rebuild_operation("text_to_speech", {}, {})


def test_curl_names_the_key_as_x_api_key(tc_v1, voice, sim):
    job = tc_v1.speak("Teach me.", voice_id=voice)
    job.wait(30)
    command = tn.teach.curl(job.exchanges[0], "typecast")
    assert '--header "X-API-KEY: $TYPECAST_API_KEY"' in command
    assert "--output submit.wav" in command
    assert sim.credentials["typecast_v1_api_key"] not in command + repr(job.exchanges)


def test_status_says_which_typecast_api_and_both_endpoints():
    shown = repr(tn.status())
    assert "typecast API: v1 (a new user's API" in shown
    assert shown.count("http://127.0.0.1:") >= 4  # the v1 and legacy simulator origins


def test_panels_and_compare_work_with_a_v1_client(tc_v1, sim):
    adapter = adapter_for(tc_v1)
    assert adapter.provider == "typecast" and adapter.voice_column == "voice_id"
    options = adapter.voice_options(tc_v1)
    assert options[0] == (f"Olivia ({options[0][1]})", options[0][1])
    assert ("auto-detect", "auto") in adapter.languages(tc_v1)
    comparison = tn.compare("Side by side.", voices=[(tc_v1, "Olivia"), (tc_v1, "Noah")])
    comparison.wait(60)
    metrics = comparison.metrics()
    assert len(metrics) == 2 and len(posts(sim)) == 2


# ------------------------------------------ the error shapes the v1 API and its SDK use
@pytest.fixture
def v1_stub():
    """A one-route fake of api.typecast.ai on 127.0.0.1: every request gets `answer`
    (status, JSON body); yields a function that returns a v1 client of it."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    answer: dict = {}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = json.dumps(answer["body"]).encode()
            self.send_response(answer["status"])
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"

    def client(status: int, body):
        answer.update(status=status, body=body)
        return tn.Typecast(api_key="stub-key", base_url=url, api="v1", policy=FAST)

    yield client
    server.shutdown()
    server.server_close()


VOICE = "tc_24733c084faaa75c08fc08af"
BODY = {"voice_id": VOICE, "text": "Hello", "model": "ssfm-v30"}


@pytest.mark.parametrize(
    ("status", "body", "error", "said"),
    [
        (
            422,
            {"detail": [{"loc": ["body", "output", "volume"], "msg": "too loud"}, {"msg": "x"}]},
            tn.InvalidInput,
            "body.output.volume: too loud; : x",
        ),
        (400, {"detail": "Bad request body"}, tn.InvalidInput, "Bad request body"),
        (
            401,
            {"message": {"msg": "Invalid API key", "error_code": "auth/not-authorized"}},
            tn.AuthError,
            "Invalid API key (auth/not-authorized) Typecast did not accept TYPECAST_API_KEY.",
        ),
        (400, {"message": {"msg": "Text too long"}}, tn.InvalidInput, "Text too long (no code)"),
        (400, {"message": "Voice is not ready"}, tn.InvalidInput, "Voice is not ready"),
    ],
)
def test_each_error_body_shape_is_quoted_in_the_error(v1_stub, status, body, error, said):
    client = v1_stub(status, body)
    with pytest.raises(error) as info:
        client.transport.request("POST", TTS, step="submit", json_body=BODY)
    assert f"typecast answered {status} to POST " in str(info.value)
    assert f"{TTS}: {said}" in str(info.value)
    assert info.value.status_code == status


# ------------------------------------------------------------- detection, continued
def test_detection_is_remembered_per_key_and_endpoint(sim):
    key = sim.credentials["typecast_v1_api_key"]
    assert tn.Typecast(api_key=key, base_url=sim.urls["typecast_v1"]).api == "v1"
    with pytest.raises(tn.AuthError, match="Could not tell which Typecast API"):
        tn.Typecast(api_key=key, base_url=sim.urls["typecast"])  # asked there too: no answer
    assert len(sim.log.find(origin="typecast", path="/api/actor")) == 1


def test_an_unknown_api_name_is_refused_with_the_two_choices():
    with pytest.raises(tn.InvalidInput) as info:
        tn.Typecast(api="v2")
    assert str(info.value) == (
        "api='v2' is not a Typecast API: use api='v1' (api.typecast.ai, keys sent as "
        "X-API-KEY) or api='legacy' (typecast.ai/api), or leave it out to detect."
    )
    assert info.value.provider == "typecast"


def test_detection_never_sends_an_explicit_key_to_an_endpoint_named_in_dotenv(
    sim, monkeypatch, tmp_path
):
    from tts_nb.providers import typecast_detect, typecast_v1

    # the real services, as unreachable as they are here: a closed port on this machine
    monkeypatch.setattr(typecast_v1, "REAL_URL", "http://127.0.0.1:9")
    monkeypatch.setattr(typecast_detect, "LEGACY_URL", "http://127.0.0.1:9")
    planted = f"TYPECAST_API_KEY=from-dotenv\nTTS_NB_TYPECAST_V1_URL={sim.urls['typecast_v1']}\n"
    (tmp_path / ".env").write_text(planted)
    key = sim.credentials["typecast_v1_api_key"]
    with pytest.warns(UserWarning, match="is ignored"):
        with pytest.raises(tn.AuthError, match="Could not tell which Typecast API"):
            tn.Typecast(api_key=key, policy=FAST)
    assert sim.log.find() == []


def test_a_v1_answer_may_take_five_minutes_to_arrive_a_legacy_one_a_minute(tc_v1, tc):
    # v1's answer is the audio, made while the request waits; legacy answers are small JSON
    assert tc_v1.transport.download_timeout == 300.0
    assert tc.transport.download_timeout == 60.0


# ------------------------------------------------- every v1 rule, word for word
@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (dict(text="  "), "text is empty: give the sentence to speak."),
        (
            dict(text="y" * 2001),
            "text has 2001 characters; Typecast accepts at most 2000 per request. Split it "
            "into several requests.",
        ),
        (dict(model="ssfm-v40"),
         "model='ssfm-v40' is not accepted: use one of ssfm-v21, ssfm-v30."),
        (
            dict(language="xx"),
            "language='xx' is not supported by ssfm-v30: use an ISO 639-3 code such as 'eng', "
            "'kor', 'jpn', 'spa', or leave it out to auto-detect.",
        ),
        (
            dict(model="ssfm-v21", language="THA"),
            "language='THA' is not supported by ssfm-v21 (ssfm-v30 speaks it): use an ISO 639-3 "
            "code such as 'eng', 'kor', 'jpn', 'spa', or leave it out to auto-detect.",
        ),
        (
            dict(model="ssfm-v21", emotion_type="smart"),
            "emotion_type is for model='ssfm-v30'; ssfm-v21 takes only emotion_preset and "
            "emotion_intensity.",
        ),
        (dict(emotion_type="calm"),
         "emotion_type='calm' is not accepted: use one of preset, smart."),
        (
            dict(model="ssfm-v21", previous_text="Before."),
            "previous_text and next_text need emotion_type='smart' (model 'ssfm-v30'), which "
            "infers the emotion from the context.",
        ),
        (
            dict(emotion_type="smart", emotion_intensity=1.0),
            "emotion_preset and emotion_intensity are for emotion_type='preset'; "
            "emotion_type='smart' infers the emotion from previous_text and next_text.",
        ),
        (dict(next_text=5), "next_text must be a string of at most 2000 characters."),
        (
            dict(emotion_preset="whisper", model="ssfm-v21"),
            "emotion_preset='whisper' is not accepted: use one of angry, happy, normal, sad.",
        ),
        (dict(emotion_intensity="high"), "emotion_intensity must be a number in 0.0..2.0."),
        (dict(emotion_intensity=-0.1),
         "emotion_intensity=-0.1 is out of range: Typecast accepts 0.0..2.0."),
        (
            dict(volume=100, target_lufs=-14),
            "volume and target_lufs cannot be used together: volume scales (0–200, 100 = as "
            "is), target_lufs normalizes loudness (−70–0 LUFS). Pass one of them.",
        ),
        (dict(volume=True), "volume must be a number in 0..200."),
        (dict(volume=float("inf")), "volume must be a number in 0..200."),
        (dict(volume=201), "volume=201 is out of range: Typecast accepts 0..200."),
        (dict(target_lufs=0.5), "target_lufs=0.5 is out of range: Typecast accepts -70.0..0.0."),
        (dict(audio_pitch=-13), "audio_pitch=-13 is out of range: Typecast accepts -12..12."),
        (dict(audio_pitch=0.5), "audio_pitch must be a whole number in -12..12."),
        (dict(audio_tempo=0.4), "audio_tempo=0.4 is out of range: Typecast accepts 0.5..2.0."),
        (dict(remove_silence_ms=1001),
         "remove_silence_ms=1001 is out of range: Typecast accepts 0..1000."),
        (dict(remove_silence_ms=2.5), "remove_silence_ms must be a whole number in 0..1000."),
        (dict(audio_format="WAV"), "audio_format='WAV' is not accepted: use one of mp3, wav."),
    ],
)  # fmt: skip
def test_each_v1_rule_says_what_typecast_accepts_before_sending(tc_v1, sim, changes, message):
    sim.log.clear()
    kwargs = {"text": "Hello", "voice_id": "tc_24733c084faaa75c08fc08af", **changes}
    with pytest.raises(tn.InvalidInput) as info:
        tc_v1.speak(**kwargs)
    assert str(info.value) == message and info.value.provider == "typecast"
    assert sim.log.find() == []


def test_v1_values_at_their_limits_are_sent_as_the_sdk_models_them(tc_v1, voice):
    job = tc_v1.speak(
        "At the limits.", voice_id=voice, model="ssfm-v21", language="KOR",
        emotion_preset="angry", emotion_intensity=2, audio_pitch=12.0, audio_tempo=0.5,
        target_lufs=-70, remove_silence_ms=0, audio_format="wav",
    )  # fmt: skip
    assert job.wait(30).format == "wav"
    assert json.loads(job.exchanges[0].request_body) == {
        "voice_id": voice,
        "text": "At the limits.",
        "model": "ssfm-v21",
        "language": "kor",
        "prompt": {"emotion_preset": "angry", "emotion_intensity": 2.0},
        "output": {
            "audio_pitch": 12,
            "audio_tempo": 0.5,
            "target_lufs": -70.0,
            "remove_silence_ms": 0,
            "audio_format": "wav",
        },
    }


def test_a_voice_list_of_another_shape_is_a_provider_error(v1_stub):
    with pytest.raises(tn.ProviderError) as info:
        v1_stub(200, {"voices": "soon"}).voices()
    assert str(info.value) == """typecast: unexpected voice list "{'voices': 'soon'}"."""
    assert info.value.provider == "typecast"
