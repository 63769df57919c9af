"""Issue 12: secrets masked in crash and connection texts, resumed jobs looking at the right
time, Ctrl-C in step mode, the decoding cap, and the dependency and ignore-file floors."""

from __future__ import annotations

import io
import re
import socket
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile
from packaging.requirements import Requirement

import tts_nb as tn
from tts_nb import clip as clips
from tts_nb.clock import VirtualClock
from tts_nb.job import Job, Observation
from tts_nb.scheduler import Scheduler
from tts_nb.simulator import Simulator
from tts_nb.state import State
from tts_nb.transport import Transport

from .test_ledger import orphan_copy, other_view

KEY = "tc-live-0123456789abcdef"
ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------ secrets in odd places
class _Crashing:
    """An operation whose submit hits a parser bug that quotes the key near the 500th char."""

    provider = "fake"
    kind = "speak"

    def submit(self, call):
        raise RuntimeError("x" * 490 + f" {KEY} and more")


def test_a_crash_message_never_keeps_a_piece_of_the_key():
    scheduler = Scheduler(VirtualClock())
    transport = Transport("http://127.0.0.1:9", provider="fake", secrets=lambda: [KEY])
    job = Job(
        _Crashing(),
        transport=transport,
        scheduler=scheduler,
        policy=tn.Fixed(1.0),
        min_interval=0.0,
        timeout=10.0,
        request={},
    ).start()
    scheduler.run_virtual()
    assert job.state is State.FAILED and "unexpected problem" in str(job.error)
    # masked before the text is cut at 500 characters: no fragment of the key is left
    texts = [str(job.error), repr(job.error), job.history.to_string(), job.status_line()]
    assert [text for text in texts if KEY[:10] in text] == []
    assert "••••" in str(job.error)


@pytest.fixture
def broken_status_server():
    """A server on 127.0.0.1 whose status line echoes the key: http.client cannot parse it,
    and its text ends up in the connection error."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                conn.sendall(f"BROKEN {KEY} status\r\n\r\n".encode())

    threading.Thread(target=serve, daemon=True).start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    listener.close()


def test_a_connection_error_never_quotes_the_key(broken_status_server):
    client = tn.Typecast(api_key=KEY, base_url=broken_status_server, api="legacy")
    recorded = []
    with pytest.raises(tn.ProviderError, match="no answer to POST") as info:
        client.transport.request("POST", "/api/speak", step="probe", recorder=recorded.append)
    assert "BROKEN" in str(info.value)  # the server's words are kept, the key is not
    assert KEY not in str(info.value) and KEY not in recorded[0].error


# ------------------------------------------------------------------ resume timing
@pytest.mark.parametrize(
    ("dead_for", "first_look", "second_look"),
    [
        (66.0, 0.0, 24.0),  # the look planned at 60 s was missed: now, then the one at 90 s
        (2.0, 58.0, 30.0),  # resumed early: the look planned at 60 s, then 30 s later
    ],
)
def test_a_resumed_job_keeps_the_plan_counted_from_its_submit(dead_for, first_look, second_look):
    with Simulator(speed=1, seed=3) as sim:
        clock = VirtualClock()
        dead = Scheduler(clock)
        options = dict(api_key=sim.credentials["camb_api_key"], base_url=sim.urls["camb"])
        camb = tn.Camb(**options, scheduler=dead)  # policy: Progressive(60, 30, 20, 10, 5)
        voice = int(camb.voices().iloc[0]["voice_id"])
        job = camb.translated_tts("Resume me on time.", voice, "en-us", "fr-fr")
        dead.run_virtual(until=clock.now())  # the submit only: then the kernel "dies"
        assert job.provider_ids and job.polls == 0
        dead.shutdown()
        orphan_copy(other_view(), job.id, f"orphan-{job.id}")
        clock.advance(dead_for)
        sim.advance(dead_for)

        alive = Scheduler(clock)
        (resumed,) = tn.resume(f"orphan-{job.id}", client=tn.Camb(**options, scheduler=alive))
        start = clock.now()
        alive.run_virtual(until=start + first_look - 0.01)
        assert resumed.polls == 0
        alive.run_virtual(until=start + first_look)
        assert resumed.polls == 1 and resumed.state is State.RUNNING
        assert resumed.next_poll_at - clock.wall() == pytest.approx(second_look)


# ------------------------------------------------------------------ Ctrl-C in step mode
def test_ctrl_c_during_a_step_marks_the_job_and_propagates(sim):
    client = tn.Typecast(
        api_key=sim.credentials["typecast_api_key"], base_url=sim.urls["typecast"], api="legacy"
    )
    job = tn.teach.steps(client).speak("Interrupt me.", actor_id="Olivia")
    job.step()  # the submit

    def interrupted(call, ids) -> Observation:
        raise KeyboardInterrupt

    job._op.poll = interrupted
    with pytest.raises(KeyboardInterrupt):
        job.step()
    assert job.state is State.FAILED and "interrupted (KeyboardInterrupt)" in str(job.error)
    assert "Please report it" not in str(job.error)


# ------------------------------------------------------------------ decoding cap
def _silence_wav(seconds: float, rate: int = 8000) -> bytes:
    out = io.BytesIO()
    soundfile.write(out, np.zeros(int(seconds * rate), dtype="float32"), rate, format="WAV")
    return out.getvalue()


def test_decoding_stops_at_the_sample_cap(monkeypatch):
    assert clips.MAX_SAMPLES == 3600 * 48_000 * 2  # an hour of 48 kHz stereo by default
    monkeypatch.setattr(clips, "MAX_SAMPLES", 8000 * 5)  # five seconds of 8 kHz mono
    assert tn.Clip.from_bytes(_silence_wav(4.9)).duration_s == pytest.approx(4.9)
    with pytest.raises(tn.BadAudio, match=r"longer than tts_nb decodes: more than 0.00139 h"):
        tn.Clip.from_bytes(_silence_wav(5.1))


# ------------------------------------------------------------------ project floors
def test_urllib3_floor_excludes_the_gzip_bomb_cve():
    (line,) = re.findall(r'"(urllib3[^"]*)"', (ROOT / "pyproject.toml").read_text())
    urllib3 = Requirement(line)  # (tomllib is not in Python 3.10)
    assert "2.6.2" not in urllib3.specifier and "2.6.3" in urllib3.specifier  # CVE-2025-66471


def test_dotenv_files_are_never_committed():
    assert ".env" in (ROOT / ".gitignore").read_text().split()
