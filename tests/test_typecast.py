"""Typecast's legacy polling API end to end over real HTTP against the simulator.

(The current API, v1, is in test_typecast_v1.py; the official SDK in test_typecast_sdk.py.)"""

from __future__ import annotations

import concurrent.futures
import io
import json

import pytest
import soundfile

import tts_nb as tn
from tts_nb.simulator import Simulator
from tts_nb.state import State

from .conftest import FAST, virtual_typecast, wait_until


def posts(sim):
    return sim.log.find(origin="typecast", method="POST", path="/api/speak")


def test_speak_poll_download_gives_real_speech_that_grows_with_the_text(tc, actor, sim):
    short = tc.speak("Hello there.", actor_id=actor).wait(30)
    long = tc.speak(
        "Hello there. This sentence is quite a bit longer, so the speech lasts longer too.",
        actor_id=actor,
    ).wait(30)
    for clip in (short, long):
        assert clip.format == "wav" and clip.data[:4] == b"RIFF"
        samples, rate = soundfile.read(io.BytesIO(clip.data))
        assert rate == clip.sample_rate == 16000
        assert len(samples) / rate == pytest.approx(clip.duration_s, rel=0.01)
        assert clip.rms_dbfs > -40  # speech, not silence
    assert long.duration_s > 2 * short.duration_s
    assert short.text == "Hello there." and short.voice == "typecast:Olivia"


def test_history_has_one_row_per_exchange(tc, actor, sim):
    job = tc.speak("Hello history.", actor_id=actor)
    job.wait(30)
    history = job.history
    steps = list(history.step)
    assert steps[0] == "submit" and steps[-1] == "fetch"
    assert steps.count("poll") == job.polls >= 1
    assert len(history) == len(sim.log.find(path="/api/speak")) + 1  # + the CDN download
    assert str(history.time.dtype).startswith("datetime64")
    assert history.http_status.tolist() == [200] * len(history)
    assert job.history_full.latency_s.notna().all()  # the full frame has every column
    polls = history[history.step == "poll"]
    assert set(polls.raw_status) <= {"started", "progress", "done"}
    assert polls.raw_status.iloc[-1] == "done"
    assert history.state.iloc[-1] == "SUCCEEDED"


def test_hd_and_mp3_options_reach_the_audio(tc, actor):
    clip = tc.speak("High definition.", actor_id=actor, xapi_hd=True).wait(30)
    assert clip.sample_rate == 44100
    mp3 = tc.speak("Compressed.", actor_id=actor, xapi_audio_format="mp3").wait(30)
    assert mp3.format == "mp3" and mp3.mimetype == "audio/mpeg"


def test_actor_name_is_resolved_and_unknown_names_suggest(tc):
    assert tc.speak("By name.", actor_id="olivia").wait(30).voice == "typecast:Olivia"
    with pytest.raises(tn.InvalidInput, match="Close names: olivia"):
        tc.speak("x", actor_id="Olivai")


def test_failed_job_raises_job_failed(tc, actor):
    job = tc.speak("This one breaks. [[sim:fail]]", actor_id=actor)
    with pytest.raises(tn.JobFailed, match="failed") as info:
        job.wait(30)
    assert job.state is State.FAILED and job.raw_status == "failed"
    assert info.value.raw_status == "failed"
    assert job.history.state.iloc[-1] == "FAILED"


def test_bad_key_is_an_auth_error_with_the_fix(sim):
    client = tn.Typecast(
        api_key="wrong-key", base_url=sim.urls["typecast"], policy=FAST, api="legacy"
    )
    with pytest.raises(tn.AuthError, match="TYPECAST_API_KEY") as info:
        client.actors()
    assert info.value.status_code == 401
    job = client.speak("Hi", actor_id="0" * 24)
    with pytest.raises(tn.AuthError, match="auth/not-authorized"):
        job.wait(10)
    assert job.state is State.FAILED


def test_unknown_status_is_tolerated_until_the_deadline(sim, actor):
    client = tn.Typecast(
        api_key=sim.credentials["typecast_api_key"],
        base_url=sim.urls["typecast"],
        policy=tn.Fixed(0.05, timeout=0.6),
        min_interval=0.05,
        api="legacy",
    )
    job = client.speak("Hmm. [[sim:unknown-status]]", actor_id=actor)
    with pytest.raises(tn.JobTimeout) as info:
        job.wait(30)
    assert not info.value.still_running
    assert job.state is State.TIMED_OUT
    assert job.raw_status == "queued-for-review"
    assert job.polls >= 3
    assert (
        "unknown Typecast status 'queued-for-review': treated as still running until the "
        "deadline" in job.history.note.dropna().tolist()
    )


def test_cancel_stops_polling(actor, sim):
    """On the engine's own (virtual) clock: an hour after the cancel, not one more poll."""
    client, scheduler, clock = virtual_typecast(sim)
    job = client.speak("Take your time. [[sim:slow]]", actor_id=actor)
    scheduler.run_virtual(until=clock.now() + 0.5)
    assert job.polls >= 2 and not job.done(), "the slow job was not being polled"
    assert job.cancel()
    polls_at_cancel = len(sim.log.find(method="GET", path="/api/speak/v2/"))
    assert polls_at_cancel == job.polls and scheduler.pending() == 0
    scheduler.run_virtual(until=clock.now() + 3600)
    assert job.polls == polls_at_cancel
    assert len(sim.log.find(method="GET", path="/api/speak/v2/")) == polls_at_cancel
    assert job.state is State.CANCELLED and job.done() and job.cancelled()
    with pytest.raises(concurrent.futures.CancelledError):
        job.wait(1)
    assert not job.cancel()


def test_two_5xx_answers_to_a_poll_are_retried(tc, actor, sim):
    sim.faults.script(500, 502, origin="typecast", method="GET", path="/api/speak/v2/")
    job = tc.speak("Resilient.", actor_id=actor)
    assert job.wait(30).duration_s > 0
    polls = job.history_full[job.history_full.step == "poll"]
    assert polls.http_status.tolist()[:3] == [500, 502, 200]
    assert polls.attempt.tolist()[:3] == [1, 2, 3]


def test_submit_is_sent_once_even_when_it_fails(tc, actor, sim):
    sim.faults.script(500, origin="typecast", method="POST")
    job = tc.speak("Once only.", actor_id=actor)
    with pytest.raises(tn.ProviderError):
        job.wait(10)
    assert len(posts(sim)) == 1


def test_a_lost_submit_answer_is_explained_and_not_resent(tc, actor, sim):
    sim.faults.script("lost_answer", origin="typecast", method="POST")
    job = tc.speak("Lost in transit.", actor_id=actor)
    with pytest.raises(tn.ProviderError, match="did NOT send it again") as info:
        job.wait(10)
    assert info.value.maybe_sent
    assert len(posts(sim)) == 1


def test_submit_rejected_with_retry_after_is_sent_again_once_accepted(tc, actor, sim):
    sim.faults.retry_after_s = 0.1
    sim.faults.script(429, origin="typecast", method="POST")
    clip = tc.speak("Patience.", actor_id=actor).wait(30)
    assert clip.duration_s > 0
    assert [r.status for r in posts(sim)] == [429, 200]


def test_expired_link_gives_expired_state(sim, actor):
    client = tn.Typecast(
        api_key=sim.credentials["typecast_api_key"],
        base_url=sim.urls["typecast"],
        policy=tn.Fixed(0.3),
        min_interval=0.05,
    )
    job = client.speak("Too late.", actor_id=actor)
    wait_until(lambda: job.provider_ids, "the submit was never answered")  # first look: 0.3 s
    sim.advance(25 * 3600)  # a day passes before the first look
    with pytest.raises(tn.ExpiredResult, match="24 hours") as info:
        job.wait(30)
    assert job.state is State.EXPIRED and info.value.provider == "typecast"
    assert "costs quota" in str(info.value)


def test_polls_respect_the_minimum_interval_unless_lowered():
    with Simulator(speed=60, seed=3) as sim:  # the slow job takes about 2 s of real time
        key, url = sim.credentials["typecast_api_key"], sim.urls["typecast"]
        slow_text = "A little patience please, this takes a moment. [[sim:slow]]"

        def gaps(client):
            sim.log.clear()
            client.speak(slow_text, actor_id="Olivia", force=True).wait(60)  # a real job twice
            times = [r.time for r in sim.log.find(method="GET", path="/api/speak/v2/")]
            return [b - a for a, b in zip(times, times[1:])]

        default = tn.Typecast(api_key=key, base_url=url, policy=tn.Fixed(0.1))
        assert default.min_interval == 1.0
        measured = gaps(default)
        assert measured and min(measured) >= 0.95
        lowered = tn.Typecast(api_key=key, base_url=url, policy=tn.Fixed(0.1), min_interval=0.1)
        measured = gaps(lowered)
        assert len(measured) >= 5 and min(measured) < 0.5


def test_invalid_input_is_rejected_before_any_request(tc, actor, sim):
    sim.log.clear()
    cases = [
        (dict(text="   "), "text is empty"),
        (dict(lang="fr-fr"), "lang='fr-fr' is not supported"),
        (dict(volume=300), r"volume=300 is out of range: Typecast accepts 50\.\.200"),
        (dict(pitch=1.5), "whole number"),
        (dict(tempo="fast"), "tempo must be a number"),
        (dict(xapi_audio_format="ogg"), "'wav' or 'mp3'"),
        (dict(max_second=10), "Did you mean 'max_seconds'"),
        (dict(actor_id=""), "actor_id is missing"),
    ]
    for changes, message in cases:
        kwargs = {"text": "Hello", "actor_id": actor, **changes}
        with pytest.raises(tn.InvalidInput, match=message):
            tc.speak(**kwargs)
    assert sim.log.find(method="POST") == []


def test_wait_timeout_leaves_the_job_running(tc, actor):
    job = tc.speak("Still going. [[sim:slow]]", actor_id=actor)
    with pytest.raises(tn.JobTimeout) as info:
        job.wait(0.05)
    assert info.value.still_running and not job.done()
    assert job.wait(60).duration_s > 0


def test_job_is_a_future(tc, actor):
    jobs = [tc.speak(f"Future {i}.", actor_id=actor) for i in range(3)]
    seen = []
    jobs[0].add_done_callback(seen.append)
    finished = list(concurrent.futures.as_completed(jobs, timeout=60))
    assert set(finished) == set(jobs)
    assert seen == [jobs[0]]
    assert all(job.result().duration_s > 0 for job in jobs)
    assert jobs[0].clip is jobs[0].result()


def test_jobs_and_history_tables(tc, actor):
    job = tc.speak("Tabulated.", actor_id=actor)
    job.wait(30)
    jobs = tn.jobs()
    row = jobs[jobs.job == job.id].iloc[0]
    assert row.state == "SUCCEEDED" and row.provider == "typecast" and row.polls == job.polls
    assert row.audio_s > 0 and row.bytes > 1000
    history = tn.history()
    assert (history.job == job.id).sum() == len(job.history)


@pytest.mark.parametrize(
    ("marker", "message"),
    [("[[sim:empty-audio]]", "empty: 0 bytes"), ("[[sim:not-audio]]", "looks like JSON")],
)
def test_unplayable_audio_fails_the_job_with_a_clear_error(tc, actor, marker, message):
    job = tc.speak(f"Broken audio. {marker}", actor_id=actor)
    with pytest.raises(tn.BadAudio, match=message):
        job.wait(30)
    assert job.state is State.FAILED and job.raw_status == "done"


def test_without_keys_the_legacy_simulator_is_used_and_said_once(monkeypatch, capsys):
    from tts_nb.runtime import current

    monkeypatch.setattr(current(), "notice_given", False)
    first, second = tn.Typecast(api="legacy"), tn.Typecast(api="legacy")
    assert first.simulated and second.simulated and first.api == "legacy"
    assert first.base_url.startswith("http://127.0.0.1:")
    banner = capsys.readouterr().err
    assert banner.count("embedded simulator") == 1 and "TYPECAST_API_KEY" in banner
    clip = first.speak("Offline.", actor_id="James", policy=FAST).wait(30)
    assert clip.voice == "typecast:James"


def test_with_a_key_the_real_service_is_used(monkeypatch, capsys):
    monkeypatch.setenv("TYPECAST_API_KEY", "a-real-looking-key")
    client = tn.Typecast(api="legacy")
    assert not client.simulated and client.base_url == "https://typecast.ai"
    assert "simulator" not in capsys.readouterr().err
    monkeypatch.setenv("TTS_NB_TYPECAST_URL", "https://staging.example")
    assert tn.Typecast(api="legacy").base_url == "https://staging.example"
    monkeypatch.setenv("TTS_NB_PROVIDER", "simulator")
    assert tn.Typecast(api="legacy").simulated


def test_clip_player_and_save(tc, actor, tmp_path):
    clip = tc.speak("Play me.", actor_id=actor).wait(30)
    html = clip._repr_html_()
    assert "<audio controls" in html and "autoplay" not in html
    assert "data:audio/wav;base64," in html
    path = clip.save(tmp_path / "out")
    assert path.suffix == ".wav" and path.read_bytes() == clip.data
    assert clip.player().mimetype == "audio/wav"


def test_a_key_of_the_current_api_gets_403_with_the_way_out(sim, actor):
    client = tn.Typecast(
        api_key=sim.credentials["typecast_v1_api_key"],
        base_url=sim.urls["typecast"],
        policy=FAST,
        api="legacy",
    )
    with pytest.raises(tn.AuthError) as info:
        client.actors()
    assert info.value.status_code == 403
    message = str(info.value)
    assert "not allowed to perform this API" in message and "auth/not-authorized" in message
    assert "api='v1'" in message
    assert sim.credentials["typecast_v1_api_key"] not in message


def test_the_legacy_simulator_invents_no_quota_or_concurrency_limit(tc, actor, sim):
    """Typecast documents neither a 402 character quota nor a concurrency cap for the legacy
    API: many jobs at once, and long texts, are all accepted (those are v1 semantics)."""
    assert tc.max_concurrent == 5  # the base default: the legacy API publishes no cap
    assert not hasattr(sim.typecast, "quota_chars")
    assert not hasattr(sim.typecast, "concurrency_limit")
    many = tn.Typecast(
        api_key=sim.credentials["typecast_api_key"],
        base_url=sim.urls["typecast"],
        policy=FAST,
        min_interval=0.05,
        api="legacy",
        max_concurrent=12,
    )
    jobs = [
        many.speak(f"All at once {i}. [[sim:slow]]" + " word" * 50, actor_id=actor)
        for i in range(12)
    ]
    concurrent.futures.wait(jobs, timeout=120)
    assert [r.status for r in posts(sim)] == [200] * 12
    assert all(job.state is State.SUCCEEDED for job in jobs)


# ------------------------------------------------- every legacy rule, word for word
@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (dict(volume="loud"), "volume must be a number in 50..200."),
        (dict(volume=True), "volume must be a number in 50..200."),
        (dict(speed_x=float("nan")), "speed_x must be a number in 0.5..1.5."),
        (dict(volume=100.5), "volume must be a whole number in 50..200."),
        (dict(last_pitch=0.5), "last_pitch must be a whole number in -2..2."),
        (dict(volume=49), "volume=49 is out of range: Typecast accepts 50..200."),
        (dict(pitch=13), "pitch=13 is out of range: Typecast accepts -12..12."),
        (dict(tempo=0.4), "tempo=0.4 is out of range: Typecast accepts 0.5..2.0."),
        (dict(max_seconds=61), "max_seconds=61 is out of range: Typecast accepts 1..60."),
        (dict(emotion_scale=2.1), "emotion_scale=2.1 is out of range: Typecast accepts 0.0..2.0."),
        (dict(xapi_hd="yes"), "xapi_hd must be True (44.1 kHz) or False (16 kHz)."),
        (dict(xapi_audio_format="WAV"), "xapi_audio_format must be 'wav' or 'mp3'."),
        (dict(duration=0), "duration must be a positive number of seconds."),
        (dict(duration=True), "duration must be a positive number of seconds."),
        (dict(model_version=""), "model_version must be a non-empty string."),
        (dict(emotion_tone_preset=3), "emotion_tone_preset must be a non-empty string."),
        (dict(emotion_prompt=""), "emotion_prompt must be a non-empty string."),
        (dict(emotion_label=""), "emotion_label must be a non-empty string."),
        (dict(max_second=10), "Unknown Typecast option 'max_second'. Did you mean 'max_seconds'?"),
        (
            dict(zzz=1),
            "Unknown Typecast option 'zzz'. Known options: duration, emotion_label, "
            "emotion_prompt, emotion_scale, emotion_tone_preset, last_pitch, max_seconds, "
            "model_version, pitch, speed_x, tempo, volume, xapi_audio_format, xapi_hd.",
        ),
    ],
)
def test_each_legacy_option_rule_says_what_is_accepted(tc, actor, sim, changes, message):
    sim.log.clear()
    with pytest.raises(tn.InvalidInput) as info:
        tc.speak("Hello", actor_id=actor, **changes)
    assert str(info.value) == message and info.value.provider == "typecast"
    assert sim.log.find(method="POST") == []


def test_legacy_options_at_their_limits_are_sent_as_typecast_expects(tc, actor, sim):
    options = dict(
        volume=50.0, pitch=-12, tempo=2.0, speed_x=0.5, max_seconds=60, emotion_scale=0,
        last_pitch=2, xapi_hd=False, xapi_audio_format="wav", duration=1.5,
        model_version="latest", emotion_tone_preset="normal-1",
    )  # fmt: skip
    job = tc.speak("At the limits.", actor_id=actor, **options)
    assert job.wait(30).format == "wav"
    (post,) = sim.log.find(origin="typecast", method="POST", path="/api/speak")
    sent = json.loads(job.exchanges[0].request_body)
    assert sent == {
        "text": "At the limits.",
        "lang": "auto",
        "actor_id": actor,
        "volume": 50,
        "pitch": -12,
        "tempo": 2.0,
        "speed_x": 0.5,
        "max_seconds": 60.0,
        "emotion_scale": 0.0,
        "last_pitch": 2,
        "xapi_hd": False,
        "xapi_audio_format": "wav",
        "duration": 1.5,
        "model_version": "latest",
        "emotion_tone_preset": "normal-1",
    }
    mp3 = tc.speak("As mp3.", actor_id=actor, xapi_audio_format="mp3").wait(30)
    assert mp3.format == "mp3"


def test_the_actor_table_has_english_and_korean_names(tc):
    actors = tc.actors()
    assert list(actors.columns) == ["actor_id", "name", "name_ko"]
    first = actors.iloc[0]
    assert (first["name"], first.name_ko) == ("Olivia", "올리비아")
    assert len(first.actor_id) == 24


def test_an_actor_name_like_no_other_names_none(tc, sim):
    with pytest.raises(tn.InvalidInput) as info:
        tc.speak("Hello", actor_id="Qqqqzzzz")
    assert str(info.value) == (
        "actor_id 'Qqqqzzzz' is neither a 24-character actor id nor an actor's name. "
        "See tc.actors()."
    )
    with pytest.raises(tn.InvalidInput) as info:
        tc.speak("Hello", actor_id="olivai")
    assert "an actor's name. Close names: olivia. See tc.actors()." in str(info.value)
    assert sim.log.find(method="POST") == []


# ------------------------------------ what a legacy server may answer (a fake on 127.0.0.1)
@pytest.fixture
def legacy_stub():
    """A fake legacy Typecast: `routes` maps "METHOD /path" to (status, JSON body); yields
    (routes, a legacy client of it)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    routes: dict[str, tuple[int, object]] = {}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def _answer(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, data = routes.get(f"{self.command} {self.path}", (404, {"message": "no"}))
            body = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    yield routes, tn.Typecast(api_key="stub-key", base_url=url, api="legacy", policy=FAST)
    server.shutdown()
    server.server_close()


def test_an_actor_list_of_another_shape_is_a_provider_error(legacy_stub):
    routes, client = legacy_stub
    routes["GET /api/actor"] = (200, {"result": "maintenance"})
    with pytest.raises(tn.ProviderError) as info:
        client.actors()
    assert str(info.value) == """typecast: unexpected actor list "{'result': 'maintenance'}"."""
    assert info.value.provider == "typecast"


@pytest.mark.parametrize(
    ("message", "said"),
    [
        ({"msg": "Not allowed", "error_code": "auth/not-authorized"},
         "Not allowed (auth/not-authorized)"),
        ({"error_code": "auth/not-authorized"}, "(auth/not-authorized)"),
        ({"msg": "Not allowed"}, "Not allowed (no code)"),
        ("Plain words", "Plain words"),
    ],
)  # fmt: skip
def test_legacy_error_bodies_are_quoted_with_the_advice(legacy_stub, message, said):
    routes, client = legacy_stub
    routes["POST /api/speak"] = (401, {"message": message})
    job = client.speak("Hello", actor_id="0123456789abcdef01234567")
    with pytest.raises(tn.AuthError) as info:
        job.wait(10)
    assert f"/api/speak: {said} Check TYPECAST_API_KEY: it must be a token of" in str(info.value)
    assert "None" not in str(info.value)
