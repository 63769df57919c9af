"""The `Scheduler(executor=...)` hook: jobs whose HTTP, fetch and decode run on the caller's pool.

    python -m benchmarks.executor            # 40 Typecast jobs on a caller's ThreadPoolExecutor
    python -m benchmarks.executor --quick

Any `concurrent.futures.Executor` works: the scheduler keeps time on its one thread and hands
each due step (submit, poll, fetch and decode) to `executor.submit`. A distributed engine's
executor (e.g. Dask's `Client.get_executor()`) plugs in the same way; the job model does not
change. This demo passes a local `ThreadPoolExecutor` and shows every step ran on its threads.
"""

from __future__ import annotations

import argparse
import random
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait

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
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
