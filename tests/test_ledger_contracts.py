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
    assert last["state"] == "FAILED" and last["job"] == job.id


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


# ------------------------------------------------------------------ more contracts
class Bare:
    """Just what the ledger reads of a job that has sent nothing yet."""

    provider, kind, raw_status, polls, clip, error, finished_at = (
        "acme",
        "speak",
        None,
        0,
        None,
        None,
        None,
    )

    def __init__(self, job_id: str, request: dict) -> None:
        from tts_nb.state import State

        self.id, self.request, self.provider_ids, self.rows = job_id, request, {}, []
        self.state, self.created_at = State.PENDING, 1234.5


def test_a_new_record_is_stored_as_sorted_plain_json(ledger):
    ledger.record_new(
        Bare("b1", {"voice": "v", "text": "é"}),
        fingerprint="f",
        endpoint="https://api.test/v1///",
        embedded=True,
        body={"z": 1, "a": [2]},
    )
    with sqlite3.connect(ledger.path) as db:
        row = db.execute(
            "SELECT request, body, provider_ids, endpoint, embedded, state, phase, polls,"
            " owner, created_at FROM jobs WHERE id = 'b1'"
        ).fetchone()
    assert row == (
        '{"text": "é", "voice": "v"}',
        '{"a": [2], "z": 1}',
        "{}",
        "https://api.test/v1",
        1,
        "PENDING",
        "queued",
        0,
        this_owner(),
        1234.5,
    )
    assert ledger.get("b1")["token"] is None


def test_fingerprints_hash_a_canonical_text():
    import hashlib
    from pathlib import Path

    canonical = '{"body":{"at":"/x","t":"é"},"endpoint":"https://e.test","kind":"k","provider":"p"}'
    expected = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    assert fingerprint("p", "k", "https://e.test//", {"t": "é", "at": Path("/x")}) == expected


def test_a_submitted_job_stores_the_token_that_resumes_it(ledger):
    job = recorded_job(ledger, [SUBMITTED, RUNNING], until=6)
    token = reopened(ledger).get(job.id)["token"]
    assert isinstance(token, str) and len(token) > 20
    assert token == job.continuation_token()


def test_each_malformed_record_is_named_in_full(ledger):
    job = recorded_job(ledger, [SUBMITTED, DONE, answer(200, b"x")])
    with ledger._transaction() as db:
        db.execute(
            'UPDATE jobs SET result = \'{"list": false, "clips": []}\' WHERE id = ?', (job.id,)
        )
    other = reopened(ledger)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert other.get(job.id) is None and other.get(job.id) is None
    assert [(w.category, str(w.message)) for w in caught] == [
        (
            RuntimeWarning,
            f"tts_nb: skipping the malformed ledger record '{job.id}' in {other.path} (result "
            "has no clips); it was damaged or written by something else. Other jobs are "
            "unaffected; ledger.prune() or deleting that row removes it.",
        )
    ]


def good_clip(**changes) -> dict:
    item = {
        "sha256": "ab" * 32,
        "format": "wav",
        "text": None,
        "voice": None,
        "meta": {},
        "duration_s": None,
        "bytes": None,
    }
    return {**item, **changes}


@pytest.mark.parametrize(
    "result, reason",
    [
        ("not json", "result is not JSON"),
        ("[1]", "result is not a JSON dict"),
        (json.dumps({"list": 0, "clips": [good_clip()]}), "result has no clips"),
        (json.dumps({"list": False, "clips": {}}), "result has no clips"),
        (
            json.dumps({"list": False, "clips": [good_clip(sha256="AB" * 32)]}),
            "result clip has a bad hash or format",
        ),
        (
            json.dumps({"list": False, "clips": [good_clip(format="w.av")]}),
            "result clip has a bad hash or format",
        ),
        (json.dumps({"list": False, "clips": [good_clip(meta=[])]}), "result clip meta is list"),
        (
            json.dumps({"list": False, "clips": [good_clip(bytes=True)]}),
            "result clip bytes is bool",
        ),
        (
            json.dumps({"list": False, "clips": [good_clip(bytes=1.5)]}),
            "result clip bytes is float",
        ),
    ],
)
def test_each_kind_of_damaged_result_is_named(ledger, result, reason):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert ledger.load_result({"id": "r1", "result": result}) is None
    assert [str(w.message).split(" (", 1)[1].split(");")[0] for w in caught] == [reason]


def test_a_good_result_needs_every_clip_field_typed(ledger):
    fine = json.dumps({"list": True, "clips": [good_clip(duration_s=1, bytes=3, text="t")]})
    from tts_nb.ledger import parse_result

    assert parse_result(fine) == {
        "list": True,
        "clips": [good_clip(duration_s=1, bytes=3, text="t")],
    }
    assert parse_result("") is None and parse_result(None) is None


@pytest.mark.parametrize(
    "column, value, reason",
    [
        ("polls", "1.5", "field polls is float"),
        ("created_at", "'x'", "field created_at is str"),
        ("finished_at", "'x'", "field finished_at is str"),
        ("token", "X'00'", "field token is bytes"),
        ("request", "'[]'", "request is not a JSON dict"),
        ("body", "'[]'", "body is not a JSON dict"),
        ("body", "'null'", None),
        ("result", "'x'", "result is not JSON"),
    ],
)
def test_each_damaged_column_is_named(ledger, column, value, reason):
    job = recorded_job(ledger, [SUBMITTED, DONE, answer(200, b"x")])
    with ledger._transaction() as db:
        db.execute(f"UPDATE jobs SET {column} = {value} WHERE id = ?", (job.id,))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        found = reopened(ledger).get(job.id)
    if reason is None:
        assert found["body"] is None and caught == []
    else:
        assert found is None
        assert [str(w.message).split(" (", 1)[1].split(");")[0] for w in caught] == [reason]


def test_a_blob_that_is_not_audio_is_skipped_with_a_warning(ledger):
    import hashlib

    digest = hashlib.sha256(b"not audio").hexdigest()
    folder = ledger.results_dir / digest[:2]
    folder.mkdir(parents=True)
    (folder / f"{digest}.wav").write_bytes(b"not audio")
    result = json.dumps({"list": False, "clips": [good_clip(sha256=digest)]})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert ledger.load_result({"id": "r2", "result": result}) is None
    assert len(caught) == 1
    assert str(caught[0].message).startswith("tts_nb: skipping the malformed ledger record 'r2'")


def test_history_rows_that_are_not_objects_are_left_out(ledger):
    job = recorded_job(ledger, [SUBMITTED, DONE, answer(200, b"x")])
    with ledger._transaction() as db:
        db.execute("INSERT INTO rows (job, n, data) VALUES (?, 90, 'not json')", (job.id,))
        db.execute("INSERT INTO rows (job, n, data) VALUES (?, 91, '[1, 2]')", (job.id,))
    assert [r["n"] for r in ledger.rows([job.id])] == [1, 2, 3]
    assert [r["n"] for r in ledger.rows()] == [1, 2, 3]


def test_rows_of_many_jobs_are_read_in_chunks_without_repeats(ledger):
    job = recorded_job(ledger, [SUBMITTED, DONE, answer(200, b"x")])
    for where in (0, 499, 500, 999, 1000):
        ids = [f"none-{i}" for i in range(1200)]
        ids[where] = job.id
        assert [r["n"] for r in ledger.rows(ids)] == [1, 2, 3], where


def test_a_stored_result_without_a_finish_time_is_dated_by_its_last_update(ledger):
    job = recorded_job(ledger, [SUBMITTED, DONE, answer(200, b"x")])
    with ledger._transaction() as db:
        db.execute("UPDATE jobs SET finished_at = NULL, updated_at = 86400 WHERE id = ?", (job.id,))
    stored = ledger.find_result("fp-1")
    assert (stored.job_id, stored.finished_at) == (job.id, 86400.0)
    assert ledger.find_result("fp-unknown") is None and ledger.latest("fp-unknown") is None


def test_a_ledger_names_its_folder_and_checks_its_file(ledger):
    assert repr(ledger) == f"<Ledger {ledger.directory}>"
    assert ledger.integrity() == "ok"
    assert ledger.path == ledger.directory / "ledger.sqlite3"
    assert ledger.results_dir == ledger.directory / "results"


# ------------------------------------------------------------------ blobs on disk
def test_a_blob_is_written_beside_its_final_name_and_renamed(ledger, monkeypatch):
    seen = []
    real_fsync = os.fsync

    def fsync(fd):
        seen.append(sorted(p.name for p in ledger.results_dir.rglob("*") if p.is_file()))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    clip = Clip.from_bytes(wav())
    ledger._put_result(clip)
    (blob,) = [p for p in ledger.results_dir.rglob("*") if p.is_file()]
    ((temp,),) = seen
    assert temp.startswith(".tmp-") and temp.endswith(".part")
    assert blob.parent.parent == ledger.results_dir and blob.read_bytes() == clip.data
    assert stat.S_IMODE(blob.stat().st_mode) == 0o600
    assert stat.S_IMODE(ledger.results_dir.stat().st_mode) == 0o700


def test_a_failed_rename_leaves_no_file_behind(ledger, monkeypatch):
    def replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OSError, match="No space left"):
        ledger._put_result(Clip.from_bytes(wav()))
    assert [p for p in ledger.results_dir.rglob("*") if p.is_file()] == []


def test_a_blob_of_the_wrong_size_is_written_again(ledger):
    clip = Clip.from_bytes(wav())
    ref = ledger._put_result(clip)
    (blob,) = [p for p in ledger.results_dir.rglob("*") if p.is_file()]
    blob.write_bytes(clip.data[:-10])
    assert ledger.load_result({"id": "x", "result": ref}) is None
    assert ledger._put_result(clip) == ref
    assert blob.read_bytes() == clip.data
    assert ledger.load_result({"id": "x", "result": ref}) == clip


# ------------------------------------------------------------------ retention
def aged(ledger: Ledger, job_id: str, seconds: float) -> None:
    when = time.time() - seconds
    with ledger._transaction() as db:
        db.execute("UPDATE jobs SET created_at = ? WHERE id = ?", (when, job_id))


def test_prune_cuts_off_at_exactly_so_many_days(ledger):
    older = recorded_job(ledger, [SUBMITTED, DONE, answer(200, b"x")], audio=wav(seed=1))
    younger = recorded_job(ledger, [SUBMITTED, DONE, answer(200, b"x")], audio=wav(seed=2))
    aged(ledger, older.id, 2 * 86400 + 0.7)
    aged(ledger, younger.id, 2 * 86400 - 5)
    assert ledger.prune(2) == 1
    assert ledger.get(older.id) is None and ledger.get(younger.id) is not None


def test_prune_keeps_young_unrecorded_results_and_fresh_temporary_files(ledger):
    folder = ledger.results_dir / "cd"
    folder.mkdir(parents=True)
    now = time.time()
    files = {
        "orphan-old.wav": now - 3 * 86400,
        "orphan-young.wav": now - 86400 + 60,
        ".tmp-young.part": now - 3000,
        ".tmp-old.part": now - 4000,
        ".hidden": now - 9 * 86400,
    }
    for name, when in files.items():
        (folder / name).write_bytes(b"x")
        os.utime(folder / name, (when, when))
    assert ledger.prune(1) == 0
    assert sorted(p.name for p in folder.iterdir()) == [
        ".hidden",
        ".tmp-young.part",
        "orphan-young.wav",
    ]


def test_an_unreadable_prune_date_means_pruning_is_due(tmp_path):
    directory = tmp_path / "ledger"
    first = Ledger(directory, retention_days=0)
    job = recorded_job(first, [SUBMITTED, DONE, answer(200, b"x")])
    aged(first, job.id, 10 * 86400)
    with first._transaction() as db:
        db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('pruned_at', 'soon')")
    assert Ledger(directory, retention_days=5).get(job.id) is None


def test_pruning_is_due_again_a_day_later(tmp_path):
    directory = tmp_path / "ledger"
    first = Ledger(directory, retention_days=0)
    job = recorded_job(first, [SUBMITTED, DONE, answer(200, b"x")])
    aged(first, job.id, 10 * 86400)
    with first._transaction() as db:
        db.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('pruned_at', ?)",
            (str(time.time() - 86400 + 30),),
        )
    assert Ledger(directory, retention_days=5).get(job.id) is not None
    with first._transaction() as db:
        db.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('pruned_at', ?)",
            (str(time.time() - 86400 - 30),),
        )
    opened = Ledger(directory, retention_days=5)
    assert opened.get(job.id) is None
    (stamp,) = (
        sqlite3.connect(opened.path)
        .execute("SELECT value FROM meta WHERE key = 'pruned_at'")
        .fetchone()
    )
    assert abs(float(stamp) - time.time()) < 60


def test_a_failing_prune_is_logged_and_the_ledger_opens(tmp_path, monkeypatch, caplog):
    import logging

    def broken(self, days):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(Ledger, "prune", broken)
    caplog.set_level(logging.WARNING, logger="tts_nb")
    opened = Ledger(tmp_path / "ledger", retention_days=5)
    assert opened.integrity() == "ok"
    assert [r.getMessage() for r in caplog.records if r.name == "tts_nb"] == [
        f"tts_nb: pruning the ledger at {opened.directory} failed: disk I/O error"
    ]


def test_a_retention_that_is_not_a_number_is_named_in_full(tmp_path, monkeypatch):
    monkeypatch.setenv("TTS_NB_LEDGER_RETENTION_DAYS", " Soon ")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Ledger(tmp_path / "l")
    assert [(w.category, str(w.message)) for w in caught] == [
        (
            RuntimeWarning,
            "tts_nb: TTS_NB_LEDGER_RETENTION_DAYS='soon' is not a number of days; keeping "
            "finished jobs 30 days.",
        )
    ]


@pytest.mark.parametrize("setting", ["never", "none", "NONE"])
def test_retention_can_be_switched_off_by_name(tmp_path, monkeypatch, setting):
    monkeypatch.setenv("TTS_NB_LEDGER_RETENTION_DAYS", setting)
    assert Ledger(tmp_path / "l").retention_days is None
    assert Ledger(tmp_path / "m", retention_days=2.5).retention_days == 2.5
    assert Ledger(tmp_path / "n", retention_days=-1).retention_days is None


def test_forget_keeps_results_another_job_still_uses(ledger):
    audio = wav()
    a = recorded_job(ledger, [SUBMITTED, DONE, answer(200, b"x")], audio=audio)
    b = recorded_job(ledger, [SUBMITTED, DONE, answer(200, b"x")], audio=audio, fp="fp-2")
    assert ledger.forget([a.id]) == 1
    assert len(list(ledger.results_dir.rglob("*.wav"))) == 1
    assert ledger.rows([a.id]) == [] and len(ledger.rows([b.id])) == 3
    assert ledger.forget([]) == 0


def test_stored_urls_keep_their_empty_parameters():
    assert unsigned("https://x.test/a?empty=&sig=1&b=2") == "https://x.test/a?empty=&b=2"
    assert unsigned("see https://x.test/a") == "see https://x.test/a"


# ------------------------------------------------------------------ private files
def test_files_another_version_left_readable_are_made_private_again(ledger):
    ledger._put_result(Clip.from_bytes(wav()))
    other = reopened(ledger)  # keeps the -wal and -shm files in use
    files = [
        ledger.path,
        ledger.path.with_name("ledger.sqlite3-wal"),
        ledger.path.with_name("ledger.sqlite3-shm"),
        *[p for p in ledger.results_dir.rglob("*") if p.is_file()],
    ]
    folders = [ledger.results_dir, *[p for p in ledger.results_dir.iterdir()]]
    for path in files:
        path.chmod(0o644)
    for path in folders:
        path.chmod(0o755)
    reopened(ledger).close()
    assert [stat.S_IMODE(p.stat().st_mode) for p in files] == [0o600] * len(files)
    assert [stat.S_IMODE(p.stat().st_mode) for p in folders] == [0o700] * len(folders)
    other.close()


def test_a_folder_that_cannot_be_made_private_is_left_as_it_is(tmp_path, monkeypatch, caplog):
    import logging
    from pathlib import Path

    directory = tmp_path / "shared"
    directory.mkdir(mode=0o755)
    directory.chmod(0o755)

    def chmod(self, mode, **kwargs):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(Path, "chmod", chmod)
    caplog.set_level(logging.DEBUG, logger="tts_nb")
    opened = Ledger(directory, retention_days=0)
    assert opened.integrity() == "ok"
    assert stat.S_IMODE(directory.stat().st_mode) == 0o755
    said = [r.getMessage() for r in caplog.records if r.name == "tts_nb"]
    assert f"tts_nb: cannot make {directory} private: [Errno 1] Operation not permitted" in said


# ------------------------------------------------------------------ the process's ledger
def test_failed_writes_are_named_in_full_then_logged(ledger, monkeypatch, caplog):
    import logging

    monkeypatch.setattr(ledger_module, "_warned", set())
    caplog.set_level(logging.DEBUG, logger="tts_nb")
    job = recorded_job(ledger, [SUBMITTED, RUNNING], until=6)
    ledger.close()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ledger.observer(job)
        ledger.observer(job)
    assert [(w.category, str(w.message)) for w in caught] == [
        (
            RuntimeWarning,
            f"tts_nb: writing to the job ledger at {ledger.directory} failed (Cannot operate "
            "on a closed database.). Jobs go on, but they may not be resumable after a "
            "restart. Check the disk, or point TTS_NB_LEDGER or tn.use_ledger() elsewhere.",
        )
    ]
    assert "tts_nb: ledger write failed again: Cannot operate on a closed database." in [
        r.getMessage() for r in caplog.records if r.name == "tts_nb"
    ]


def test_each_unusable_ledger_directory_warns_once_in_full(tmp_path, monkeypatch):
    monkeypatch.setattr(ledger_module, "_failed", set())
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for name in ("a", "b", "a"):
            monkeypatch.setenv("TTS_NB_LEDGER", str(blocker / name))
            assert ledger_module.current() is None
    assert [(w.category, str(w.message)) for w in caught] == [
        (
            RuntimeWarning,
            f"tts_nb: the job ledger at {blocker / name} cannot be used ([Errno 20] Not a "
            f"directory: '{blocker / name}'); jobs run but are not recorded, so they cannot be "
            "resumed or reused. Point TTS_NB_LEDGER or tn.use_ledger() at a writable directory.",
        )
        for name in ("a", "b")
    ]


def test_without_a_setting_the_ledger_lives_in_the_user_data_directory(tmp_path, monkeypatch):
    import platformdirs

    asked = []

    def user_data_dir(*args, **kwargs):
        asked.append((args, kwargs))
        return str(tmp_path / "data" / "tts_nb")

    monkeypatch.setattr(platformdirs, "user_data_dir", user_data_dir)
    monkeypatch.delenv("TTS_NB_LEDGER")
    assert ledger_module.default_directory() == tmp_path / "data" / "tts_nb"
    assert asked == [(("tts_nb",), {"appauthor": False})]
    assert ledger_module.current().directory == tmp_path / "data" / "tts_nb"
    monkeypatch.setenv("TTS_NB_LEDGER", "   ")
    assert ledger_module.current().directory == tmp_path / "data" / "tts_nb"


@pytest.mark.parametrize("setting", ["off", "None", " false ", "0", "NO"])
def test_each_way_of_switching_the_ledger_off(monkeypatch, setting):
    monkeypatch.setenv("TTS_NB_LEDGER", setting)
    assert ledger_module.current() is None


def test_at_most_four_ledgers_stay_open_but_never_the_chosen_one(tmp_path, monkeypatch):
    from collections import OrderedDict

    monkeypatch.setattr(ledger_module, "_opened", OrderedDict())

    def via_env(name):
        return ledger_module._open(tmp_path / name)

    try:
        chosen = tn.use_ledger(tmp_path / "chosen")
        assert tn.use_ledger(tmp_path / "chosen") is chosen
        opened = {name: via_env(name) for name in ("a", "b", "c")}
        assert via_env("a") is opened["a"]  # the newest use again
        opened["d"] = via_env("d")  # five: the least recently used ("chosen") leaves
        assert chosen.integrity() == "ok"  # but stays open: jobs still write it
        assert ledger_module.current() is chosen
        opened["e"] = via_env("e")  # "b" leaves, closed
        with pytest.raises(sqlite3.ProgrammingError):
            opened["b"].integrity()
        assert all(opened[n].integrity() == "ok" for n in "acde")
        again = via_env("b")
        assert again is not opened["b"] and again.integrity() == "ok"
        with pytest.raises(sqlite3.ProgrammingError):
            opened["c"].integrity()
    finally:
        tn.use_ledger(True)


def test_a_stored_clip_is_described_field_by_field(ledger):
    import hashlib

    audio = wav(0.1)
    job = recorded_job(ledger, [SUBMITTED, DONE, answer(200, b"x")], audio=audio)
    (clip,) = reopened(ledger).get(job.id)["clips"]
    assert clip == {
        "sha256": hashlib.sha256(audio).hexdigest(),
        "format": "wav",
        "text": "hi",
        "voice": "v1",
        "meta": {"m": 1},
        "duration_s": 0.1,
        "bytes": len(audio),
    }


def test_private_files_are_never_made_looser(ledger):
    ledger._put_result(Clip.from_bytes(wav()))
    (blob,) = [p for p in ledger.results_dir.rglob("*") if p.is_file()]
    blob.chmod(0o400)
    reopened(ledger).close()
    assert stat.S_IMODE(blob.stat().st_mode) == 0o400


def test_a_synced_job_keeps_where_it_was_reused_from_and_its_error_unsigned(ledger):
    from tts_nb.state import State

    job = Bare("s1", {"text": "hi"})
    ledger.record_new(job, fingerprint="f", endpoint="e", embedded=False)
    job.state, job.reused_from, job.provider_ids = State.RUNNING, "j0", {"id": "p1"}
    job.error = ValueError("see https://cdn.test/a.wav?sig=S&part=1")
    job.submit_unconfirmed, job.polls, job.raw_status = True, 3, "busy"
    ledger.sync(job)
    record = reopened(ledger).get("s1")
    assert (record["reused_from"], record["provider_ids"], record["phase"]) == (
        "j0",
        {"id": "p1"},
        "submitted",
    )
    assert (record["error"], record["error_type"]) == (
        "see https://cdn.test/a.wav?part=1",
        "ValueError",
    )
    assert (record["submit_unconfirmed"], record["polls"], record["raw_status"]) == (
        True,
        3,
        "busy",
    )
    assert record["owner"] == this_owner() and record["token"] is None


def test_each_failing_ledger_warns_once_of_its_own(tmp_path, monkeypatch):
    monkeypatch.setattr(ledger_module, "_warned", set())
    first = Ledger(tmp_path / "one", retention_days=0)
    second = Ledger(tmp_path / "two", retention_days=0)
    job = recorded_job(first, [SUBMITTED, RUNNING], until=6)
    first.close()
    second.close()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for ledger in (first, second, first, second):
            ledger.observer(job)
    said = [str(w.message) for w in caught]
    assert len(said) == 2
    assert said[0].startswith(f"tts_nb: writing to the job ledger at {tmp_path / 'one'} failed")
    assert said[1].startswith(f"tts_nb: writing to the job ledger at {tmp_path / 'two'} failed")


def test_use_ledger_without_an_argument_goes_back_to_the_default(tmp_path, monkeypatch):
    monkeypatch.setenv("TTS_NB_LEDGER", str(tmp_path / "env"))
    try:
        assert tn.use_ledger(None) is None and ledger_module.current() is None
        assert tn.use_ledger().directory == (tmp_path / "env").resolve()
        assert ledger_module.current().directory == (tmp_path / "env").resolve()
    finally:
        tn.use_ledger(True)


def test_forget_takes_jobs_without_a_result_too(ledger):
    running = recorded_job(ledger, [SUBMITTED, RUNNING], until=6)
    failed = recorded_job(ledger, [SUBMITTED, answer(200, {"id": "j1", "status": "failed"})])
    assert ledger.forget([running.id, failed.id]) == 2
    assert ledger.records() == []


# ------------------------------------------------------------------ learning from the ledger


def test_jobs_without_a_finish_time_are_learned_in_the_order_they_were_last_updated(tmp_path):
    from tts_nb.learning import intervals

    from .test_policy_learning import ENDPOINT, TEXT, FinishedJob

    ledger = Ledger(tmp_path / "ledger")
    for n, done in enumerate([60.0, 40.0]):  # the newer job took 40 s
        job = FinishedJob(n, start=1_000.0 + 100 * n, done=done)
        ledger.record_new(job, fingerprint=job.id, endpoint=ENDPOINT, embedded=False)
        job.finish()
        job.finished_at = None  # an older record, written before finish times were kept
        ledger.sync(job)
    assert [r["finished_at"] for r in ledger.records()] == [None, None]
    assert intervals(ledger, "typecast", ENDPOINT, limit=1) == [(len(TEXT), 38.0, 40.0)]


def test_a_ledger_that_cannot_be_read_leaves_the_model_untaught_and_says_why(caplog):
    from tts_nb.durations import DurationModel
    from tts_nb.learning import warmed

    class Unreadable:
        def records(self):
            raise sqlite3.DatabaseError("file is not a database")

    model = DurationModel((1.0, 0.06))
    with caplog.at_level("WARNING", logger="tts_nb"):
        assert warmed(model, "typecast", "https://api.example", ledger=Unreadable()) is model
    assert model.predict(300) == pytest.approx(19.0)
    assert [r.getMessage() for r in caplog.records] == [
        "tts_nb: the ledger could not be read to learn job durations: file is not a database"
    ]
