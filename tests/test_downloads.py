"""Downloads end on time: a body that trickles in (a few bytes a second keeps every gap under
the read timeout) stops at `download_timeout` and frees its worker, so stalled downloads
cannot hold the engine's workers and stop other jobs from polling."""

from __future__ import annotations

import socket
import threading
import time

import pytest

import tts_nb as tn
from tts_nb.simulator.typecast import ACTORS
from tts_nb.transport import Transport

from .conftest import FAST, wait_until
from .test_security import Stub, as_json

KEY = "tc-live-0123456789abcdef"
STALLED = 8  # as many as the default scheduler's workers for submits and polls
DOWNLOAD_WORKERS = 4  # the default scheduler's download lane
HELD = 1.5  # each stalled download's download_timeout


class Loopback:
    """A server on 127.0.0.1 that serves each connection with `_serve` on a thread of its own."""

    def __init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self._sock.close()


class Trickle(Loopback):
    """A server on 127.0.0.1 that promises 64 KiB and sends 20 bytes a second, for at most
    `cap` seconds a connection (before the fix, a download held its worker that long)."""

    def __init__(self, cap: float = 10.0) -> None:
        self.cap = cap
        self.open = 0
        self._lock = threading.Lock()
        super().__init__()

    def _serve(self, conn: socket.socket) -> None:
        with self._lock:
            self.open += 1
        try:
            conn.recv(65536)
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: audio/wav\r\nContent-Length: 65536\r\n\r\n"
            )
            end = time.monotonic() + self.cap
            while time.monotonic() < end:
                conn.sendall(b"R")
                time.sleep(0.05)
        except OSError:
            pass  # the client gave up: what the fix is for
        finally:
            conn.close()
            with self._lock:
                self.open -= 1


@pytest.fixture
def trickle():
    server = Trickle()
    yield server
    server.close()


def test_a_trickling_body_ends_at_the_download_timeout(trickle):
    transport = Transport(trickle.url, provider="cdn", download_timeout=1.0)
    records = []
    with pytest.raises(tn.ProviderError, match=r"took longer than 1 s.*download_timeout"):
        transport.request("GET", "/a.wav", step="fetch", recorder=records.append)
    held = records[-1].latency_s
    assert 1.0 <= held < 1.5, held  # was 10 s here (the server's cap), ~55 min for 64 KiB


def test_stalled_downloads_do_not_stop_other_jobs(trickle, sim):
    def api(method, path, headers):
        if method == "POST":
            return as_json({"result": {"speak_v2_url": f"{stub.url}/api/speak/v2/{'d' * 24}"}})
        return as_json({"result": {"status": "done", "audio_download_url": f"{trickle.url}/a"}})

    stub = Stub(api)
    try:
        stalled_client = tn.Typecast(
            api_key=KEY,
            base_url=stub.url,
            api="legacy",
            policy=tn.Fixed(0.05, timeout=60),
            min_interval=1.0,  # refetches one second apart: room for others in between
            max_concurrent=STALLED,
        )
        stalled_client.transport.download_timeout = HELD
        stalled = [
            stalled_client.speak(f"Stalled download {i}.", actor_id=ACTORS[0].actor_id)
            for i in range(STALLED)
        ]
        wait_until(  # every download worker is stuck in a trickle
            lambda: trickle.open >= DOWNLOAD_WORKERS,
            f"not all {DOWNLOAD_WORKERS} download workers got stuck in the trickle",
        )
        normal = tn.Typecast(
            api_key=sim.credentials["typecast_api_key"],
            base_url=sim.urls["typecast"],
            api="legacy",
            policy=FAST,
            min_interval=0.05,
        ).speak("A normal job among stalled ones.", actor_id=ACTORS[0].actor_id)
        assert normal.wait(60).duration_s > 0
        for job in stalled:
            with pytest.raises(tn.ProviderError, match="took longer than 1.5 s"):
                job.wait(60)
    finally:
        stub.close()
    waited_for_a_worker = normal.rows[0]["elapsed_s"]  # from speak() to its submit
    looked = [r for r in normal.rows if r["step"] in ("submit", "poll")]
    normal_polled = max(row["time"] + (row["latency_s"] or 0) for row in looked)
    fetch_rows = [r for job in stalled for r in job.rows if r["step"] == "fetch"]
    first_freed = min(r["time"] + r["latency_s"] for r in fetch_rows)
    assert len(fetch_rows) == 3 * STALLED, len(fetch_rows)
    assert max(r["latency_s"] for r in fetch_rows) < HELD + 0.5  # each held its worker HELD s
    # The normal job's submit and polls never waited for a stalled download to let go (it
    # waited ~10 s before downloads ended on time, and up to HELD s while they shared a pool)
    assert waited_for_a_worker < HELD / 2, waited_for_a_worker
    assert normal_polled < first_freed, (normal_polled, first_freed)


class Canned(Loopback):
    """A server on 127.0.0.1 that answers every connection with `head` + `body` and then
    either closes the connection or holds it open, silent, for `hold` seconds."""

    def __init__(self, head: bytes, body: bytes = b"", hold: float = 0.0) -> None:
        self.head, self.body, self.hold = head, body, hold
        super().__init__()

    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.recv(65536)
            conn.sendall(self.head + self.body)
            time.sleep(self.hold)
        except OSError:
            pass
        finally:
            conn.close()


@pytest.fixture
def canned():
    made = []

    def serve(head: bytes, body: bytes = b"", hold: float = 0.0) -> Canned:
        made.append(Canned(head, body, hold))
        return made[-1]

    yield serve
    for server in made:
        server.close()


WAV_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: audio/wav\r\nContent-Length: 1000\r\n\r\n"


@pytest.mark.parametrize("sent, said", [(b"", "0 bytes"), (b"RIFF.", "5 bytes")])
def test_a_server_gone_silent_is_cut_off_at_the_download_timeout(canned, sent, said):
    server = canned(WAV_HEAD, sent, hold=5.0)
    # each read may wait 3 s (the read timeout), but none waits past the 0.3 s deadline
    transport = Transport(server.url, provider="cdn", timeout=(2.0, 3.0), download_timeout=0.3)
    records = []
    started = time.monotonic()
    with pytest.raises(tn.ProviderError) as caught:
        transport.request("GET", "/a.wav", step="fetch", recorder=records.append)
    # at the 0.3 s deadline, not at the 3 s read timeout (nor at a 1 s floor on each read)
    assert time.monotonic() - started < 0.9
    assert caught.value.message == (
        f"cdn: the download took longer than 0.3 s (the transport's download_timeout) and was "
        f"stopped after {said}. Try again; raise client.transport.download_timeout on a slow "
        "connection."
    )
    assert records[-1].status == 200 and records[-1].error == caught.value.message
    transport.close()


def gzipped(data: bytes) -> bytes:
    import gzip

    return gzip.compress(data)


def test_a_gzipped_answer_arrives_decoded_and_its_size_limit_counts_decoded_bytes(canned):
    packed = gzipped(b"RIFF" + b"\x00" * 4000)
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: audio/wav\r\nContent-Encoding: gzip\r\n"
        b"Content-Length: " + str(len(packed)).encode() + b"\r\n\r\n"
    )
    server = canned(head, packed)
    transport = Transport(server.url, provider="cdn")
    response = transport.request("GET", "/a.wav", step="fetch")
    assert response.content == b"RIFF" + b"\x00" * 4000
    small = Transport(server.url, provider="cdn", max_bytes=1024)
    with pytest.raises(tn.ProviderError, match="larger than 1,024 bytes, the transport's max"):
        small.request("GET", "/a.wav", step="fetch")
    transport.close()
    small.close()


def test_a_body_cut_short_or_undecodable_is_no_answer(canned):
    short = canned(WAV_HEAD, b"RIFF")  # promises 1000 bytes, sends 4 and hangs up
    transport = Transport(short.url, provider="cdn", retries=0)
    with pytest.raises(tn.ProviderError) as caught:
        transport.request("POST", "/jobs", step="submit")
    assert caught.value.message.startswith("cdn: no answer to POST (ChunkedEncodingError: ")
    assert caught.value.maybe_sent is True
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: audio/wav\r\nContent-Encoding: gzip\r\n"
        b"Content-Length: 12\r\n\r\n"
    )
    broken = canned(head, b"not gzip at!")
    transport = Transport(broken.url, provider="cdn", retries=0)
    with pytest.raises(tn.ProviderError) as caught:
        transport.request("GET", "/a.wav", step="fetch")
    assert caught.value.message == (
        "cdn: no answer to GET (ContentDecodingError: ('Received response with content-encoding:"
        " gzip, but failed to decode it.', error('Error -3 while decompressing data: incorrect "
        "header check')))."
    )
    transport.close()
