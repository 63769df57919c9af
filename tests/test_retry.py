"""One `tn.Retry` value: its delays, the `retryable` flag on every error the transport makes,
and each retry path (GET re-sends, fetches, refused submits, Aspose tokens) changed by the
value a client is given, over real HTTP against the simulator."""

from __future__ import annotations

import http.server
import socket
import threading
import time

import pytest

import tts_nb as tn
from tts_nb.clip import Clip
from tts_nb.errors import (
    AuthError,
    BadAudio,
    InvalidInput,
    NotFound,
    ProviderError,
    QuotaError,
    RefusedURL,
)
from tts_nb.retry import DEFAULT_RETRY, Retry
from tts_nb.transport import Transport

from .conftest import FAST, legacy_typecast


# ------------------------------------------------------------------ the value
def test_default_delays_are_urllib3s_old_backoff():
    assert list(Retry().delays()) == [0.0, 0.4]  # three tries: at once, then 0.4 s later
    assert DEFAULT_RETRY == Retry()


def test_delays_grow_by_the_multiplier_up_to_the_maximum():
    retry = Retry(initial=1.0, multiplier=3.0, maximum=5.0, attempts=6)
    assert list(retry.delays()) == [0.0, 1.0, 3.0, 5.0, 5.0]
    assert list(retry.with_attempts(1).delays()) == []
    assert list(Retry(initial=0.5, multiplier=1.0, attempts=4).delays()) == [0.0, 0.5, 0.5]


def test_copies_leave_the_original_alone_and_the_repr_lists_every_field():
    base = Retry()
    changed = base.with_delay(initial=1.0).with_timeout(9.0).with_attempts(5)
    assert (base.initial, base.timeout, base.attempts) == (0.4, None, 3)
    assert (changed.initial, changed.maximum, changed.timeout, changed.attempts) == (1, 2, 9, 5)
    assert base.replace(maximum=7.0).maximum == 7.0
    with pytest.raises(AttributeError):
        base.attempts = 4  # frozen
    assert repr(base) == (
        "Retry(initial=0.4, maximum=2, multiplier=2, attempts=3, timeout=None, "
        "predicate=is_retryable)"
    )
    never = base.with_predicate(lambda error: False)
    assert not never.retryable(ProviderError("x")) and base.retryable(ProviderError("x"))


@pytest.mark.parametrize("bad", [dict(attempts=0), dict(attempts=True), dict(initial=-1)])
def test_nonsense_values_are_refused(bad):
    with pytest.raises((ValueError, TypeError)):
        Retry(**bad)


@pytest.mark.parametrize(
    "bad, error, message",
    [
        (dict(attempts=2.5), TypeError, "attempts must be a whole number, not 2.5"),
        (dict(attempts=True), TypeError, "attempts must be a whole number, not True"),
        (dict(attempts=0), ValueError, "attempts must be >= 1 (1: never try again)"),
        (dict(initial=-1), ValueError, "initial and maximum must be >= 0, and multiplier >= 1"),
        (dict(maximum=-0.5), ValueError, "initial and maximum must be >= 0, and multiplier >= 1"),
        (dict(multiplier=0.5), ValueError, "initial and maximum must be >= 0, and multiplier >= 1"),
        (dict(timeout=-1), ValueError, "timeout must be >= 0 seconds, or None"),
    ],
)
def test_a_refused_value_says_which_field_is_wrong_and_what_it_must_be(bad, error, message):
    with pytest.raises(error) as caught:
        Retry(**bad)
    assert str(caught.value) == message


def test_zero_waits_and_a_zero_timeout_are_allowed():
    assert list(Retry(initial=0, maximum=0, attempts=4).delays()) == [0.0, 0.0, 0.0]
    assert list(Retry(initial=0, multiplier=1, attempts=3).delays()) == [0.0, 0.0]
    assert Retry(timeout=0).timeout == 0  # a refused submit is never sent again


def test_with_delay_changes_only_the_waits_it_is_given():
    base = Retry(initial=0.5, maximum=4.0, multiplier=3.0)
    assert (base.with_delay(maximum=8.0).initial, base.with_delay(maximum=8.0).maximum) == (
        0.5,
        8.0,
    )
    assert base.with_delay(multiplier=1.5).multiplier == 1.5
    assert base.with_delay(initial=1.0).maximum == 4.0
    assert base.with_delay(initial=1.0).multiplier == 3.0
    kept = base.with_delay()
    assert (kept.initial, kept.maximum, kept.multiplier) == (0.5, 4.0, 3.0)


class _Never:
    """A predicate object without a __qualname__ of its own."""

    def __call__(self, error):
        return False

    def __repr__(self):
        return "Never()"


def test_the_repr_names_a_predicate_object_by_its_repr():
    assert repr(Retry(predicate=_Never())) == (
        "Retry(initial=0.4, maximum=2, multiplier=2, attempts=3, timeout=None, predicate=Never())"
    )


# ------------------------------------------------------------------ errors say it
class _Stub(http.server.BaseHTTPRequestHandler):
    """/status/NNN answers NNN; /reset drops the connection; /stall answers too late."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path == "/reset":
            self.connection.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
            )
            self.connection.close()
            return
        if self.path == "/stall":
            time.sleep(1.0)
        status = int(self.path.rsplit("/", 1)[-1]) if self.path.startswith("/status/") else 200
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")


@pytest.fixture(scope="module")
def stub():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


STATUSES = {
    400: (InvalidInput, False),
    401: (AuthError, False),
    402: (QuotaError, False),
    403: (AuthError, False),
    404: (NotFound, False),
    408: (ProviderError, True),
    409: (ProviderError, True),
    422: (InvalidInput, False),
    429: (QuotaError, True),
    500: (ProviderError, True),
    502: (ProviderError, True),
    503: (ProviderError, True),
    504: (ProviderError, True),
}


@pytest.mark.parametrize("status", sorted(STATUSES))
def test_each_status_error_says_whether_it_is_retryable(stub, status):
    kind, retryable = STATUSES[status]
    transport = Transport(stub, provider="acme", retries=0)
    with pytest.raises(kind) as info:
        transport.request("GET", f"/status/{status}", step="poll")
    assert info.value.status_code == status
    assert info.value.retryable is retryable


def test_lost_connections_and_timeouts_are_retryable(stub):
    transport = Transport(stub, provider="acme", retries=0, timeout=(1.0, 0.2))
    for path in ("/reset", "/stall"):
        with pytest.raises(ProviderError, match="no answer to GET") as info:
            transport.request("GET", path, step="poll")
        assert info.value.retryable is True


def test_bad_audio_is_retryable_and_a_refused_url_never_is(stub):
    with pytest.raises(BadAudio) as info:
        Clip.from_bytes(b"<html>not audio</html>")
    assert info.value.retryable is True
    transport = Transport(stub, provider="acme")
    with pytest.raises(RefusedURL) as refused:
        transport.request("GET", "file:///etc/passwd", step="fetch")
    assert refused.value.retryable is False


# ------------------------------------------------------------------ each path uses it


@pytest.fixture
def actor(sim):
    return legacy_typecast(sim).actors().actor_id.iloc[0]


def test_the_value_sets_how_often_the_transport_resends_a_get(sim, actor):
    poll = dict(origin="typecast", method="GET", path="/api/speak/v2/")
    sim.faults.script(500, 502, 504, **poll)
    job = legacy_typecast(sim, retry=Retry(attempts=4)).speak("Four tries.", actor_id=actor)
    assert job.wait(30).duration_s > 0
    assert [r.status for r in sim.log.find(**poll)][:4] == [500, 502, 504, 200]
    assert job.history_full.attempt.tolist()[1:5] == [1, 2, 3, 4]  # one poll, four tries

    sim.log.clear()
    sim.faults.script(500, 502, **poll)
    job = legacy_typecast(sim, retry=Retry(attempts=1)).speak("One try.", actor_id=actor)
    assert job.wait(30).duration_s > 0
    assert [r.status for r in sim.log.find(**poll)][:3] == [500, 502, 200]
    polls = job.history_full[job.history_full.step == "poll"]
    assert polls.attempt.tolist()[:3] == [1, 1, 1]  # each failure went back to the engine


@pytest.mark.parametrize("retry, fetches", [(None, 3), (Retry(attempts=2), 2)])
def test_the_value_sets_how_often_a_broken_download_is_fetched(sim, actor, retry, fetches):
    sim.faults.script(*["malformed"] * 5, origin="cdn", method="GET")
    job = legacy_typecast(sim, retry=retry).speak("Broken audio.", actor_id=actor)
    with pytest.raises(BadAudio):
        job.wait(30)
    assert len(sim.log.find(origin="cdn", method="GET")) == fetches


def test_the_value_decides_whether_and_how_long_a_refused_submit_is_sent_again(sim, actor):
    def posts():
        return [r.status for r in sim.log.find(origin="typecast", method="POST")]

    sim.faults.retry_after_s = 0.2
    sim.faults.script(429, 429, origin="typecast", method="POST")
    assert legacy_typecast(sim).speak("Default.", actor_id=actor).wait(30).duration_s > 0
    assert posts() == [429, 429, 200]

    sim.log.clear()
    sim.faults.script(429, 429, origin="typecast", method="POST")
    never = Retry(predicate=lambda error: False)
    with pytest.raises(QuotaError):
        legacy_typecast(sim, retry=never).speak("Never again.", actor_id=actor).wait(30)
    assert posts() == [429]

    sim.log.clear()
    sim.faults.script(*[429] * 6, origin="typecast", method="POST")
    brief = Retry(timeout=0.5)  # resends at about 0.2 and 0.4 s; 0.6 s is past it
    with pytest.raises(QuotaError):
        legacy_typecast(sim, retry=brief).speak("Half a second.", actor_id=actor).wait(30)
    assert posts() == [429, 429, 429]


def test_the_value_sets_how_often_a_token_is_requested(sim):
    def client(**kwargs) -> tn.Aspose:
        return tn.Aspose(
            client_id=sim.credentials["aspose_client_id"],
            client_secret=sim.credentials["aspose_client_secret"],
            base_url=sim.urls["aspose"],
            policy=FAST,
            min_interval=0.05,
            **kwargs,
        )

    def token_statuses():
        return [r.status for r in sim.log.find(origin="aspose", path="/connect/token")]

    sim.faults.script(503, origin="aspose", path="/connect/token")
    with pytest.raises(ProviderError, match="no speech was requested"):
        client(retry=Retry(attempts=1)).text_to_speech("No second try.").wait(10)
    assert token_statuses() == [503]

    sim.faults.script(503, origin="aspose", path="/connect/token")
    assert client().text_to_speech("Second try.").wait(30).duration_s > 0
    assert token_statuses() == [503, 503, 200]
