"""CAMB.AI end to end over real HTTP against the simulator: every flow, every status."""

from __future__ import annotations

import io
import json

import pytest
import requests
import soundfile

import tts_nb as tn
from tts_nb.policy import Pacer
from tts_nb.providers.camb import RunId, TaskId, run_path, task_path
from tts_nb.simulator import Simulator, speech
from tts_nb.simulator.camb import LANGUAGES
from tts_nb.simulator.camb import VOICES as CATALOGUE
from tts_nb.simulator.markers import parse_markers
from tts_nb.state import State

from .conftest import wait_until

FAST = tn.Fixed(0.05, timeout=30)
DESCRIPTION = (
    "A warm and friendly middle-aged woman with a slight British accent. She speaks clearly and "
    "articulately, with a soothing tone that conveys expertise and trustworthiness."
)
FLOWS = {
    "tts": lambda camb, text: camb.tts(text, voice_id=147320, language="en-us", stream=False),
    "translated-tts": lambda camb, text: camb.translated_tts(
        text, voice_id=147320, source_language=1, target_language="fr-fr"
    ),
    "text-to-voice": lambda camb, text: camb.text_to_voice(text, DESCRIPTION),
}


@pytest.fixture(scope="module")
def _module_sim():
    """One simulator for the module (starting and stopping one costs more than most tests)."""
    with Simulator(speed=1000, seed=11) as simulator:
        yield simulator


@pytest.fixture
def sim(_module_sim):
    """CAMB tasks take 2–5 simulator minutes: 1000x faster, that is 0.1–0.3 s. Each test
    starts with an empty request log and the CAMB app's default settings."""
    camb = _module_sim.camb
    camb.credits, camb.redirect_results, camb.result_format = None, False, "flac"
    camb.used_credits.clear()
    _module_sim.log.clear()
    return _module_sim


def client(sim, **kwargs):
    options = dict(policy=FAST, min_interval=0.05)
    options.update(kwargs)
    return tn.Camb(api_key=sim.credentials["camb_api_key"], base_url=sim.urls["camb"], **options)


@pytest.fixture
def camb(sim):
    return client(sim)


def posts(sim, kind=None):
    path = f"/apis/{kind}" if kind else "/apis/"
    return [r for r in sim.log.find(origin="camb", method="POST", path=path)]


def decoded(clip):
    samples, rate = soundfile.read(io.BytesIO(clip.data))
    assert rate == clip.sample_rate
    assert len(samples) / rate == pytest.approx(clip.duration_s, rel=0.01)
    return samples


# ------------------------------------------------------------------------- flows
def test_tts_gives_real_flac_speech_that_grows_with_the_text(camb, sim):
    short = camb.tts("Hello there.", voice_id=147320, language="en-us", stream=False).wait(30)
    long = camb.tts(
        "Hello there. This sentence is quite a bit longer, so its speech lasts longer too.",
        voice_id="Ava",
        language=1,
        stream=False,
    ).wait(30)
    for clip in (short, long):
        assert clip.format == "flac" and clip.data[:4] == b"fLaC"
        decoded(clip)
        assert clip.rms_dbfs > -40  # speech, not silence
        assert clip.voice == "camb:Ava"
        assert isinstance(clip.meta["run_id"], int) and isinstance(clip.meta["task_id"], str)
    assert long.duration_s > 2 * short.duration_s
    assert short.text == "Hello there."
    assert len(posts(sim, "tts")) == 2


def test_a_wav_result_is_sniffed_from_its_bytes(camb, sim):
    sim.camb.result_format = "wav"
    clip = camb.tts("Old format.", voice_id=147321, language="en-us", stream=False).wait(30)
    assert clip.format == "wav" and clip.data[:4] == b"RIFF"
    assert clip.rms_dbfs > -40


def test_history_has_one_row_per_exchange(camb, sim):
    job = camb.tts("Hello history.", voice_id=147320, language=1, stream=False)
    job.wait(30)
    history = job.history_full
    assert list(history.step)[0] == "submit" and list(history.step)[-1] == "fetch"
    assert list(history.step).count("poll") == job.polls >= 1
    assert len(history) == len(sim.log.find(origin="camb", path="/apis/tts"))
    assert history.http_status.tolist() == [200] * len(history)
    polls = history[history.step == "poll"]
    assert set(polls.raw_status) <= {"PENDING", "SUCCESS"}
    assert polls.raw_status.iloc[-1] == "SUCCESS"
    assert history.state.iloc[-1] == "SUCCEEDED"
    assert history.url.iloc[-1].endswith(f"/apis/tts-result/{job.provider_ids['run_id']}")


def test_the_task_flows_own_fields_are_sent_as_camb_documents_them(camb, sim):
    job = camb.tts(
        "With every field.", 147320, language=1, stream=False, gender="female", age=30,
        folder_id=4, project_name="Demo", project_description="Field check",
    )  # fmt: skip
    assert job.wait(30).rms_dbfs > -40
    assert json.loads(job.exchanges[0].request_body) == {
        "text": "With every field.",
        "voice_id": 147320,
        "language": 1,
        "gender": 2,
        "age": 30,
        "folder_id": 4,
        "project_name": "Demo",
        "project_description": "Field check",
    }


def test_translated_tts_puts_the_translation_on_the_clip(camb, sim):
    job = camb.translated_tts(
        "Hello friend, good morning.",
        voice_id=147376,
        source_language="English (United States)",
        target_language="french",
    )
    clip = job.wait(30)
    assert clip.text == "Bonjour ami, bon matin."  # the simulator's documented glossary
    assert clip.meta["source_text"] == "Hello friend, good morning."
    assert clip.meta["texts"] == ["Bonjour ami, bon matin."]
    assert clip.format == "flac" and clip.rms_dbfs > -40
    decoded(clip)
    fetches = job.history_full[job.history_full.step == "fetch"].url.tolist()
    run_id = job.provider_ids["run_id"]
    assert [url.rsplit("/apis", 1)[1] for url in fetches] == [
        f"/tts-result/{run_id}",
        f"/translation-result/{run_id}",
    ]
    body = job.request
    assert (body["source_language"], body["target_language"]) == (1, 76)
    assert len(posts(sim, "translated-tts")) == 1
    again = camb.translated_tts(
        "Hello friend, good morning.", voice_id=147376, source_language=1, target_language=76
    )  # the same request: its stored result comes back, nothing is charged
    assert again.wait(30).data == clip.data and again.reused_from
    assert len(posts(sim, "translated-tts")) == 1


def test_text_to_voice_previews_are_no_voices_until_kept(camb, sim):
    job = camb.text_to_voice("Welcome to our application.", DESCRIPTION)
    previews = job.wait(30)
    assert isinstance(previews, list) and len(previews) == 2
    for clip in previews:
        assert clip.format == "flac" and clip.rms_dbfs > -40
        assert clip.text == "Welcome to our application."
        assert clip.meta["voice_id"] is None  # as on CAMB: a preview is only a sample
        decoded(clip)
    assert previews[0].data != previews[1].data  # two interpretations, two timbres
    assert not set(camb.voices().voice_name).intersection({"Designed voice"})
    assert len(camb.voices()) == len(CATALOGUE)  # previews are not listed as voices
    assert not any("list-voices" in url for url in job.history_full.url)
    cdn = sim.log.find(origin="cdn")
    assert len(cdn) == 2 and all("x-api-key" not in r.headers for r in cdn)
    assert len(posts(sim, "text-to-voice")) == 1


def test_a_kept_preview_becomes_a_voice_that_speaks_like_it(camb, sim):
    previews = camb.text_to_voice("Welcome to our application.", DESCRIPTION).wait(30)
    before = set(camb.voices().voice_id)
    voice_id = camb.keep_voice(previews[1], name="Night host", gender="female", age=45)
    assert isinstance(voice_id, int) and voice_id not in before
    assert previews[1].meta["voice_id"] == voice_id and previews[0].meta["voice_id"] is None
    kept = camb.voices().set_index("voice_id").loc[voice_id]
    assert (kept.voice_name, kept.gender, kept.age) == ("Night host", 2, 45)
    assert kept.description == DESCRIPTION  # taken from the preview
    (upload,) = sim.log.find(origin="camb", method="POST", path="/apis/create-custom-voice")
    assert upload.headers["content-type"].startswith("multipart/form-data")
    assert upload.headers["x-api-key"] == sim.credentials["camb_api_key"]
    same = camb.tts("Welcome to our application.", voice_id, language="en-us", stream=False)
    assert same.wait(30).rms_dbfs > -40
    key = sim.credentials["camb_api_key"]
    variants = {v.id: v.variant for v in sim.camb.voices_of(key)}
    assert variants[voice_id] == "f4"  # the second preview's timbre (female description)
    spoken = camb.tts("Welcome to our application.", voice_id, output_format="flac").wait(30)
    assert spoken.format == "flac" and spoken.rms_dbfs > -40
    with pytest.raises(tn.InvalidInput, match="name is missing"):
        camb.keep_voice(previews[0], name=" ", gender="male")
    with pytest.raises(tn.InvalidInput, match="gender='robot' is not known"):
        camb.keep_voice(previews[0], name="Robot", gender="robot")
    assert len(posts(sim, "create-custom-voice")) == 1  # the refused ones were never sent


def test_a_preview_url_is_kept_and_an_expired_one_says_so(camb, sim):
    previews = camb.text_to_voice("Welcome to our application.", DESCRIPTION).wait(30)
    url = previews[0].meta["preview_url"]
    voice_id = camb.keep_voice(url, name="From a link", gender=1)
    assert voice_id in set(camb.voices().voice_id)
    sim.advance(25 * 3600)
    with pytest.raises(tn.ExpiredResult, match=r"no longer serves this preview link \(403\)"):
        camb.keep_voice(url, name="Too late", gender=1)


def test_a_short_voice_description_is_rejected_before_sending(camb, sim):
    with pytest.raises(tn.InvalidInput, match=r"too short \(5 words.*at least 18 words"):
        camb.text_to_voice("Hello.", "A calm voice, very nice.")
    seventeen = " ".join(["wonderful"] * 17)
    with pytest.raises(tn.InvalidInput, match="17 words"):
        camb.text_to_voice("Hello.", seventeen)
    assert posts(sim) == []


def test_the_simulator_itself_rejects_a_short_description_as_an_error(sim):
    """Raw clients that skip the check get the failure CAMB documents, as a status."""
    base, headers = sim.urls["camb"], {"x-api-key": sim.credentials["camb_api_key"]}
    body = {"text": "Hi.", "voice_description": "Too short."}
    task_id = requests.post(f"{base}/text-to-voice", json=body, headers=headers).json()["task_id"]
    sim.advance(3600)
    status = requests.get(f"{base}/text-to-voice/{task_id}", headers=headers).json()
    assert status["status"] == "ERROR" and "at least 18 words" in status["message"]


# ---------------------------------------------------------------------- statuses
@pytest.mark.parametrize("kind", list(FLOWS))
@pytest.mark.parametrize(
    "marker, error, state, raw, advice",
    [
        ("fail", tn.JobFailed, State.FAILED, "ERROR", "could not process this text"),
        ("timeout", tn.JobTimeout, State.TIMED_OUT, "TIMEOUT", "shorter segments"),
        ("payment-required", tn.QuotaError, State.PAYMENT_REQUIRED, "PAYMENT_REQUIRED", "billing"),
    ],
)
def test_each_failure_status_ends_the_job_with_its_typed_error(
    camb, kind, marker, error, state, raw, advice
):
    job = FLOWS[kind](camb, f"This one goes wrong. [[sim:{marker}]]")
    with pytest.raises(error, match=advice) as info:
        job.wait(30)
    assert job.state is state and job.raw_status == raw
    assert raw in str(info.value) and kind in str(info.value)
    assert job.history.state.iloc[-1] == state.value
    if error is tn.JobFailed:
        assert info.value.raw_status == "ERROR"
        assert "[PROCESSING_ERROR]" in str(info.value) and "Review the inputs" in str(info.value)
    if error is tn.JobTimeout:
        assert not info.value.still_running


def test_an_unknown_status_is_tolerated_until_the_deadline(sim):
    camb = client(sim, policy=tn.Fixed(0.05, timeout=0.6))
    job = camb.tts("Hmm. [[sim:unknown-status]]", voice_id=147320, language=1, stream=False)
    with pytest.raises(tn.JobTimeout, match="deadline") as info:
        job.wait(30)
    assert not info.value.still_running
    assert job.state is State.TIMED_OUT and job.raw_status == "QUEUED"
    assert job.polls >= 3
    assert (
        "unknown CAMB.AI status 'QUEUED': treated as still running until the deadline"
        in job.history.note.dropna().tolist()
    )


def test_credits_running_out_ends_in_payment_required(camb, sim):
    sim.camb.credits = 30
    first = camb.tts("Twenty characters!!", voice_id=147320, language=1, stream=False).wait(30)
    assert first.rms_dbfs > -40
    job = camb.tts("Twenty more of them.", voice_id=147320, language=1, stream=False)
    with pytest.raises(tn.QuotaError, match="insufficient credits.*billing page"):
        job.wait(30)
    assert job.state is State.PAYMENT_REQUIRED
    assert sim.camb.used_credits == {sim.credentials["camb_api_key"]: len("Twenty characters!!")}


def test_audio_that_is_not_audio_fails_with_bad_audio(camb):
    job = camb.tts("Broken renderer. [[sim:not-audio]]", voice_id=147320, language=1, stream=False)
    with pytest.raises(tn.BadAudio, match="JSON"):
        job.wait(30)
    assert job.state is State.FAILED


@pytest.mark.parametrize("kind", ["tts", "text-to-voice"])
def test_results_expire_after_a_day(sim, kind):
    camb = client(sim, policy=tn.Fixed(0.3))
    job = FLOWS[kind](camb, "Too late.")
    wait_until(lambda: job.provider_ids, "the submit was never answered")  # first look: 0.3 s
    sim.advance(25 * 3600)  # a day passes before the first look
    with pytest.raises(tn.ExpiredResult, match="expire.*costs credits again") as info:
        job.wait(30)
    assert info.value.status_code == 404 and info.value.provider == "camb"
    assert job.state is State.EXPIRED and job.raw_status == "SUCCESS"


# -------------------------------------------------------------- inputs and catalogues
def test_languages_and_voices_are_dataframes(camb):
    languages = camb.languages()
    assert list(languages.columns) == ["id", "language", "short_name", "source", "target"]
    assert len(languages) >= 20 and languages.target.all()
    row = languages[languages.id == 1].iloc[0]
    assert (row.language, row.short_name, row.source) == ("English (United States)", "en-us", True)
    assert not languages[languages.short_name == "da-dk"].iloc[0].source
    voices = camb.voices()
    assert list(voices.columns)[:5] == ["voice_id", "voice_name", "gender", "age", "language"]
    assert voices.voice_id.map(type).eq(int).all() and len(voices) >= 6


def test_the_simulated_languages_are_spoken_by_espeak():
    for language in LANGUAGES:
        voice = speech.language_voice(language.short_name)
        assert voice and speech.espeak_voice_exists(voice), language


@pytest.mark.parametrize(
    "given, expected",
    [
        (76, 76),
        ("fr-fr", 76),
        ("FR_FR", 76),
        ("French (France)", 76),
        ("french", 76),
        ("fr", 76),
        ("German", 31),
        ("111", 111),
    ],
)
def test_languages_resolve_through_the_list(camb, sim, given, expected):
    job = camb.tts(f"Bonjour, {given}.", voice_id=147376, language=given, stream=False)
    assert job.request["language"] == expected
    job.wait(30)
    assert posts(sim)[0] and len(posts(sim)) == 1


def test_unknown_or_ambiguous_languages_are_refused_with_close_matches(camb, sim):
    with pytest.raises(tn.InvalidInput, match=r"'frnch'.*Close matches: French \(France\)"):
        camb.tts("x", voice_id=147320, language="frnch", stream=False)
    with pytest.raises(tn.InvalidInput, match=r"ambiguous.*en-us, id 1.*en-gb, id 35"):
        camb.tts("x", voice_id=147320, language="english", stream=False)
    with pytest.raises(tn.InvalidInput, match="not one of CAMB.AI's source languages"):
        camb.translated_tts("x", voice_id=147320, source_language="da-dk", target_language=1)
    target = camb.translated_tts("Tak.", voice_id=147320, source_language=1, target_language="da")
    assert target.request["target_language"] == 28
    with pytest.raises(tn.InvalidInput, match="Close names: ava"):
        camb.tts("x", voice_id="Avva", language=1, stream=False)
    with pytest.raises(tn.InvalidInput, match="gender='robot' is not known"):
        camb.tts("x", voice_id=147320, language=1, gender="robot", stream=False)
    with pytest.raises(tn.InvalidInput, match="formality must be one of formal, informal"):
        camb.translated_tts("x", voice_id=1, source_language=1, target_language=1, formality=3)
    with pytest.raises(tn.InvalidInput, match="text is empty"):
        camb.tts("  ", voice_id=147320, language=1, stream=False)
    target.wait(30)
    assert len(posts(sim)) == 1  # only the valid one was sent


def test_an_invalid_id_comes_back_as_a_422_in_camb_words(camb, sim):
    job = camb.tts("Nobody speaks.", voice_id=999, language=1, stream=False)
    with pytest.raises(tn.InvalidInput, match="voice_id: Voice 999 does not exist") as info:
        job.wait(10)
    assert info.value.status_code == 422 and "camb.voices()" in str(info.value)
    assert job.state is State.FAILED


def test_an_identical_request_is_not_charged_twice_unless_forced(camb, sim):
    first = camb.tts("Only once, please.", voice_id=147320, language=1, stream=False)
    again = camb.tts("Only once, please.", voice_id=147320, language="en-us", stream=False)
    assert first.wait(30).data == again.wait(30).data
    assert len(posts(sim)) == 1
    forced = camb.tts("Only once, please.", voice_id=147320, language=1, force=True, stream=False)
    assert forced.wait(30).rms_dbfs > -40
    assert len(posts(sim)) == 2


@pytest.mark.parametrize("kind", list(FLOWS))
def test_a_job_resumes_from_ids_stored_as_plain_json(camb, sim, kind):
    """What `tn.resume()` relies on after a restart: ids come back as plain str and int."""
    original = FLOWS[kind](camb, f"Resume me ({kind}).")
    original.wait(30)
    stored = json.loads(json.dumps(original.provider_ids))
    assert type(stored["task_id"]) is str and type(stored["run_id"]) is int
    restarted = client(sim)
    body = {k: v for k, v in original.request.items() if k != "voice"}  # as the ledger keeps it
    operation = restarted._rebuild_operation(kind, json.loads(json.dumps(body)), original.request)
    job = restarted._new_job(operation, policy=None, request=original.request, text="x")
    job.resume({"task_id": stored["task_id"]}, [], "resumed after a restart")
    result = job.wait(30)
    clips = result if isinstance(result, list) else [result]
    assert all(clip.rms_dbfs > -40 for clip in clips)
    assert job.provider_ids["run_id"] == stored["run_id"]
    assert len(posts(sim, kind)) == 1  # nothing was submitted again
    with pytest.raises(tn.InvalidInput, match="cannot resume"):
        restarted._rebuild_operation("dubbing", {}, {})


# --------------------------------------------------------------- task_id vs run_id
def test_task_and_run_ids_are_kept_apart_by_type(camb, sim):
    job = camb.tts("Typed ids.", voice_id=147320, language=1, stream=False)
    job.wait(30)
    task_id, run_id = job.provider_ids["task_id"], job.provider_ids["run_id"]
    assert type(task_id) is TaskId and type(run_id) is RunId
    assert run_path("tts-result", run_id) == f"/tts-result/{run_id}"
    assert task_path("tts", task_id) == f"/tts/{task_id}"
    with pytest.raises(TypeError, match="needs a RunId.*not the task_id"):
        run_path("tts-result", task_id)
    with pytest.raises(TypeError, match="needs a RunId"):
        run_path("tts-result", int(run_id))
    with pytest.raises(TypeError, match="needs a TaskId"):
        task_path("tts", run_id)
    # What the types prevent: the server's 422, explained.
    with pytest.raises(tn.InvalidInput, match="run_id: Input should be a valid integer.*mix-up"):
        camb.transport.request("GET", f"/tts-result/{task_id}", step="demo")


def test_the_error_shapes_become_typed_errors_with_what_to_do(sim):
    bad = tn.Camb(api_key="wrong-key", base_url=sim.urls["camb"], policy=FAST)
    with pytest.raises(tn.AuthError, match="Invalid API key.*Check CAMB_API_KEY") as info:
        bad.voices()
    assert info.value.status_code == 401
    job = bad.tts("Hi", voice_id=147320, language=1, stream=False)
    with pytest.raises(tn.AuthError, match="CAMB_API_KEY"):
        job.wait(10)
    assert job.state is State.FAILED


# ----------------------------------------------------------- engine guarantees
def test_a_failed_submit_is_not_sent_again(camb, sim):
    sim.faults.script(500, origin="camb", method="POST")
    job = camb.translated_tts("Once only.", voice_id=147320, source_language=1, target_language=76)
    with pytest.raises(tn.ProviderError):
        job.wait(10)
    assert len(posts(sim)) == 1


def test_the_key_goes_to_the_api_origin_only_even_across_a_redirect(camb, sim):
    """The previews are fetched from the CDN without credentials; the tts result is an
    authenticated request to CAMB that is redirected to the CDN, where the key must not go."""
    previews = camb.text_to_voice("Private previews.", DESCRIPTION).wait(30)
    assert len(sim.log.find(origin="cdn")) == len(previews) > 0
    sim.camb.redirect_results = True
    job = camb.tts("Redirected.", voice_id=147320, language=1, stream=False)
    clip = job.wait(30)
    assert clip.format == "flac" and clip.rms_dbfs > -40
    fetches = job.history[job.history.step == "fetch"]
    assert fetches.http_status.tolist() == [302, 200]
    cdn = sim.log.find(origin="cdn")
    assert len(cdn) == len(previews) + 1
    assert [r.headers.get("x-api-key") for r in cdn] == [None] * len(cdn)
    key = sim.credentials["camb_api_key"]
    api = sim.log.find(origin="camb")
    assert api and [r.headers.get("x-api-key") for r in api] == [key] * len(api)


def test_file_url_output_points_at_the_cdn(camb, sim):
    job = camb.tts("By link.", voice_id=147320, language=1, stream=False)
    job.wait(30)
    headers = {"x-api-key": sim.credentials["camb_api_key"]}
    url = f"{sim.urls['camb']}/tts-result/{job.provider_ids['run_id']}"
    link = requests.get(url, params={"output_type": "file_url"}, headers=headers).json()
    assert link["output_url"].startswith(sim.url("cdn"))
    assert requests.get(link["output_url"]).content[:4] == b"fLaC"


def test_the_key_never_appears_in_reprs_histories_or_errors(camb, sim):
    key = sim.credentials["camb_api_key"]
    ok = camb.tts("Secret keeping.", voice_id=147320, language=1, stream=False)
    ok.wait(30)
    failed = camb.tts(f"My key is {key} [[sim:fail]]", voice_id=147320, language=1, stream=False)
    with pytest.raises(tn.JobFailed) as info:
        failed.wait(30)
    texts = [
        repr(camb),
        repr(ok),
        str(info.value),
        ok.history.to_csv(),
        failed.history.to_csv(),
        tn.jobs().to_csv(),
        repr(camb.transport.__dict__),
    ]
    texts += [repr(exchange) for exchange in ok.exchanges + failed.exchanges]
    assert all(key not in text for text in texts)
    assert "'x-api-key': '••••'" in repr(ok.exchanges[0].request_headers)


# ------------------------------------------------------------------- configuration
def test_defaults_follow_camb_advice():
    camb = tn.Camb(api_key="k", base_url="http://127.0.0.1:9/apis")
    assert tn.Camb.real_url == "https://client.camb.ai/apis"
    assert camb.min_interval == 3.0 and isinstance(camb.policy, tn.Progressive)
    pacer = Pacer(camb.policy, min_interval=camb.min_interval, deadline=10_000.0)
    now, delays = 0.0, []
    for _ in range(12):
        when = pacer.next_poll(now)
        delays.append(when - now)
        now = when
    assert min(delays) >= 3.0 and delays[0] == max(delays)
    assert delays == sorted(delays, reverse=True)


def test_environment_settings_and_the_simulator_fallback(sim, monkeypatch, capsys):
    monkeypatch.setenv("CAMB_API_KEY", sim.credentials["camb_api_key"])
    monkeypatch.setenv("TTS_NB_CAMB_URL", sim.urls["camb"])
    from_env = tn.Camb(policy=FAST, min_interval=0.05)
    assert not from_env.simulated and from_env.base_url == sim.urls["camb"]
    clip = from_env.tts("From the environment.", voice_id=147320, language=1).wait(30)
    assert clip.format == "wav" and clip.data[:4] == b"RIFF" and clip.duration_s > 0.5
    assert sim.log.find(origin="camb", method="POST", path="/apis/tts-stream")  # the env's URL
    monkeypatch.delenv("CAMB_API_KEY")
    monkeypatch.delenv("TTS_NB_CAMB_URL")
    fallback = tn.Camb()
    assert fallback.simulated and fallback.base_url.endswith("/apis")
    assert "Camb" in repr(fallback) and "simulator" in repr(fallback)
    assert len(fallback.languages()) >= 20


def test_the_simulator_announces_camb_and_its_durations_look_like_camb(sim):
    assert sim.info()["camb"] == sim.url("camb") + "/apis"
    assert sim.credentials["camb_api_key"].startswith("camb-sim-")
    markers, _ = parse_markers("text")
    short = [sim.camb.task_duration(20, markers) for _ in range(200)]
    long = [sim.camb.task_duration(150, markers) for _ in range(200)]
    median = sorted(short)[100], sorted(long)[100]
    assert 100 < median[0] < 150 and 240 < median[1] < 320  # "typically 2–5 minutes"
    assert len(set(short)) == 200  # with noise
    slow, _ = parse_markers("[[sim:slow]]")
    assert sim.camb.task_duration(20, slow) > 1000


def test_translated_tts_sends_its_project_fields_as_camb_documents_them(camb, sim):
    job = camb.translated_tts(
        "Good morning.", voice_id=147376, source_language=1, target_language="french",
        project_name="Demo", project_description="Field check", folder_id=4,
    )  # fmt: skip
    job.wait(30)
    sent = json.loads(job.exchanges[0].request_body)
    assert {k: sent[k] for k in ("project_name", "project_description", "folder_id")} == {
        "project_name": "Demo",
        "project_description": "Field check",
        "folder_id": 4,
    }


def test_only_a_download_refused_as_gone_or_expired_is_an_expired_result():
    from tts_nb.providers.camb_protocol import expired_link

    refused = tn.InvalidInput("camb: 422 from the CDN", provider="camb", status_code=422)
    assert expired_link(refused, "this audio") is refused  # another 4xx stays what it was
    for kind, status in ((tn.InvalidInput, 400), (tn.NotFound, 404), (tn.AuthError, 403)):
        gone = expired_link(kind("x", provider="camb", status_code=status), "it")
        assert isinstance(gone, tn.ExpiredResult) and gone.status_code == status
        assert str(gone).startswith(f"CAMB.AI no longer serves it ({status}): results and")
