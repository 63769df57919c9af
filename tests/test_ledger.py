"""The job ledger over real HTTP: recorded before sending, reused on re-runs, resumed after a
kernel dies (real subprocesses killed with SIGKILL), shared by concurrent kernels, and sound
after a process is killed in the middle of writing."""

from __future__ import annotations

import hashlib
import json
import os
import queue
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

import tts_nb as tn
from tts_nb.ledger import Ledger
from tts_nb.simulator import Simulator
from tts_nb.state import State

from .conftest import FAST, wait_until


def posts(sim):
    return sim.log.find(origin="typecast", method="POST", path="/api/speak")


def ledger_dir() -> Path:
    return Path(os.environ["TTS_NB_LEDGER"])


def other_view() -> Ledger:
    """The ledger as another process sees it: a connection of its own."""
    return Ledger(ledger_dir())


def child_env(sim, ledger: Path) -> dict[str, str]:
    return {
        **os.environ,
        "TYPECAST_API_KEY": sim.credentials["typecast_api_key"],
        "TTS_NB_TYPECAST_URL": sim.urls["typecast"],
        "TTS_NB_LEDGER": str(ledger),
        "PYTHONUNBUFFERED": "1",
    }


def run_child(code: str, env: dict[str, str], timeout: float = 60) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_a_job_is_recorded_before_its_submit_is_sent(tc, actor, sim):
    seen_at_submit = []
    handle = sim.typecast.handle

    def spy(request):
        if request.method == "POST":
            seen_at_submit.append([(r["state"], r["phase"]) for r in other_view().records()])
        return handle(request)

    sim.typecast.handle = spy
    job = tc.speak("Written down first.", actor_id=actor)
    job.wait(30)
    assert seen_at_submit == [[("PENDING", "submitting")]]
    record = other_view().get(job.id)
    assert record["request"]["text"] == "Written down first."
    assert record["body"]["actor_id"] == actor
    assert len(record["fingerprint"]) == 64


def test_ids_history_state_and_result_are_recorded(tc, actor, sim):
    job = tc.speak("Everything on disk.", actor_id=actor)
    clip = job.wait(30)
    view = other_view()
    record = view.get(job.id)
    assert record["state"] == "SUCCEEDED" and record["phase"] == "done"
    assert record["provider_ids"] == job.provider_ids
    assert record["polls"] == job.polls and record["raw_status"] == "done"
    assert view.rows([job.id]) == job.rows  # every row, with its final annotations
    digest = hashlib.sha256(clip.data).hexdigest()
    stored = ledger_dir() / "results" / digest[:2] / f"{digest}.wav"
    assert stored.read_bytes() == clip.data
    again = view.load_result(record)
    assert again.data == clip.data and again.voice == clip.voice and again.text == clip.text
    key = sim.credentials["typecast_api_key"]
    for path in ledger_dir().rglob("*"):
        if path.is_file():
            assert key.encode() not in path.read_bytes(), path


def test_a_rerun_returns_the_stored_result_without_submitting(tc, actor, sim):
    first = tc.speak("Only once, please.", actor_id=actor)
    clip = first.wait(30)
    again = tc.speak("Only once, please.", actor_id=actor)
    assert again.done() and again.state is State.SUCCEEDED  # at once
    assert again is not first and again.reused_from == first.id
    assert again.wait(0).data == clip.data
    assert len(posts(sim)) == 1
    note = again.history.note.iloc[0]
    assert first.id in note and "force=True" in note and "nothing was sent" in note
    assert again.history.step.tolist() == ["reuse"]
    forced = tc.speak("Only once, please.", actor_id=actor, force=True)
    assert forced.wait(30).duration_s > 0 and forced.reused_from is None
    assert len(posts(sim)) == 2
    jobs = tn.jobs()
    assert jobs.set_index("job").loc[again.id, "note"].startswith("reused the stored result")


def test_the_stored_result_is_reused_across_kernels(sim, actor):
    ledger = ledger_dir()
    out = run_child(
        f"""
        import tts_nb as tn
        tc = tn.Typecast(policy=tn.Fixed(0.05), min_interval=0.05)
        print(tc.speak("Across kernels.", actor_id="{actor}").wait(30).size)
        """,
        child_env(sim, ledger),
    )
    assert int(out) > 1000 and len(posts(sim)) == 1
    client = tn.Typecast(
        api_key=sim.credentials["typecast_api_key"], base_url=sim.urls["typecast"], policy=FAST
    )
    job = client.speak("Across kernels.", actor_id=actor)
    assert job.state is State.SUCCEEDED and job.clip.size == int(out)
    assert len(posts(sim)) == 1


def test_an_identical_running_request_returns_the_same_job(tc, actor, sim):
    first = tc.speak("Patience is a virtue. [[sim:slow]]", actor_id=actor)
    second = tc.speak("Patience is a virtue. [[sim:slow]]", actor_id=actor)
    assert second is first
    assert "identical request" in first.history.note.str.cat(sep=" ")
    first.wait(60)
    assert len(posts(sim)) == 1


def test_an_unconfirmed_submit_is_marked_and_never_resent_silently(tc, actor, sim):
    sim.faults.script("lost_answer", origin="typecast", method="POST")
    job = tc.speak("Lost in the post.", actor_id=actor)
    with pytest.raises(tn.ProviderError, match="did NOT send it again"):
        job.wait(30)
    assert job.submit_unconfirmed
    record = other_view().get(job.id)
    assert record["state"] == "FAILED" and record["submit_unconfirmed"]
    assert "may have reached typecast" in record["error"]
    with pytest.raises(tn.InvalidInput, match=f"job {job.id}.*force=True"):
        tc.speak("Lost in the post.", actor_id=actor)
    assert len(posts(sim)) == 1
    assert tc.speak("Lost in the post.", actor_id=actor, force=True).wait(30).duration_s > 0
    assert len(posts(sim)) == 2
    assert tn.jobs().set_index("job").loc[job.id, "note"].startswith("submit unconfirmed")


def test_an_expired_link_falls_back_to_the_stored_copy(sim, actor):
    client = tn.Typecast(
        api_key=sim.credentials["typecast_api_key"],
        base_url=sim.urls["typecast"],
        policy=tn.Fixed(0.3),
        min_interval=0.05,
    )
    first = client.speak("Keep a copy.", actor_id=actor)
    clip = first.wait(30)
    again = client.speak("Keep a copy.", actor_id=actor, force=True)
    wait_until(lambda: again.provider_ids, "the second submit was never answered")
    sim.advance(25 * 3600)  # the new job's 24-hour link expires before anyone looks
    assert again.wait(30).data == clip.data
    assert again.state is State.EXPIRED and again.error is None
    note = again.history.note.str.cat(sep=" ")
    assert f"stored copy of job {first.id}" in note
    assert other_view().get(again.id)["state"] == "EXPIRED"


def test_an_expired_link_without_a_stored_copy_says_only_a_resubmit_helps(sim, actor):
    client = tn.Typecast(
        api_key=sim.credentials["typecast_api_key"],
        base_url=sim.urls["typecast"],
        policy=tn.Fixed(0.3),
        min_interval=0.05,
    )
    job = client.speak("No copy anywhere.", actor_id=actor)
    wait_until(lambda: job.provider_ids, "the submit was never answered")
    sim.advance(25 * 3600)
    with pytest.raises(tn.ExpiredResult, match="ledger holds no copy") as info:
        job.wait(30)
    message = str(info.value)  # what to do, said once: a new request, charged again
    assert "Only a new speak() request recovers" in message and message.count("again") == 1
    assert job.state is State.EXPIRED


KILLED_KERNEL = """
    import sys, time
    import tts_nb as tn
    tc = tn.Typecast(policy=tn.Fixed(0.05), min_interval=0.05, max_concurrent=2)
    def until(condition, what):
        deadline = time.monotonic() + 30
        while not condition():
            if time.monotonic() > deadline:
                sys.exit("not within 30 s: " + what)
            time.sleep(0.01)

    running = tc.speak("Still thinking about it. [[sim:slow]]", actor_id="{actor}")
    until(lambda: running.provider_ids, "the running job's submit was never answered")
    print("running", running.id, flush=True)
    sys.stdin.readline()  # the test makes the next submit stall at the server
    on_the_wire = tc.speak("Stuck on the wire.", actor_id="{actor}")
    until(lambda: on_the_wire.submit_started_at is not None, "the second submit never started")
    queued = tc.speak("Waiting my turn.", actor_id="{actor}")
    print("wire", on_the_wire.id, flush=True)
    print("queued", queued.id, flush=True)
    time.sleep(60)
"""


def test_resume_after_the_kernel_is_killed_polls_without_submitting_again(actor):
    with Simulator(speed=5, seed=11) as sim:  # slow enough that the job outlives its kernel
        resume_after_kill(sim, actor)


def resume_after_kill(sim, actor):
    ledger = ledger_dir()
    env = child_env(sim, ledger)
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(KILLED_KERNEL.format(actor=actor))],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        ids = {}
        line = child.stdout.readline().split()
        assert line, "the child kernel ended early (its stderr is above)"
        ids[line[0]] = line[1]
        sim.faults.stall_s = 2.0  # the server handles it after the kernel is gone
        sim.faults.script("timeout", origin="typecast", method="POST")
        child.stdin.write("go\n")
        child.stdin.flush()
        for _ in range(2):
            line = child.stdout.readline().split()
            assert line, "the child kernel ended early (its stderr is above)"
            ids[line[0]] = line[1]
        wait_until(  # the submit is stalled at the server
            lambda: sim.faults.injected.get("timeout"), "the second submit never reached the server"
        )
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    view = other_view()
    assert view.get(ids["running"])["phase"] == "submitted"
    assert view.get(ids["wire"])["phase"] == "submitting"
    assert view.get(ids["queued"])["phase"] == "queued"

    sim.advance(3600)  # meanwhile the provider finished the running job
    out = run_child(
        """
        import json
        import tts_nb as tn
        before = tn.jobs(ledger=True)
        earlier_rows = tn.history(ledger=True).job.value_counts().to_dict()
        client = tn.Typecast(policy=tn.Fixed(0.05), min_interval=0.05)
        jobs = {job.id: job for job in tn.resume(client=client)}
        results = {}
        for job_id, job in jobs.items():
            try:
                results[job_id] = ["ok", job.wait(30).duration_s, job.history.step.tolist()]
            except Exception as exc:
                results[job_id] = [type(exc).__name__, str(job.error or exc), job.state.value]
        print(json.dumps({
            "before": before[["job", "state", "live", "note"]].astype(str).values.tolist(),
            "earlier_rows": earlier_rows,
            "results": results,
        }))
        """,
        env,
    )
    report = json.loads(out)
    before = {row[0]: row for row in report["before"]}
    _, state, live, note = before[ids["running"]]
    assert state in ("PENDING", "RUNNING") and live == "False"
    assert note == "not polled by this kernel: tn.resume() continues it"
    assert report["earlier_rows"][ids["running"]] >= 1  # its submit (and polls), from the ledger
    results = report["results"]
    status, duration, steps = results[ids["running"]]
    assert status == "ok" and duration > 0
    assert steps[0] == "submit" and "resume" in steps and steps[-1] == "fetch"
    kind, message, state = results[ids["wire"]]
    assert (kind, state) == ("ProviderError", "FAILED")
    assert "may have reached the provider" in message and "did NOT send it again" in message
    kind, message, state = results[ids["queued"]]
    assert state == "CANCELLED" and "nothing was sent" in message
    # the stalled one reaches the log at last: the running one and it, nothing again
    wait_until(lambda: len(posts(sim)) >= 2, "the stalled submit never reached the log", 5)
    assert len(posts(sim)) == 2, "a submit was sent again"
    view = other_view()
    assert view.get(ids["wire"])["submit_unconfirmed"]
    assert view.get(ids["running"])["state"] == "SUCCEEDED"

    requests_before = len(sim.log.find())
    out = run_child(
        f"""
        import tts_nb as tn
        job, = tn.resume("{ids["running"]}")
        print(job.state.value, job.wait(0).size, len(tn.resume()))
        """,
        env,
    )
    state, size, unfinished = out.split()
    assert state == "SUCCEEDED" and int(size) > 1000 and unfinished == "0"
    assert len(sim.log.find()) == requests_before  # loaded from the store, not downloaded


def insert_running(ledger: Ledger, sim, job_id: str) -> None:
    """A RUNNING record as a kernel that died would have left it (no owner any more)."""
    now = time.time()
    with ledger._transaction() as db:
        db.execute(
            "INSERT INTO jobs (id, provider, kind, endpoint, fingerprint, request, body,"
            " provider_ids, state, phase, created_at, updated_at) VALUES"
            " (?, 'typecast', 'speak', ?, ?, '{}', '{}', ?, 'RUNNING', 'submitted', ?, ?)",
            (
                job_id,
                sim.urls["typecast"],
                job_id,
                json.dumps({"speak_v2_url": sim.urls["typecast"] + "/api/speak/v2/" + "0" * 24}),
                now,
                now,
            ),
        )


def test_resume_without_a_key_refuses_and_leaves_the_job_alone(sim):
    ledger = other_view()
    insert_running(ledger, sim, "orphan000001")
    with pytest.raises(tn.AuthError, match=r"tn.login\('typecast'\)"):
        tn.resume()
    assert ledger.get("orphan000001")["state"] == "RUNNING"
    assert sim.log.find() == []


def test_resume_of_an_unknown_id_names_the_fix():
    with pytest.raises(tn.NotFound, match="tn.jobs"):
        tn.resume("nope")


def test_concurrent_kernels_share_one_ledger(tmp_path):
    writer = """
        import sys, time
        from tts_nb.ledger import Ledger
        from tts_nb.state import State

        class Job:
            provider, kind, request, raw_status = "typecast", "speak", {}, None
            error = finished_at = None
            def __init__(self, i):
                self.id = f"{sys.argv[1]}-{i}"
                self.state, self.polls, self.provider_ids = State.PENDING, 0, {}
                self.rows = []
                self.created_at = time.time()
                self.clip = None

        ledger = Ledger(sys.argv[2])
        for i in range(60):
            job = Job(i)
            ledger.record_new(job, fingerprint=job.id, endpoint="http://x", embedded=False)
            for n in range(3):
                job.rows.append({"n": n + 1, "note": f"row {n}"})
                job.polls = n
                ledger.sync(job)
            job.state = State.FAILED
            ledger.sync(job)
    """
    children = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(writer), f"k{k}", str(tmp_path / "shared")],
            stderr=subprocess.PIPE,
            text=True,
        )
        for k in range(4)
    ]
    for child in children:
        _, err = child.communicate(timeout=120)
        assert child.returncode == 0, err[-2000:]
    ledger = Ledger(tmp_path / "shared")
    records = ledger.records()
    assert len(records) == 240 and {r["state"] for r in records} == {"FAILED"}
    assert len(ledger.rows()) == 720
    assert ledger.integrity() == "ok"


MID_WRITE = """
    import io, sys, time
    import numpy as np, soundfile
    from tts_nb.clip import Clip
    from tts_nb.ledger import Ledger
    from tts_nb.state import State

    class Job:
        provider, kind, request, raw_status, error = "typecast", "speak", {}, None, None
        def __init__(self, i, clip):
            self.id = f"job-{i}"
            self.state, self.polls, self.provider_ids, self.rows = State.PENDING, 0, {}, []
            self.created_at = self.finished_at = time.time()
            self.clip = clip

    ledger = Ledger(sys.argv[1])
    rng = np.random.default_rng(int(sys.argv[2]))
    print("ready", flush=True)
    for i in range(10_000):
        buffer = io.BytesIO()
        soundfile.write(buffer, rng.uniform(-0.5, 0.5, 16000 * 20), 16000, format="WAV")
        job = Job(i, Clip.from_bytes(buffer.getvalue(), text=f"clip {i}"))
        ledger.record_new(job, fingerprint=job.id, endpoint="http://x", embedded=False)
        job.state = State.SUCCEEDED
        ledger.sync(job)
        print("synced", i, flush=True)
"""


@pytest.mark.parametrize("after", [1, 2, 3])
def test_a_process_killed_mid_write_leaves_no_corrupt_entry(tmp_path, after):
    """Killed as soon as `after` jobs are stored, while it writes the next one. (Where exactly
    the kill lands is luck; a blob write failing halfway is forced in test_promises.py.)"""
    directory = tmp_path / "crash"
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(MID_WRITE), str(directory), str(after)],
        stdout=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in child.stdout], daemon=True).start()
    try:
        for expected in ["ready", *(f"synced {i}" for i in range(after))]:
            try:
                line = lines.get(timeout=60).strip()
            except queue.Empty:
                pytest.fail(f"the child did not print {expected!r} within 60 s")
            assert line == expected
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    ledger = Ledger(directory)
    assert ledger.integrity() == "ok"
    records = ledger.records()
    finished = [r for r in records if r["state"] == "SUCCEEDED"]
    assert len(finished) >= after, f"{after} jobs were stored before the kill"
    for record in finished:  # every finished record's result is whole and verified
        clip = ledger.load_result(record)
        assert clip is not None and clip.duration_s == pytest.approx(20.0)
    for path in (directory / "results").rglob("*.wav"):  # no partial file has a final name
        assert hashlib.sha256(path.read_bytes()).hexdigest() == path.stem


def test_an_unusable_ledger_warns_once_and_jobs_still_run(tc, actor, monkeypatch, tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the ledger directory should be")
    monkeypatch.setenv("TTS_NB_LEDGER", str(blocker / "ledger"))
    with pytest.warns(RuntimeWarning, match="cannot be used"):
        job = tc.speak("No ledger today.", actor_id=actor)
    assert job.wait(30).duration_s > 0


def test_the_ledger_can_be_switched_off_and_pruned(tc, actor, sim, monkeypatch):
    job = tc.speak("Old news.", actor_id=actor)
    job.wait(30)
    ledger = tn.use_ledger(True)
    assert ledger is not None and ledger.get(job.id) is not None
    assert ledger.prune(older_than_days=-1) == 1  # everything finished counts as old
    assert ledger.get(job.id) is None and not list((ledger.results_dir).rglob("*.wav"))
    monkeypatch.setenv("TTS_NB_LEDGER", "off")
    assert tn.use_ledger(True) is None
    unrecorded = tc.speak("Unrecorded.", actor_id=actor)
    assert unrecorded.wait(30).duration_s > 0
    assert ledger.get(unrecorded.id) is None  # the ledger that was switched off never saw it
    with pytest.raises(tn.InvalidInput, match="switched off"):
        tn.resume()


def test_cancelling_jobs_while_they_poll_never_deadlocks_the_ledger(sim, actor):
    """Jobs notify observers while holding their own lock (cancel, the deadline); the ledger
    must never wait for a job's lock while holding its own, or the two threads block forever."""
    client = tn.Typecast(
        api_key=sim.credentials["typecast_api_key"],
        base_url=sim.urls["typecast"],
        policy=tn.Fixed(0.01),
        min_interval=0.0,
        max_concurrent=30,
    )
    text = "Busy for a long while, {}, polling all the time. [[sim:slow]]"
    jobs = [client.speak(text.format(i), actor_id=actor) for i in range(30)]
    wait_until(lambda: sum(job.polls for job in jobs) >= 60, "30 slow jobs never polled 60 times")
    assert not any(job.done() for job in jobs)
    done = threading.Event()
    threading.Thread(
        target=lambda: ([job.cancel() for job in jobs], done.set()), daemon=True
    ).start()
    assert done.wait(20), "cancel() blocked: a lock-order deadlock with the ledger"
    view = other_view()
    wait_until(
        lambda: all(view.get(job.id)["state"] == "CANCELLED" for job in jobs),
        "the ledger never recorded every cancel",
    )


def orphan_copy(ledger: Ledger, job_id: str, new_id: str) -> None:
    """Copy a job's record as if a dead kernel had left it running (same provider ids)."""
    with ledger._transaction() as db:
        db.execute(
            "INSERT INTO jobs SELECT ?, provider, kind, endpoint, embedded, fingerprint, request,"
            " body, provider_ids, 'RUNNING', raw_status, 'submitted', polls, NULL, NULL, 0,"
            " NULL, NULL, NULL, created_at, updated_at, NULL, NULL FROM jobs WHERE id = ?",
            (new_id, job_id),
        )


def test_resume_rebuilds_every_provider_flow_from_its_ids(sim):
    common = dict(policy=FAST, min_interval=0.05)
    typecast = tn.Typecast(
        api_key=sim.credentials["typecast_api_key"], base_url=sim.urls["typecast"], **common
    )
    camb = tn.Camb(api_key=sim.credentials["camb_api_key"], base_url=sim.urls["camb"], **common)
    aspose = tn.Aspose(
        client_id=sim.credentials["aspose_client_id"],
        client_secret=sim.credentials["aspose_client_secret"],
        base_url=sim.urls["aspose"],
        **common,
    )
    voice = int(camb.voices().iloc[0]["voice_id"])
    description = (
        "A bright and friendly young female voice with a light American accent, a lively "
        "pace and a warm smile in it, made for short product videos and cheerful tutorials."
    )
    originals = {
        typecast: typecast.speak("Resume the Typecast flow.", actor_id="Olivia"),
        camb: camb.tts("Resume the CAMB flow.", voice_id=voice, language="en-us", stream=False),
        None: camb.translated_tts("Resume the translated flow.", voice, "en-us", "fr-fr"),
        "design": camb.text_to_voice("Resume the design flow.", voice_description=description),
        aspose: aspose.text_to_speech("Resume the Aspose flow."),
    }
    for job in originals.values():
        job.wait(60)
    submits = len([r for r in sim.log.find(method="POST") if "token" not in r.path])
    ledger = other_view()
    resumed = {}
    for key, job in originals.items():
        client = camb if key in (None, "design") else key
        orphan_copy(ledger, job.id, f"copy-{job.id}")
        (resumed[key],) = tn.resume(f"copy-{job.id}", client=client)
    for key, job in resumed.items():
        result = job.wait(60)
        original = originals[key].clip
        if isinstance(result, list):
            assert [c.data for c in result] == [c.data for c in original]
        else:
            assert result.data == original.data and result.text == original.text
        steps = job.history.step.tolist()
        assert steps[0] == "resume" and "poll" in steps and "submit" not in steps
        assert ledger.get(job.id)["state"] == "SUCCEEDED"
    assert len([r for r in sim.log.find(method="POST") if "token" not in r.path]) == submits


def test_a_ledger_file_of_another_layout_is_refused_with_the_way_out(tmp_path):
    import sqlite3

    from tts_nb.ledger import Ledger

    folder = tmp_path / "old"
    folder.mkdir()
    with sqlite3.connect(folder / "ledger.sqlite3") as db:
        db.execute("CREATE TABLE jobs (id TEXT PRIMARY KEY, provider TEXT)")
    with pytest.raises(sqlite3.DatabaseError, match="lacks .*kind.*move that file aside"):
        Ledger(folder)
    Ledger(tmp_path / "new")  # a fresh folder works


# ------------------------------------------------------------ private, bounded, forgettable
def modes(directory: Path) -> dict[str, int]:
    """Permission bits of the ledger folder and everything in it, by relative name."""
    paths = [directory, *directory.rglob("*")]
    return {str(p.relative_to(directory)): p.stat().st_mode & 0o777 for p in paths}


def test_the_ledger_is_private_whatever_the_umask(tc, actor):
    directory = ledger_dir()
    old = os.umask(0o022)
    try:
        tc.speak("Only for my eyes.", actor_id=actor).wait(30)
        found = modes(directory)
        assert {"ledger.sqlite3-wal", "ledger.sqlite3-shm"} <= set(found)
        assert any(name.endswith(".wav") for name in found)
        for name, mode in found.items():
            expected = 0o600 if (directory / name).is_file() else 0o700
            assert mode == expected, (name, oct(mode))
        for path in [directory, *directory.rglob("*")]:  # as an older version left them
            path.chmod(0o644 if path.is_file() else 0o755)
        Ledger(directory).close()
        assert set(modes(directory).values()) == {0o600, 0o700}
    finally:
        os.umask(old)


def age(directory: Path, job_id: str, days: float) -> None:
    """Make a job (and its result files) look `days` old."""
    when = time.time() - days * 86400
    with Ledger(directory)._transaction() as db:
        db.execute("UPDATE jobs SET created_at = ? WHERE id = ?", (when, job_id))
        db.execute("DELETE FROM meta WHERE key = 'pruned_at'")  # a day has passed
    for path in (directory / "results").rglob("*.wav"):
        os.utime(path, (when, when))


def test_finished_jobs_past_the_retention_are_pruned_once_a_day(tc, actor, monkeypatch):
    directory = ledger_dir()
    old = tc.speak("From long ago.", actor_id=actor)
    old.wait(30)
    assert Ledger(directory).retention_days == 30  # the default
    age(directory, old.id, 31)
    new = tc.speak("From today.", actor_id=actor)
    new.wait(30)
    ledger = Ledger(directory)  # opening applies the retention
    assert ledger.get(old.id) is None and ledger.get(new.id) is not None
    assert len(list((directory / "results").rglob("*.wav"))) == 1
    assert ledger.load_result(ledger.get(new.id)).data == new.clip.data
    with ledger._transaction() as db:
        db.execute("UPDATE jobs SET created_at = 0 WHERE id = ?", (new.id,))
    assert Ledger(directory).get(new.id) is not None  # pruned already today
    monkeypatch.setenv("TTS_NB_LEDGER_RETENTION_DAYS", "off")
    assert Ledger(directory).retention_days is None
    monkeypatch.setenv("TTS_NB_LEDGER_RETENTION_DAYS", "7")
    assert Ledger(directory).retention_days == 7
    assert Ledger(directory, retention_days=0).retention_days is None


class FakeJob:
    """Just what the ledger reads of a job."""

    provider, kind, request, raw_status, polls, clip = "typecast", "speak", {}, None, 0, None

    def __init__(self, job_id: str, provider_ids: dict, rows: list[dict]) -> None:
        self.id, self.provider_ids, self.rows = job_id, provider_ids, rows
        self.state, self.error, self.created_at, self.finished_at = State.PENDING, None, 1.0, None


def test_signed_urls_are_stored_without_their_signatures():
    signed = "https://cdn.example/a.wav?X-Amz-Signature=SIG&X-Amz-Expires=86400&part=2"
    cloudfront = "https://d1.example/b.mp3?Expires=99&Signature=SIG2&Key-Pair-Id=K&token=T"
    poll = "https://api.example/api/speak/v2/abc"
    job = FakeJob("j1", {"speak_v2_url": poll}, [{"n": 1, "url": signed, "note": cloudfront}])
    ledger = Ledger(ledger_dir())
    ledger.record_new(job, fingerprint="f", endpoint="https://api.example", embedded=False)
    job.state, job.error = State.FAILED, tn.ExpiredResult(f"403 for GET {cloudfront}")
    ledger.sync(job)
    ledger.close()
    stored = b"".join(p.read_bytes() for p in ledger_dir().glob("ledger.sqlite3*"))
    for secret in (b"SIG", b"X-Amz-Expires", b"Key-Pair-Id", b"token=T"):
        assert secret not in stored
    record, rows = other_view().get("j1"), other_view().rows(["j1"])
    assert rows[0]["url"] == "https://cdn.example/a.wav?part=2"
    assert rows[0]["note"] == "https://d1.example/b.mp3" and record["error"].endswith("b.mp3")
    assert record["provider_ids"] == {"speak_v2_url": poll}  # what resume polls: kept whole


def test_forget_lets_finished_jobs_go_from_memory_and_on_request_the_ledger(tc, actor, sim):
    import gc
    import weakref

    from tts_nb.job import all_jobs

    kept = tc.speak("Keep my record.", actor_id=actor)
    dropped = tc.speak("Drop my record.", actor_id=actor)
    running = tc.speak("Still busy. [[sim:slow]]", actor_id=actor)
    kept.wait(30), dropped.wait(30)
    refs = [weakref.ref(kept), weakref.ref(dropped)]
    assert tn.forget(kept, dropped.id, running) == 2
    assert running in all_jobs() and not {kept, dropped} & set(all_jobs())
    assert tn.forget(dropped.id, ledger=True) == 1
    assert len(list((ledger_dir() / "results").rglob("*.wav"))) == 1  # its audio is gone
    kept_id, dropped_id = kept.id, dropped.id
    del kept, dropped
    # The scheduler's loop holds the timer it ran last until it runs the next one.
    tc.speak("Move the scheduler on.", actor_id=actor).wait(30)
    gc.collect()
    assert [ref() for ref in refs] == [None, None]  # nothing else pins them
    listed = tn.jobs(ledger=True).set_index("job")
    assert not listed.loc[kept_id, "live"] and dropped_id not in listed.index
    assert other_view().get(dropped_id) is None
    assert tc.speak("Keep my record.", actor_id=actor).reused_from == kept_id
    before = len(posts(sim))
    assert tc.speak("Drop my record.", actor_id=actor).wait(30).size > 0
    assert len(posts(sim)) == before + 1  # forgotten: sent again
    running.cancel()


def test_memory_keeps_running_jobs_and_the_newest_finished_ones(tc, actor, monkeypatch):
    from tts_nb import job as jobs_module
    from tts_nb import runtime as runtime_module

    monkeypatch.setattr(runtime_module, "KEEP_FINISHED", 3)
    slow = tc.speak("Long one. [[sim:slow]]", actor_id=actor)
    quick = [tc.speak(f"Quick number {i}.", actor_id=actor) for i in range(5)]
    for job in quick:
        job.wait(30)
    held = jobs_module.all_jobs()
    assert slow in held and [j for j in held if j in quick] == quick[2:]
    assert len([j for j in held if j.done()]) == 3
    assert {j.id for j in quick} <= set(tn.jobs(ledger=True).job)  # the ledger keeps the rest
    slow.cancel()


def test_a_malformed_record_is_skipped_with_a_warning(tc, actor, sim):
    sound = tc.speak("Recorded well.", actor_id=actor)  # its history must survive its neighbour
    sound.wait(30)
    job = tc.speak("Damaged later.", actor_id=actor)
    job.wait(30)
    tn.forget(job, sound)  # as after a restart: only the ledger knows them
    orphan_copy(other_view(), job.id, "wrong-types")
    with other_view()._transaction() as db:
        db.execute("UPDATE jobs SET result = '{\"list\": false}' WHERE id = ?", (job.id,))
        db.execute("UPDATE jobs SET polls = 'many', request = '[1]' WHERE id = 'wrong-types'")
        db.execute("INSERT INTO rows (job, n, data) VALUES (?, 99, 'not json')", (job.id,))
    with pytest.warns(RuntimeWarning, match="malformed ledger record"):
        listed = tn.jobs(ledger=True)
    assert job.id not in set(listed.job) and "wrong-types" not in set(listed.job)
    assert len(tn.history(ledger=True)) >= 1 and tn.resume() == []
    with pytest.raises(tn.NotFound):
        tn.resume(job.id)
    before = len(posts(sim))
    again = tc.speak("Damaged later.", actor_id=actor)  # the stored result is unusable
    assert again.wait(30).size > 0 and len(posts(sim)) == before + 1
    assert other_view().prune(older_than_days=-1) >= 1


def test_the_simulator_keeps_bounded_logs_and_frees_expired_downloads(sim, tc, actor):
    from tts_nb.simulator.server import LoggedRequest, RequestLog

    log = RequestLog(limit=3)
    for n in range(5):
        log.add(LoggedRequest("cdn", "GET", f"/{n}", {}, {}, 200, None, 0.0))
    assert [r.path for r in log.find()] == ["/2", "/3", "/4"]
    assert RequestLog()._items.maxlen == 10_000
    first = tc.speak("Expires soon.", actor_id=actor)
    first.wait(30)
    sim.advance(25 * 3600)  # past the 24 h link lifetime
    tc.speak("Published after.", actor_id=actor).wait(30)
    assert len(sim.cdn._blobs) == 1  # the expired blob's bytes were let go
    url = first.history_full.url[first.history_full.step == "fetch"].iloc[0]
    assert tn.Typecast(base_url=sim.urls["typecast"]).transport.session.get(url).status_code == 403
