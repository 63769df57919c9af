"""The job ledger as a user sees it after a restart: the records, history rows and stored
results another process finds on disk, and what it skips or prunes.

Written against mutmut's survivors (pyproject.toml [tool.mutmut], tests/mutation-equivalents.md).
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import stat
import time
import warnings

import numpy as np
import pytest
import soundfile

import tts_nb as tn
from tts_nb import ledger as ledger_module
from tts_nb.clip import Clip
from tts_nb.ledger import Ledger, Stored, fingerprint, owner_alive, this_owner, unsigned

from .test_job_contracts import DONE, RUNNING, SUBMITTED, answer, make_job


def wav(seconds: float = 0.1, seed: int = 0) -> bytes:
    buffer = io.BytesIO()
    rng = np.random.default_rng(seed)
    soundfile.write(buffer, rng.uniform(-0.3, 0.3, int(8000 * seconds)), 8000, format="WAV")
    return buffer.getvalue()


class ClipOperation:
    """Like the engine contracts' operation, but its result is a validated Clip."""

    provider = "acme"
    kind = "speak"

    def __init__(self, audio: bytes):
        self.audio = audio

    def submit(self, call):
        return self.observe(call.request_json("POST", "jobs", json_body={"text": "hi"}))

    def poll(self, call, ids):
        return self.observe(call.request_json("GET", f"jobs/{ids['id']}"))

    def fetch(self, call, ids, seen):
        call.request("GET", f"audio/{ids['id']}?X-Amz-Signature=s1&part=2")
        return Clip.from_bytes(self.audio, text="hi", voice="v1", meta={"m": 1})

    def observe(self, data):
        from tts_nb.job import Observation
        from tts_nb.state import State

        states = {"queued": State.PENDING, "running": State.RUNNING, "done": State.SUCCEEDED}
        states["failed"] = State.FAILED
        return Observation(states[data["status"]], raw_status=data["status"], ids={"id": "j1"})


def recorded_job(ledger: Ledger, answers, *, until=None, audio=None, fp="fp-1"):
    job, scheduler, script = make_job(answers, operation=ClipOperation(audio or wav()), start=False)
    ledger.record_new(job, fingerprint=fp, endpoint="https://api.test/v1/", embedded=False)
    job.observe(ledger.observer)
    job.start()
    scheduler.run_virtual(until=None if until is None else 1000 + until)
    return job


@pytest.fixture
def ledger(tmp_path):
    # left open: the conftest cancels running jobs after the test, and they write it
    return Ledger(tmp_path / "ledger", retention_days=0)


def reopened(ledger: Ledger) -> Ledger:
    """The same directory as another kernel sees it."""
    return Ledger(ledger.directory, retention_days=0)


# ------------------------------------------------------------------ fingerprints and owners
def test_identical_requests_share_a_fingerprint_whatever_the_key_order():
    a = fingerprint("acme", "speak", "https://api.test/v1/", {"text": "hi", "voice": "v"})
    b = fingerprint("acme", "speak", "https://api.test/v1", {"voice": "v", "text": "hi"})
    assert a == b and len(a) == 64
    assert a != fingerprint("acme", "speak", "https://api.test/v2", {"text": "hi", "voice": "v"})
    assert a != fingerprint("acme", "dub", "https://api.test/v1", {"text": "hi", "voice": "v"})
    assert a != fingerprint("other", "speak", "https://api.test/v1", {"text": "hi", "voice": "v"})
    assert fingerprint("p", "k", "e", {"t": "é"}) == fingerprint("p", "k", "e", {"t": "é"})


def test_an_owner_is_alive_while_its_process_runs():
    assert owner_alive(this_owner())
    assert not owner_alive(None) and not owner_alive("")
    host = this_owner().rpartition(":")[0]
    assert not owner_alive(f"{host}:999999999")
    assert owner_alive("another-machine.test:1")  # unknown hosts count as alive
    assert owner_alive(f"{host}:not-a-pid")


def test_a_stored_result_describes_its_job_and_time_in_utc():
    assert Stored("abc", 0.0, None).describe() == "job abc from 1970-01-01 00:00:00 UTC"


# ------------------------------------------------------------------ what another kernel finds
def test_a_finished_job_is_found_whole_by_another_kernel(ledger):
    audio = wav()
    job = recorded_job(ledger, [SUBMITTED, RUNNING, DONE, answer(200, b"x")], audio=audio)
    assert job.state.value == "SUCCEEDED"
    other = reopened(ledger)
    record = other.get(job.id)
    assert record["state"] == "SUCCEEDED" and record["phase"] == "done"
    assert record["provider_ids"] == {"id": "j1"} and record["polls"] == 2
    assert record["endpoint"] == "https://api.test/v1" and record["fingerprint"] == "fp-1"
    assert record["owner"] is None and record["finished_at"] == job.finished_at
    assert record["request"] == {"text": "hi"} and record["embedded"] is False
    assert record["raw_status"] == "done" and record["error"] is None
    assert record["clips"][0]["bytes"] == len(audio) and record["clips"][0]["voice"] == "v1"
    rows = other.rows([job.id])
    assert [r["step"] for r in rows] == ["submit", "poll", "poll", "fetch"]
    assert [r["n"] for r in rows] == [1, 2, 3, 4]
    assert rows[1]["next_poll_in_s"] == 5  # the annotation after the write is kept too
    assert "X-Amz-Signature" not in rows[3]["url"] and "part=2" in rows[3]["url"]
    stored = other.find_result("fp-1")
    assert stored.job_id == job.id and stored.result.data == audio
    assert stored.result.text == "hi" and stored.result.meta == {"m": 1}
    assert other.latest("fp-1")["id"] == job.id
    other.close()


def test_a_running_job_is_listed_as_unfinished_with_its_owner(ledger):
    job = recorded_job(ledger, [SUBMITTED, RUNNING], until=6)
    finished = recorded_job(ledger, [SUBMITTED, DONE, answer(200, b"x")], fp="fp-2")
    other = reopened(ledger)
    unfinished = other.records(unfinished=True)
    assert [r["id"] for r in unfinished] == [job.id]
    assert unfinished[0]["phase"] == "submitted" and unfinished[0]["owner"] == this_owner()
    assert [r["id"] for r in other.records()] == [job.id, finished.id]
    assert len(other.rows()) == len(job.rows) + len(finished.rows)
    other.close()


def test_phases_move_from_queued_to_submitting_to_submitted(ledger):
    job, scheduler, script = make_job([SUBMITTED, RUNNING], start=False)
    ledger.record_new(job, fingerprint="f", endpoint="e", embedded=True, body={"text": "hi"})
    record = ledger.get(job.id)
    assert record["phase"] == "queued" and record["embedded"] is True
    assert record["body"] == {"text": "hi"}
    phases = []
    job.observe(ledger.observer)
    job.observe(lambda j: phases.append(ledger.get(j.id)["phase"]))
    job.start()
    scheduler.run_virtual(until=1001)
    assert phases[0] == "submitting" and phases[-1] == "submitted"


def test_a_failed_job_keeps_its_error_without_signatures(ledger):
    failed = answer(200, {"id": "j1", "status": "failed"})
    job = recorded_job(ledger, [SUBMITTED, failed])
    record = reopened(ledger).get(job.id)
    assert record["state"] == "FAILED" and record["error_type"] == "JobFailed"
    assert record["error"] == "acme reported 'failed'."
    assert record["clips"] == []


def test_an_unconfirmed_submit_is_marked_so_it_is_never_resent(ledger):
    job = recorded_job(ledger, [answer(200, b"not json")])
    record = reopened(ledger).get(job.id)
    assert record["submit_unconfirmed"] is True and record["error_type"] == "ProviderError"


def test_finalize_closes_a_record_with_a_ledger_row(ledger):
    job = recorded_job(ledger, [SUBMITTED, RUNNING], until=6)
    count = len(ledger.rows([job.id]))
    ledger.finalize(
        job.id, "FAILED", "its kernel died", error_type="Orphan", submit_unconfirmed=True
    )
    record = ledger.get(job.id)
    assert (record["state"], record["phase"], record["owner"]) == ("FAILED", "done", None)
    assert record["error"] == "its kernel died" and record["error_type"] == "Orphan"
    assert record["submit_unconfirmed"] is True and record["finished_at"] is not None
    last = ledger.rows([job.id])[-1]
    assert last["n"] == count + 1 and last["step"] == "ledger" and last["note"] == "its kernel died"


def test_an_older_snapshot_never_overwrites_a_newer_one(ledger):
    job = recorded_job(ledger, [SUBMITTED, RUNNING], until=6)
    ledger._written[job.id] = 10**12  # a newer snapshot is already on disk
    job.cancel()
    assert ledger.get(job.id)["state"] == "RUNNING"


# ------------------------------------------------------------------ results on disk
def test_results_are_stored_once_by_their_hash_in_private_files(ledger):
    audio = wav()
    first = recorded_job(ledger, [SUBMITTED, DONE, answer(200, b"x")], audio=audio)
    second = recorded_job(ledger, [SUBMITTED, DONE, answer(200, b"x")], audio=audio, fp="fp-2")
    blobs = [p for p in ledger.results_dir.rglob("*") if p.is_file()]
    assert len(blobs) == 1 and blobs[0].suffix == ".wav"
    digest = blobs[0].stem
    assert blobs[0].parent.name == digest[:2]
    assert stat.S_IMODE(blobs[0].stat().st_mode) == 0o600
    assert stat.S_IMODE(blobs[0].parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(ledger.directory.stat().st_mode) == 0o700
    assert stat.S_IMODE(ledger.path.stat().st_mode) == 0o600
    assert ledger.get(first.id)["clips"][0]["sha256"] == digest
    assert ledger.get(second.id)["clips"][0]["sha256"] == digest


def test_a_damaged_or_missing_blob_is_no_result(ledger):
    recorded_job(ledger, [SUBMITTED, DONE, answer(200, b"x")])
    (blob,) = [p for p in ledger.results_dir.rglob("*") if p.is_file()]
    blob.write_bytes(blob.read_bytes()[:-1] + b"\x01")
    assert reopened(ledger).find_result("fp-1") is None
    blob.unlink()
    assert reopened(ledger).find_result("fp-1") is None


def test_a_list_of_clips_comes_back_as_a_list(ledger):
    clips = [Clip.from_bytes(wav(seed=1)), Clip.from_bytes(wav(seed=2))]
    ref = ledger._put_result(clips)
    assert ledger.load_result({"id": "x", "result": ref}) == clips
    assert ledger.load_result({"id": "x", "result": ledger._put_result(clips[0])}) == clips[0]
    assert ledger._put_result("not audio") is None and ledger._put_result([]) is None


def test_the_newest_stored_result_wins(ledger):
    old = recorded_job(ledger, [SUBMITTED, DONE, answer(200, b"x")], audio=wav(seed=1))
    new = recorded_job(ledger, [SUBMITTED, DONE, answer(200, b"x")], audio=wav(seed=2))
    with ledger._transaction() as db:
        db.execute("UPDATE jobs SET finished_at = 1 WHERE id = ?", (old.id,))
        db.execute("UPDATE jobs SET created_at = 0 WHERE id = ?", (old.id,))
    assert ledger.find_result("fp-1").job_id == new.id
    assert ledger.latest("fp-1")["id"] == new.id


# ------------------------------------------------------------------ malformed records
def test_a_malformed_record_is_skipped_with_one_warning(ledger):
    job = recorded_job(ledger, [SUBMITTED, DONE, answer(200, b"x")])
    good = recorded_job(ledger, [SUBMITTED, DONE, answer(200, b"x")], fp="fp-2")
    with ledger._transaction() as db:
        db.execute("UPDATE jobs SET request = 'not json' WHERE id = ?", (job.id,))
    other = reopened(ledger)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert [r["id"] for r in other.records()] == [good.id]
        assert other.get(job.id) is None
    said = [str(w.message) for w in caught]
    assert len(said) == 1
    assert said[0].startswith(f"tts_nb: skipping the malformed ledger record '{job.id}'")
    assert "(request is not JSON)" in said[0]


@pytest.mark.parametrize(
    "column, value, reason",
    [
        ("state", "'DONE'", "state 'DONE' is unknown"),
        ("polls", "'many'", "field polls is str"),
        ("provider_ids", "'[1]'", "provider_ids is not a JSON dict"),
        ("result", '\'{"list": false, "clips": []}\'', "result has no clips"),
        ("result", '\'{"list": false, "clips": [1]}\'', "result clip is not an object"),
    ],
)
def test_each_kind_of_damage_is_named(ledger, column, value, reason):
    job = recorded_job(ledger, [SUBMITTED, DONE, answer(200, b"x")])
    with ledger._transaction() as db:
        db.execute(f"UPDATE jobs SET {column} = {value} WHERE id = ?", (job.id,))
    with pytest.warns(RuntimeWarning, match=reason):
        assert reopened(ledger).get(job.id) is None


def test_a_ledger_file_of_another_layout_is_refused_saying_what_to_do(tmp_path):
    directory = tmp_path / "old"
    directory.mkdir()
    db = sqlite3.connect(directory / "ledger.sqlite3")
    db.execute("CREATE TABLE jobs (id TEXT, provider TEXT)")
    db.commit()
    db.close()
    with pytest.raises(sqlite3.DatabaseError) as caught:
        Ledger(directory)
    text = str(caught.value)
    assert "has another layout (its jobs table lacks body, created_at," in text
    assert text.endswith("move that file aside or set TTS_NB_LEDGER to a new folder")


# ------------------------------------------------------------------ upkeep
def test_prune_forgets_old_finished_jobs_and_their_unused_results(ledger):
    old = recorded_job(ledger, [SUBMITTED, DONE, answer(200, b"x")], audio=wav(seed=1))
    running = recorded_job(ledger, [SUBMITTED, RUNNING], until=6, fp="fp-2")
    kept = recorded_job(ledger, [SUBMITTED, DONE, answer(200, b"x")], audio=wav(seed=2))
    now, week = time.time(), time.time() - 7 * 86400
    with ledger._transaction() as db:  # the virtual clock's jobs are from 2023: date them
        db.execute("UPDATE jobs SET created_at = ?", (now,))
        db.execute("UPDATE jobs SET created_at = ? WHERE id IN (?, ?)", (week, old.id, running.id))
    for blob in ledger.results_dir.rglob("*.wav"):
        os.utime(blob, (week, week))
    stale = ledger.results_dir / "ab" / ".tmp-x.part"
    stale.parent.mkdir(exist_ok=True)
    stale.write_bytes(b"half")
    os.utime(stale, (time.time() - 7200,) * 2)
    fresh = ledger.results_dir / "ab" / ".tmp-y.part"
    fresh.write_bytes(b"being written")
    assert ledger.prune(6) == 1
    assert ledger.get(old.id) is None and ledger.rows([old.id]) == []
    assert ledger.get(running.id) is not None and ledger.get(kept.id) is not None
    assert ledger.find_result("fp-1").job_id == kept.id
    assert len(list(ledger.results_dir.rglob("*.wav"))) == 1
    assert not stale.exists() and fresh.exists()
    assert ledger.prune(8) == 0


def test_forget_deletes_records_and_results_only_they_used(ledger):
    audio = wav()
    a = recorded_job(ledger, [SUBMITTED, DONE, answer(200, b"x")], audio=audio)
    b = recorded_job(ledger, [SUBMITTED, DONE, answer(200, b"x")], audio=audio, fp="fp-2")
    assert ledger.forget([a.id, a.id, "unknown"]) == 1
    assert ledger.get(a.id) is None and ledger.find_result("fp-2").job_id == b.id
    assert ledger.forget([b.id]) == 1
    assert list(ledger.results_dir.rglob("*.wav")) == []


def test_a_new_ledger_prunes_at_most_once_a_day(tmp_path, monkeypatch):
    directory = tmp_path / "ledger"
    first = Ledger(directory, retention_days=0)
    job = recorded_job(first, [SUBMITTED, DONE, answer(200, b"x")])
    with first._transaction() as db:
        db.execute("UPDATE jobs SET created_at = 0 WHERE id = ?", (job.id,))
    first.close()
    monkeypatch.setenv("TTS_NB_LEDGER_RETENTION_DAYS", "never")
    assert Ledger(directory).get(job.id) is not None
    monkeypatch.setenv("TTS_NB_LEDGER_RETENTION_DAYS", "3")
    assert Ledger(directory).retention_days == 3.0
    assert Ledger(directory).get(job.id) is None  # pruned by the first opening above
    again = recorded_job(Ledger(directory), [SUBMITTED, DONE, answer(200, b"x")])
    with sqlite3.connect(directory / "ledger.sqlite3") as db:
        db.execute("UPDATE jobs SET created_at = 0 WHERE id = ?", (again.id,))
    assert Ledger(directory).get(again.id) is not None  # pruned less than a day ago


@pytest.mark.parametrize(
    "setting, days",
    [("", 30.0), ("7", 7.0), ("0", None), ("-1", None), ("off", None), ("OFF ", None)],
)
def test_retention_comes_from_the_environment(tmp_path, monkeypatch, setting, days):
    monkeypatch.setenv("TTS_NB_LEDGER_RETENTION_DAYS", setting)
    assert Ledger(tmp_path / "l").retention_days == days


def test_a_retention_that_is_not_a_number_warns_and_keeps_30_days(tmp_path, monkeypatch):
    monkeypatch.setenv("TTS_NB_LEDGER_RETENTION_DAYS", "a week")
    with pytest.warns(RuntimeWarning, match="'a week' is not a number of days; keeping"):
        assert Ledger(tmp_path / "l").retention_days == 30.0


def test_signing_parameters_are_removed_from_stored_urls():
    text = "got https://cdn.test/a.wav?X-Amz-Credential=c&sig=1&v=2&Expires=9 and http://x.test/b"
    assert unsigned(text) == "got https://cdn.test/a.wav?v=2 and http://x.test/b"


# ------------------------------------------------------------------ the process's ledger
def test_the_ledger_can_be_switched_off_and_chosen(tmp_path, monkeypatch):
    try:
        monkeypatch.setenv("TTS_NB_LEDGER", "off")
        assert ledger_module.current() is None
        chosen = tn.use_ledger(tmp_path / "mine")
        assert ledger_module.current() is chosen and chosen.directory == tmp_path / "mine"
        assert tn.use_ledger(False) is None and ledger_module.current() is None
        monkeypatch.setenv("TTS_NB_LEDGER", str(tmp_path / "env"))
        assert tn.use_ledger(True).directory == (tmp_path / "env").resolve()
    finally:
        tn.use_ledger(True)


def test_an_unusable_ledger_directory_warns_once(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("TTS_NB_LEDGER", str(blocker / "ledger"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert ledger_module.current() is None and ledger_module.current() is None
    said = [str(w.message) for w in caught]
    assert len(said) == 1 and "cannot be used" in said[0]


def test_failed_writes_warn_once_per_ledger(ledger, monkeypatch):
    monkeypatch.setattr(ledger_module, "_warned", set())
    job = recorded_job(ledger, [SUBMITTED, RUNNING], until=6)
    ledger.close()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ledger.observer(job)
        ledger.observer(job)
    said = [str(w.message) for w in caught]
    assert len(said) == 1
    assert said[0].startswith(f"tts_nb: writing to the job ledger at {ledger.directory} failed")
    assert json.dumps(said)  # plain text
