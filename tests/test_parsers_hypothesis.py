"""Malformed provider answers thrown at every parser (hypothesis), and an engine that survives
Operations raising anything at all.

Each provider Operation's submit, poll and fetch runs over the client's real `Transport` (its
error mapping, JSON decoding, redirect and URL rules) with a requests adapter that answers
with crafted responses: any status, content type, Retry-After and Location, JSON with missing,
wrong-typed, huge or unknown fields, bad base64, non-audio and broken audio bytes. The only
acceptable outcomes are an `Observation` (an unknown status recorded as RUNNING with a
message) or a typed `TTSError` with a message. Anything else is a bug.
"""

from __future__ import annotations

import base64
import collections
import io
import json
import threading
import time

import numpy as np
import pytest
import requests
import soundfile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from requests.structures import CaseInsensitiveDict

import tts_nb as tn
from tts_nb.clip import Clip
from tts_nb.errors import TTSError
from tts_nb.job import Call, Job, Observation
from tts_nb.providers import aspose, camb, typecast
from tts_nb.scheduler import Scheduler
from tts_nb.state import State
from tts_nb.transport import Transport, parse_retry_after

TRIED: collections.Counter[str] = collections.Counter()
SETTINGS = settings(
    derandomize=True,  # the same examples in every run: CI stays deterministic
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
API = "https://api.test"  # a real service: https (plain http is refused off loopback)


def _wav(seconds: float = 0.2, rate: int = 16000) -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, np.zeros(int(rate * seconds)) + 0.1, rate, format="WAV")
    return buffer.getvalue()


WAV = _wav()

# ------------------------------------------------------------------ strategies
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**18, max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | st.just("x" * 100_000)
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=25,
)
STATUS_WORDS = [
    # every provider's own vocabulary, plus strangers
    "started", "progress", "done", "failed", "SUCCESS", "PENDING", "ERROR", "TIMEOUT",
    "PAYMENT_REQUIRED", "Completed", "Processing", "Pending", "Error", "NotExist", "",
    "DONE", "queued-for-review", "💥",
]  # fmt: skip
FIELDS = [
    "result", "status", "audio_download_url", "audio", "url", "speak_v2_url", "speak_url",
    "task_id", "run_id", "message", "exception_reason", "taskStatus", "results", "data",
    "responseStatusCode", "messages", "texts", "previews", "id", "type",
]  # fmt: skip
URLS = st.sampled_from(
    [
        f"{API}/api/speak/v2/0123456789abcdef01234567",
        "http://cdn.test/audio.wav",
        "https://cdn.test/a.mp3?sig=1",
        "file:///etc/passwd",
        "ftp://example.com/x.wav",
        "javascript:alert(1)",
        "",
        "//no-scheme.test/x",
        "data:audio/wav;base64,AAAA",
        "http://[::1",
    ]
) | st.text(max_size=30)


def shaped(leaf):
    """Dicts that look like the providers' answers: their field names, any values."""
    keys = st.sampled_from(FIELDS) | st.text(max_size=8)
    return st.recursive(
        leaf,
        lambda children: (
            st.dictionaries(keys, children, max_size=6) | st.lists(children, max_size=3)
        ),
        max_leaves=20,
    )


provider_values = (
    scalars | st.sampled_from(STATUS_WORDS) | URLS | st.just(base64.b64encode(WAV).decode())
    | st.just("not base64 !!") | st.integers(min_value=-5, max_value=5)
)  # fmt: skip
answers = shaped(provider_values) | json_values
# Each provider's status answer as documented, with any status word (known, a near miss or
# made up) and odd values beside it: random shapes alone almost never reach the status maps.
status_words = st.sampled_from(STATUS_WORDS) | st.text(max_size=12)
status_answers = st.one_of(
    st.fixed_dictionaries(
        {"result": st.fixed_dictionaries(
            {"status": status_words},
            optional={"audio_download_url": URLS, "audio": shaped(provider_values)},
        )}
    ),
    st.fixed_dictionaries(
        {"status": status_words},
        optional={"run_id": provider_values, "message": provider_values,
                  "exception_reason": provider_values},
    ),
    st.fixed_dictionaries(
        {"taskStatus": status_words},
        optional={"responseStatusCode": provider_values, "results": shaped(provider_values),
                  "messages": shaped(provider_values)},
    ),
)  # fmt: skip
bodies = (
    (answers | status_answers).map(lambda value: json.dumps(value).encode())
    | st.binary(max_size=300)
    | st.sampled_from(
        [
            b"",
            b'{"result": {"status": ',
            WAV,
            WAV[:60],
            WAV[:44] + b"\xff" * 100,
            b"RIFF\x00\x00\x00\x00WAVEfmt ",
            b"ID3\x03\x00\x00\x00\x00\x00\x00",
            b"fLaC\x00\x00\x00\x22",
            b"<html>gateway timeout</html>",
            b"\xff\xfb\x90\x00" + b"\x00" * 50,
        ]
    )
)
content_types = st.sampled_from(
    ["application/json", "audio/wav", "audio/mpeg", "text/html", "text/plain",
     "application/octet-stream", "", "application/json; charset=utf-16", "audio/flac"]
)  # fmt: skip
statuses = st.sampled_from([200, 200, 200, 201, 204, 301, 302, 400, 401, 402, 403, 404, 410,
                            413, 422, 429, 500, 502, 503, 504, 599])  # fmt: skip
retry_afters = st.none() | st.sampled_from(["1", "0", "-3", "soon", "1e309", "Wed, 21 Oct 2015"])
locations = st.none() | URLS


@st.composite
def http_answers(draw):
    if draw(st.integers(0, 3)) == 0:  # a quarter: a 200 JSON status answer, as documented
        body = json.dumps(draw(status_answers)).encode()
        return 200, {"Content-Type": "application/json"}, body
    headers = {"Content-Type": draw(content_types)}
    if (retry := draw(retry_afters)) is not None:
        headers["Retry-After"] = retry
    if (location := draw(locations)) is not None:
        headers["Location"] = location
    return draw(statuses), headers, draw(bodies)


# ------------------------------------------------------------------ plumbing
class CannedAdapter(requests.adapters.BaseAdapter):
    """Answers every request with the same crafted response."""

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        super().__init__()
        self.answer = (status, headers, body)

    def send(self, request, **kwargs):
        status, headers, body = self.answer
        response = requests.Response()
        response.status_code = status
        response.headers = CaseInsensitiveDict(headers)
        response.raw = io.BytesIO(body)
        response.url = request.url
        response.request = request
        response.encoding = None
        return response

    def close(self) -> None:
        pass


def call_for(client, answer, step: str) -> Call:
    status, headers, body = answer
    adapter = CannedAdapter(status, headers, body)
    client.transport.session.mount("http://", adapter)
    client.transport.session.mount("https://", adapter)
    return Call(client.transport, lambda exchange: None, step)


# Each provider's documented status words and the state each one means, written out here
# (not read from tts_nb): anything else is unknown and must be polled on, never failed.
DOCUMENTED = {
    "typecast": {
        "started": State.PENDING,
        "progress": State.RUNNING,
        "done": State.SUCCEEDED,
        "failed": State.FAILED,
    },
    "camb": {  # matched case-insensitively; FAILED and COMPLETED are third-party clients' words
        "SUCCESS": State.SUCCEEDED,
        "COMPLETED": State.SUCCEEDED,
        "PENDING": State.RUNNING,
        "TIMEOUT": State.TIMED_OUT,
        "ERROR": State.FAILED,
        "FAILED": State.FAILED,
        "PAYMENT_REQUIRED": State.PAYMENT_REQUIRED,
    },
    "aspose": {
        "Pending": State.PENDING,
        "Processing": State.RUNNING,
        "Completed": State.SUCCEEDED,
        "Error": State.FAILED,
    },
}


def check(kind: str, run) -> None:
    """`run()` (a submit or a poll) must return an Observation, or raise a typed error with a
    message. A documented status word gives its own state (a success with nothing to fetch
    yet may be looked at again); an unknown one is polled on with a message saying so."""
    TRIED[kind] += 1
    try:
        outcome = run()
    except TTSError as error:
        assert str(error).strip(), f"{kind}: an error without a message"
        return
    assert isinstance(outcome, Observation), f"{kind}: returned {outcome!r}"
    assert isinstance(outcome.state, State), f"{kind}: state {outcome.state!r}"
    if outcome.raw_status is None:
        return
    if outcome.raw_status.isdigit():  # an HTTP status (Typecast's 404: the speak is gone)
        assert outcome.message, f"{kind}: HTTP {outcome.raw_status} without a message"
        return
    provider = kind.split(".")[0]
    raw = outcome.raw_status.strip().upper() if provider == "camb" else outcome.raw_status
    expected = DOCUMENTED[provider].get(raw)
    if expected is None:
        assert outcome.state is State.RUNNING, f"{kind}: unknown {raw!r} gave {outcome.state}"
        assert "unknown" in (outcome.message or ""), f"{kind}: {raw!r} without a message"
    elif outcome.state is not expected:
        assert expected is State.SUCCEEDED and outcome.state is State.RUNNING, (
            f"{kind}: {raw!r} gave {outcome.state}, not {expected}"
        )
        assert outcome.message, f"{kind}: {raw!r} looked at again without a message"


@pytest.fixture(scope="module")
def clients():
    return {
        "typecast": tn.Typecast(api_key="tc-key-0123456789", base_url=API, api="legacy"),
        "camb": tn.Camb(api_key="camb-key-0123456789", base_url=API),
        "aspose": tn.Aspose(trial=True, base_url=API),
    }


def operations(clients):
    """Every provider Operation there is, built as its client builds it."""
    tc, cb, ap = clients["typecast"], clients["camb"], clients["aspose"]
    text = {"text": "Hello there."}
    return {
        "typecast.speak": (
            typecast.SpeakOperation({**text, "actor_id": "0" * 24, "lang": "auto"}, "v"),
            {"speak_v2_url": f"{API}/api/speak/v2/{'0' * 24}"},
            tc,
        ),
        "typecast.speak(v1)": (
            typecast.SpeakOperation({**text, "actor_id": "0" * 24, "lang": "auto"}, "v"),
            {"speak_url": f"{API}/api/speak/{'0' * 24}"},
            tc,
        ),
        "camb.tts": (
            camb.TtsOperation("tts", {**text, "voice_id": 1, "language": 1}, "v"),
            {"task_id": "t-1", "run_id": 7},
            cb,
        ),
        "camb.translated-tts": (
            camb.TtsOperation("translated-tts", {**text, "voice_id": 1}, "v"),
            {"task_id": "t-1", "run_id": 7},
            cb,
        ),
        "camb.text-to-voice": (
            camb.TextToVoiceOperation({**text, "voice_description": "calm"}),
            {"task_id": "t-1", "run_id": 7},
            cb,
        ),
        "aspose.text_to_speech": (
            aspose.SpeechOperation(ap, {**text, "settings": {"language": "English"}}, trial=True),
            {"task_id": "0f8fad5b-d9cb-469f-a165-70867728950e"},
            ap,
        ),
    }


# ------------------------------------------------------------------ the properties
@SETTINGS
@given(answer=http_answers(), which=st.integers(min_value=0, max_value=5))
def test_submit_parsers_give_an_observation_or_a_typed_error(clients, answer, which):
    name, (operation, _, client) = list(operations(clients).items())[which]
    check(f"{name} submit", lambda: operation.submit(call_for(client, answer, "submit")))


@SETTINGS
@given(answer=http_answers(), which=st.integers(min_value=0, max_value=5))
def test_poll_parsers_give_an_observation_or_a_typed_error(clients, answer, which):
    name, (operation, ids, client) = list(operations(clients).items())[which]
    check(f"{name} poll", lambda: operation.poll(call_for(client, answer, "poll"), ids))


# What each poll parser can hand to its fetch step (Typecast: the audio URL it found, a
# string; Aspose: the whole Completed answer, a dict; CAMB: nothing, its ids are enough).
HANDOVER = {"typecast": URLS, "camb": st.none(), "aspose": shaped(provider_values)}


@SETTINGS
@given(answer=http_answers(), which=st.integers(min_value=0, max_value=5), data=st.data())
def test_fetch_parsers_give_audio_or_a_typed_error(clients, answer, which, data):
    name, (operation, ids, client) = list(operations(clients).items())[which]
    payload = data.draw(HANDOVER[operation.provider])
    seen = Observation(State.SUCCEEDED, raw_status="done", payload=payload)
    call = call_for(client, answer, "fetch")
    TRIED[f"{name} fetch"] += 1
    try:
        result = operation.fetch(call, ids, seen)
    except TTSError as error:
        assert str(error).strip()
        return
    clips = result if isinstance(result, list) else [result]
    assert clips and all(isinstance(clip, Clip) and clip.duration_s > 0 for clip in clips)


@SETTINGS
@given(
    status=statuses,
    body=bodies,
    retry=retry_afters,
    which=st.sampled_from(["typecast", "camb", "aspose"]),
)
def test_error_answers_become_typed_errors_in_the_providers_words(
    clients, status, body, retry, which
):
    client = clients[which]
    headers = {"Content-Type": "application/json"} | ({"Retry-After": retry} if retry else {})
    call = call_for(client, (status, headers, body), "poll")
    TRIED[f"{which} error answer"] += 1
    try:
        response = call.request("GET", "/anything")
    except TTSError as error:
        assert str(error).strip() and (error.retry_after is None or error.retry_after >= 0)
        return
    assert response.status_code < 400


@SETTINGS
@given(data=bodies, content_type=content_types)
def test_clip_validation_accepts_only_decodable_audio(data, content_type):
    TRIED["Clip.from_bytes"] += 1
    try:
        clip = Clip.from_bytes(data, content_type=content_type)
    except TTSError as error:
        assert isinstance(error, tn.BadAudio) and "bytes" in str(error)
        return
    assert clip.duration_s > 0 and clip.format in ("wav", "mp3", "flac")


@SETTINGS
@given(value=st.none() | st.text(max_size=40) | retry_afters)
def test_retry_after_is_never_negative_or_a_crash(value):
    TRIED["Retry-After"] += 1
    seconds = parse_retry_after(value)
    assert seconds is None or seconds >= 0


@SETTINGS
@given(
    options=st.dictionaries(
        st.sampled_from([*typecast.RANGES, "xapi_hd", "xapi_audio_format", "duration",
                         "emotion_prompt", "max_second", "colour"]),
        provider_values,
        max_size=3,
    ),
    text=st.text(max_size=30),
    lang=st.sampled_from([*typecast.LANGS, "fr-fr", "EN", ""]),
)  # fmt: skip
def test_user_input_is_validated_before_any_request(clients, options, text, lang):
    TRIED["typecast input"] += 1
    client = clients["typecast"]
    try:
        body = client._body(text, "0" * 24, lang, options)
    except tn.InvalidInput as error:
        assert str(error).strip()
        return
    assert body["text"] == text.strip() and body["lang"] == lang
    json.dumps(body, allow_nan=False)  # what passes validation can be sent as JSON


# ------------------------------------------------------------------ the engine survives
class Broken(Exception):
    def __str__(self) -> str:
        raise RuntimeError("even describing this fails")


SURPRISES = [
    ValueError("bad value"),
    KeyError("speak_v2_url"),
    TypeError("'NoneType' object is not subscriptable"),
    RecursionError("maximum recursion depth exceeded"),
    MemoryError(),
    UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
    Broken(),
    SystemExit(3),
    KeyboardInterrupt(),
    GeneratorExit(),
    tn.ProviderError("typed", provider="fake"),
]


class Chaotic:
    """An Operation that misbehaves at one step: raises, or returns something absurd."""

    provider = "fake"
    kind = "speak"

    def __init__(self, step: str, surprise) -> None:
        self.step = step
        self.surprise = surprise

    def _act(self, step: str, normal):
        if step != self.step:
            return normal
        if isinstance(self.surprise, BaseException):
            raise self.surprise
        return self.surprise

    def submit(self, call):
        return self._act("submit", Observation(State.PENDING, ids={"task": 1}))

    def poll(self, call, ids):
        return self._act("poll", Observation(State.SUCCEEDED, raw_status="done"))

    def fetch(self, call, ids, seen):
        return self._act("fetch", "audio")


def test_the_scheduler_survives_operations_that_raise_anything(capsys):
    scheduler = Scheduler(max_workers=4)
    transport = Transport("http://127.0.0.1:9", provider="fake")
    absurd = [None, "done", 42, Observation(state="DONE"), object()]  # type: ignore[arg-type]
    jobs = []
    for step in ("submit", "poll", "fetch"):
        for surprise in SURPRISES + absurd:
            job = Job(
                Chaotic(step, surprise),
                transport=transport,
                scheduler=scheduler,
                policy=tn.Fixed(0.01),
                min_interval=0.0,
                timeout=5.0,
                request={"text": "x"},
            )
            job.observe(lambda job: 1 / 0)  # a broken observer on top
            jobs.append(job.start())
    t0 = time.monotonic()
    for job in jobs:
        try:
            job.wait(10)
        except TTSError:
            pass
        assert job.done() and job.state.terminal, job.status_line()
        if job.error is not None:
            assert str(job.error)
    assert time.monotonic() - t0 < 10
    assert scheduler._thread.is_alive()
    healthy = Job(
        Chaotic("none", None),
        transport=transport,
        scheduler=scheduler,
        policy=tn.Fixed(0.01),
        min_interval=0.0,
        timeout=5.0,
        request={"text": "x"},
    ).start()
    assert healthy.wait(5) == "audio"
    for job in jobs:
        if job.state is State.FAILED:
            expected = (
                "interrupted"  # Ctrl-C / sys.exit(): the job ends, then they propagate
                if isinstance(job._op.surprise, (KeyboardInterrupt, SystemExit))
                else "unexpected problem"
            )
            assert expected in str(job.error) or "typed" in str(job.error), (
                job._op.step,
                job._op.surprise,
                str(job.error),
            )
    # a crash after the submit may have been sent: flagged, never re-sent (a typed error
    # without an answer, like a 500, means "not accepted")
    submit_crashes = [
        job
        for job in jobs
        if job._op.step == "submit" and not isinstance(job._op.surprise, TTSError)
    ]
    assert all(job.submit_unconfirmed for job in submit_crashes if job.state is State.FAILED)
    TRIED["raising Operations"] += len(jobs)
    scheduler.shutdown()
    assert threading.active_count() < 100


def test_zz_report_how_many_malformed_inputs_were_tried(capsys, clients):
    """Runs after the properties above (by name): each property that ran tried its full
    150 inputs, and the submit, poll and fetch properties reached every provider's parser."""
    with capsys.disabled():
        total = sum(TRIED.values())
        print(f"\nmalformed inputs tried: {total} — " + ", ".join(
            f"{name} {count}" for name, count in sorted(TRIED.items())))  # fmt: skip
    assert TRIED, "no property ran before this report: run the whole file"
    names = set(operations(clients))
    for step in ("submit", "poll", "fetch"):
        tried = {kind.rsplit(" ", 1)[0]: n for kind, n in TRIED.items() if kind.endswith(step)}
        if tried:
            assert set(tried) == names, f"{step}: parsers never tried: {names - set(tried)}"
            assert sum(tried.values()) >= SETTINGS.max_examples, (step, tried)
    answers = {kind for kind in TRIED if kind.endswith(" error answer")}
    if answers:
        assert answers == {f"{p} error answer" for p in ("typecast", "camb", "aspose")}
        assert sum(TRIED[kind] for kind in answers) >= SETTINGS.max_examples
    for kind in ("Clip.from_bytes", "Retry-After", "typecast input"):
        assert TRIED.get(kind, SETTINGS.max_examples) >= SETTINGS.max_examples, kind
