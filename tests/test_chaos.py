"""Reliability under load and faults, over real HTTP against the simulator.

* Concurrency: under Typecast v1's per-account limit (Free plan: 2), a 20-voice comparison
  queues on the client side instead of tripping the provider's 429.
* Chaos: at 20 % random faults of every kind (5xx, 429 with Retry-After, resets, lost answers,
  malformed JSON, slow bodies, stalls), 200+ jobs all end in a terminal state with an
  explanation, none is lost from the ledger, none is submitted twice (checked from the
  simulator's own records), and every success is real audio. The figures are printed.
"""

from __future__ import annotations

import collections
import concurrent.futures
import io
import time

import soundfile

import tts_nb as tn
from tts_nb.ledger import Ledger
from tts_nb.simulator import Simulator
from tts_nb.simulator.typecast import ACTORS
from tts_nb.state import State

DESCRIPTION = (
    "A calm and warm middle-aged male narrator with a low voice, a slight British accent, "
    "an unhurried pace and clear diction, suited to documentaries and audiobooks."
)
HANDLED = (None, "slow", "malformed", "lost_answer")  # faults after which the app did its work


def test_a_20_voice_comparison_never_trips_the_concurrency_limit(capsys):
    with Simulator(speed=50, seed=5) as sim:  # Typecast v1's Free plan: 2 at once
        client = tn.Typecast(
            api_key=sim.credentials["typecast_v1_api_key"],
            base_url=sim.urls["typecast_v1"],
            policy=tn.Fixed(0.05, timeout=60),
            min_interval=0.05,
        )
        assert client.max_concurrent == 2  # the default is the Free plan's limit
        voices = client.voices().voice_id.tolist()
        t0 = time.monotonic()
        jobs = [
            client.speak(f"Voice {i} says hello. [[sim:slow]]", voice_id=voices[i % len(voices)])
            for i in range(20)
        ]
        queued = [job for job in jobs if job.rows and job.rows[0]["step"] == "queue"]
        assert len(queued) >= 17  # the first jobs may finish before the last ones are queued
        notes = [job.rows[0]["note"] for job in queued]
        assert notes[-1].startswith(f"queued: {len(queued) - 1} ahead")
        done, _ = concurrent.futures.wait(jobs, timeout=120)
        assert len(done) == 20 and all(job.state is State.SUCCEEDED for job in jobs)
        statuses = [r.status for r in sim.log.find(origin="typecast_v1", method="POST")]
        assert statuses == [200] * 20  # not a single 429
        with capsys.disabled():
            print(
                f"\n20 jobs, limit 2: all succeeded in {time.monotonic() - t0:.1f} s "
                "with no 429 answer"
            )


def test_a_queued_job_can_be_cancelled_and_is_never_sent():
    with Simulator(speed=50, seed=6) as sim:
        client = tn.Typecast(
            api_key=sim.credentials["typecast_api_key"],
            base_url=sim.urls["typecast"],
            policy=tn.Fixed(0.05),
            min_interval=0.05,
            max_concurrent=1,
        )
        actor = ACTORS[0].actor_id
        first = client.speak("First in line. [[sim:slow]]", actor_id=actor)
        second = client.speak("Second in line.", actor_id=actor)
        assert second.cancel() and second.state is State.CANCELLED
        third = client.speak("Third in line.", actor_id=actor)
        first.wait(60)
        third.wait(60)
        texts = [s.text for s in sim.typecast._speaks.values()]
        assert sorted(texts) == ["First in line.", "Third in line."]


def start_mixed_jobs(sim, count: int) -> list:
    """`count` jobs over every flow there is: Typecast speak (WAV, MP3, HD, failing), CAMB tts,
    translated-tts and text-to-voice, Aspose text-to-speech. Every text is unique."""
    common = dict(policy=tn.Fixed(0.05, timeout=30), min_interval=0.05, http_timeout=(1.0, 0.5))
    typecast = tn.Typecast(
        api_key=sim.credentials["typecast_api_key"],
        base_url=sim.urls["typecast"],
        max_concurrent=8,
        **common,
    )
    camb = tn.Camb(
        api_key=sim.credentials["camb_api_key"],
        base_url=sim.urls["camb"],
        max_concurrent=6,
        **common,
    )
    aspose = tn.Aspose(
        client_id=sim.credentials["aspose_client_id"],
        client_secret=sim.credentials["aspose_client_secret"],
        base_url=sim.urls["aspose"],
        max_concurrent=4,
        **common,
    )
    voice = int(camb.voices().iloc[0]["voice_id"])  # catalogues are read before the faults start
    camb.languages()
    sim.faults.rate = 0.2
    jobs = []
    for i in range(count):
        text = f"Chaos job number {i}."
        if i % 23 == 7:
            text += " [[sim:fail]]"
        flow = i % 10
        if flow < 5:
            options = {}
            if i % 7 == 3:
                options["xapi_audio_format"] = "mp3"
            if i % 11 == 5:
                options["xapi_hd"] = True
            actor = ACTORS[i % len(ACTORS)].actor_id
            jobs.append(typecast.speak(text, actor_id=actor, **options))
        elif flow < 7:
            jobs.append(camb.tts(text, voice_id=voice, language="en-us", stream=False))
        elif flow == 7:
            jobs.append(camb.translated_tts(text, voice, "en-us", "fr-fr"))
        elif flow == 8 and i % 20 == 8:
            jobs.append(camb.text_to_voice(text, voice_description=DESCRIPTION))
        else:
            jobs.append(aspose.text_to_speech(text))
    return jobs


def accepted_submits(sim) -> dict[str, int]:
    """Per API, the submits its server accepted according to its own request log."""
    submit = {
        "typecast": lambda path: path == "/api/speak",
        "camb": lambda path: (
            path.rstrip("/").rsplit("/", 1)[-1] in ("tts", "translated-tts", "text-to-voice")
        ),
        "aspose": lambda path: path.lower().startswith("/v5.0/ocr/converttexttospeech"),
    }
    counts = {}
    for origin, is_submit in submit.items():
        counts[origin] = sum(
            1
            for r in sim.log.find(origin=origin, method="POST")
            if is_submit(r.path)
            and r.fault in HANDLED
            and (r.fault == "lost_answer" or (r.status or 500) < 400)
        )
    return counts


def created_tasks(sim) -> dict[str, list[str]]:
    """Per API, the text of every job its server created: the provider's own records."""
    return {
        "typecast": [s.text for s in sim.typecast._speaks.values()],
        "camb": [t.text for t in sim.camb._tasks.values()],
        "aspose": [t.text for t in sim.aspose._tasks.values()],
    }


def test_chaos_every_job_ends_explained_and_none_is_lost_or_sent_twice(tmp_path, capsys):
    t0 = time.monotonic()
    with Simulator(speed=100, seed=2026, fault_rate=0.0) as sim:
        sim.faults.stall_s = 0.6  # 'timeout' faults stall longer than the client's read timeout
        sim.faults.retry_after_s = 0.05
        tn.use_ledger(tmp_path / "chaos-ledger")
        jobs = start_mixed_jobs(sim, 230)
        done, not_done = concurrent.futures.wait(jobs, timeout=150)
        elapsed = time.monotonic() - t0
        assert not not_done, [job.status_line() for job in not_done]

        # every job is terminal and says why when it did not succeed
        states = collections.Counter(f"{job.provider} {job.state.value}" for job in jobs)
        for job in jobs:
            assert job.state.terminal
            if job.state is not State.SUCCEEDED:
                assert job.error is not None and len(str(job.error)) > 20, job.status_line()
                assert job.history.note.iloc[-1], job.status_line()

        # every success is real audio
        for job in jobs:
            if job.state is State.SUCCEEDED:
                clips = job.clip if isinstance(job.clip, list) else [job.clip]
                for clip in clips:
                    samples, rate = soundfile.read(io.BytesIO(clip.data))
                    assert len(samples) > rate * 0.2 and clip.format in ("wav", "mp3", "flac")

        # nothing lost from the ledger: another connection sees every job, in its final state
        view = Ledger(tmp_path / "chaos-ledger")
        records = {r["id"]: r for r in view.records()}
        lost = [job.id for job in jobs if records.get(job.id, {}).get("state") != job.state.value]
        assert lost == []
        assert view.integrity() == "ok"
        for job in jobs:
            if job.submit_unconfirmed:
                assert records[job.id]["submit_unconfirmed"]

        # nothing submitted twice: the providers' own records, one entry per accepted submit
        tasks = created_tasks(sim)
        duplicates = sum(
            count - 1
            for texts in tasks.values()
            for count in collections.Counter(texts).values()
            if count > 1
        )
        assert duplicates == 0
        assert accepted_submits(sim) == {origin: len(texts) for origin, texts in tasks.items()}

        injected = dict(sorted(sim.faults.injected.items()))
        reasons = collections.Counter(
            "submit unconfirmed"
            if job.submit_unconfirmed
            else f"{type(job.error).__name__} {job.error.status_code or ''}".strip()
            for job in jobs
            if job.error is not None
        )
        flows = collections.Counter(f"{job.provider}.{job.kind}" for job in jobs)
        with capsys.disabled():
            print(
                f"\nchaos: {len(jobs)} jobs {dict(flows)} at fault rate 0.2 in {elapsed:.1f} s; "
                f"{sum(injected.values())} faults injected {injected}; "
                f"terminal states {dict(sorted(states.items()))}; "
                f"failures by cause {dict(reasons)}; "
                f"lost {len(lost)}; duplicate submits {duplicates}"
            )
        assert sum(1 for job in jobs if job.state is State.SUCCEEDED) > len(jobs) // 2
        assert sum(injected.values()) > 100
        tn.use_ledger(True)
