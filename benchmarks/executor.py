"""The `Scheduler(executor=...)` hook: jobs whose HTTP, fetch and decode run on the caller's pool.

    python -m benchmarks.executor            # 40 Typecast jobs on a caller's ThreadPoolExecutor
    python -m benchmarks.executor --quick    # 8 jobs; the process scaling with 1 and 2 workers

Any `concurrent.futures.Executor` works: the scheduler keeps time on its one thread and hands
each due step (submit, poll, fetch and decode) to `executor.submit`. A distributed engine's
executor (e.g. Dask's `Client.get_executor()`) plugs in the same way; the job model does not
change. This demo passes a local `ThreadPoolExecutor` and shows every step ran on its threads.

Then `scaling()`: with continuation tokens a job's steps need no live object, so `tn.batch` sends
picklable units to a `ProcessPoolExecutor` of 1, 2 and 4 worker processes (each builds its own
client from its environment) and prints jobs/s and the threads each worker process ran,
measured side by side against one simulator.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, wait

import tts_nb as tn
from tts_nb.policy import DurationModel
from tts_nb.scheduler import Scheduler
from tts_nb.simulator import Simulator

from .realtime import sentence


def run(n: int, workers: int = 4, speed: float = 20.0) -> dict:
    """Run `n` jobs with a caller-supplied pool; return where their steps ran and how it went."""
    rng = random.Random(5)
    seen_threads: set[str] = set()
    lock = threading.Lock()

    def note_thread(_job) -> None:
        with lock:
            seen_threads.add(threading.current_thread().name)

    with (
        Simulator(speed=speed, seed=5) as sim,
        ThreadPoolExecutor(workers, thread_name_prefix="callers-pool") as pool,
    ):
        scheduler = Scheduler(executor=pool)
        tc = tn.Typecast(
            api_key=sim.credentials["typecast_api_key"],
            base_url=sim.urls["typecast"],
            min_interval=0.05,
            scheduler=scheduler,
            max_concurrent=n,
        )
        a, b = tn.Typecast.duration_prior  # the prior, on the simulator's faster clock
        tc.duration_model = DurationModel((a / speed, b / speed))
        actor = tc.actors().actor_id.iloc[0]
        t0 = time.perf_counter()
        jobs = []
        for _ in range(n):
            job = tc.speak(sentence(rng), actor_id=actor, max_seconds=1)
            job.observe(note_thread)
            jobs.append(job)
        wait(jobs, timeout=120)
        wall = time.perf_counter() - t0
        scheduler.shutdown(wait=False)  # its thread; the pool is the caller's to close
    ok = [job for job in jobs if job.state is tn.State.SUCCEEDED]
    return {
        "jobs": n,
        "succeeded": len(ok),
        "audio_bytes": sum(len(job.clip.data) for job in ok),
        "wall_s": wall,
        "threads": sorted(seen_threads),
    }


def scaling(n: int, workers: tuple[int, ...] = (1, 2, 4), speed: float = 20.0) -> list[dict]:
    """`n` jobs through `tn.batch` on process pools of each size in `workers`, one simulator:
    jobs/s, and the threads of the busiest worker process (its scheduler and pool)."""
    rng = random.Random(9)
    results = []
    with Simulator(speed=speed, seed=9) as sim:
        saved = {name: os.environ.get(name) for name in WORKER_ENV}
        os.environ.update(  # what the workers read: never pickled with the work
            TYPECAST_API_KEY=sim.credentials["typecast_api_key"],
            TTS_NB_TYPECAST_URL=sim.urls["typecast"],
            TTS_NB_LEDGER="off",  # every size submits its jobs (no reuse across sizes)
        )
        try:
            actor = tn.Typecast(api="legacy").actors().actor_id.iloc[0]
            spawn = multiprocessing.get_context("spawn")
            for size in workers:
                texts = [sentence(rng) + f" [{size}-{i}]" for i in range(n)]
                with ProcessPoolExecutor(size, mp_context=spawn) as pool:
                    list(pool.map(_threads, range(size)))  # workers started before timing
                    with tempfile.TemporaryDirectory() as out:
                        t0 = time.perf_counter()
                        frame = tn.batch(
                            texts, actor, executor=pool, out=out, timeout=120, policy=POLICY
                        )
                        wall = time.perf_counter() - t0
                    peak = max(pool.map(_threads, range(size)))
                results.append(
                    {
                        "workers": size,
                        "jobs": n,
                        "succeeded": int((frame.state == "SUCCEEDED").sum()),
                        "jobs_per_s": n / wall,
                        "processes": frame.worker_pid.nunique(),
                        "threads_per_process": peak,
                    }
                )
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
    return results


POLICY = tn.Fixed(0.1, timeout=120)  # the simulator's pace, as `run` polls
WORKER_ENV = ("TYPECAST_API_KEY", "TTS_NB_TYPECAST_URL", "TTS_NB_LEDGER")


def _threads(_: int) -> int:
    """Threads alive in this worker process (a picklable probe)."""
    time.sleep(0.05)  # so a map over the pool reaches every worker
    return threading.active_count()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.executor", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="CI size: 8 jobs")
    args = parser.parse_args(argv)
    result = run(8 if args.quick else 40)
    pool_only = all(name.startswith("callers-pool") for name in result["threads"])
    print(
        f"{result['succeeded']} of {result['jobs']} jobs succeeded in {result['wall_s']:.2f} s "
        f"({result['audio_bytes']} bytes of audio) on the caller's pool; steps ran on "
        f"{', '.join(result['threads'])}"
    )
    passed = pool_only and result["succeeded"] == result["jobs"]
    print(f"[{'PASS' if passed else 'FAIL'}] every job step ran on the caller's executor")
    rows = scaling(8, (1, 2)) if args.quick else scaling(40)
    base = rows[0]["jobs_per_s"]
    print("\nworker processes | jobs | ok | jobs/s | × 1 worker | processes used | threads/process")
    for row in rows:
        print(
            f"{row['workers']:>16} | {row['jobs']:>4} | {row['succeeded']:>2} | "
            f"{row['jobs_per_s']:>6.2f} | {row['jobs_per_s'] / base:>10.2f} | "
            f"{row['processes']:>14} | {row['threads_per_process']:>15}"
        )
    scaled = all(row["succeeded"] == row["jobs"] for row in rows)
    print(f"[{'PASS' if scaled else 'FAIL'}] every job succeeded on every process pool")
    return 0 if passed and scaled else 1


if __name__ == "__main__":
    sys.exit(main())
