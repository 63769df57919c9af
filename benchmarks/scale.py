"""Scale: N concurrent Typecast jobs on the simulator, tts_nb against one thread per job.

    python -m benchmarks.scale               # N = 1, 10, 100, 1000
    python -m benchmarks.scale --quick       # N = 1, 10, 50, jobs 10x shorter

The simulator runs in its own process (`benchmarks.simserver`), and every (way, N) run in a
fresh process of its own, so threads, CPU time and memory are the client's alone. Measured:
wall time from the first submit to the last audio against the longest job's true duration,
peak threads, CPU time per request, peak memory growth, and main-thread latency (a loop of
5 ms sleeps measuring how late each wakes up) while the jobs poll, i.e. how a kernel that
keeps running cells feels.

"tts_nb" is `tc.speak()` with the default `Adaptive()` policy (minimum interval lowered to
0.5 s); "naive" is what the seed samples do: a thread per job, POST, then `sleep` and GET
every second until done, then download.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

import requests

import tts_nb as tn
from tts_nb.policy import DurationModel
from tts_nb.scheduler import Scheduler

from .realtime import sentence

MIN_INTERVAL = 0.5  # tts_nb's minimum interval here (Typecast asks for 1 s; lowered as allowed)
NAIVE_INTERVAL = 1.0  # Typecast's recommended cycle, as its engineer's sample polls
PROBE_SLEEP = 0.005
ENGINE_THREADS = ("tts_nb-scheduler", "tts_nb-worker")  # not the simulator's tts_nb-sim-*


@dataclass
class Probe:
    """Main-thread work while jobs run: sleep 5 ms, note how late it woke, count threads."""

    overshoots: list[float]
    peak_threads: int = 0
    peak_own_threads: int = 0

    @classmethod
    def run_until(cls, finished) -> Probe:
        probe = cls([])
        while not finished():
            t = time.perf_counter()
            time.sleep(PROBE_SLEEP)
            probe.overshoots.append(time.perf_counter() - t - PROBE_SLEEP)
            threads = threading.enumerate()
            probe.peak_threads = max(probe.peak_threads, len(threads))
            own = sum(th.name.startswith(ENGINE_THREADS) for th in threads)
            probe.peak_own_threads = max(probe.peak_own_threads, own)
        return probe


def rss_mb() -> float:
    """This process's resident memory now (Linux), in MB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_tts_nb(info: dict, texts: list[str], speed: float) -> dict:
    """Start one job per text with `tc.speak()`, then keep the main thread busy until all end."""
    tc = tn.Typecast(
        api_key=info["credentials"]["typecast_api_key"],
        base_url=info["typecast"],
        policy=tn.Adaptive(),
        min_interval=MIN_INTERVAL,
        scheduler=Scheduler(),
        max_concurrent=len(texts),  # the simulator sets no account limit; measure the engine
    )
    a, b = tn.Typecast.duration_prior  # the prior, on the simulator's faster clock
    tc.duration_model = DurationModel((a / speed, b / speed))
    actor = tc.actors().actor_id.iloc[0]
    left = [len(texts)]
    lock = threading.Lock()

    def one_done(_job) -> None:
        with lock:
            left[0] -= 1

    rss0, cpu0, t0 = rss_mb(), time.process_time(), time.time()
    jobs, peak = [], 0
    for text in texts:  # what a notebook cell does: it returns when every job has started
        jobs.append(tc.speak(text, actor_id=actor, max_seconds=1))
        peak = max(peak, threading.active_count())
    started = time.time() - t0
    for job in jobs:
        job.add_done_callback(one_done)
    probe = Probe.run_until(lambda: left[0] == 0)
    probe.peak_threads = max(probe.peak_threads, peak)
    cpu = time.process_time() - cpu0
    ok = [job for job in jobs if job.state is tn.State.SUCCEEDED]
    return {
        "wall": max(job.finished_at for job in jobs) - t0,
        "start": started,
        "cpu": cpu,
        "requests": sum(len(job.exchanges) for job in jobs),
        "polls": statistics.median(job.polls for job in jobs),
        "ok": len(ok),
        "submits": {
            job.provider_ids["speak_v2_url"].rsplit("/", 1)[-1]: _sent(job, t0) for job in ok
        },
        "memory": peak_rss_mb() - rss0,
        "probe": probe,
    }


def _sent(job, t0: float) -> float:
    """Seconds from the batch start to this job's submit request (its provider clock starts
    a moment later)."""
    return next(e.started for e in job.exchanges if e.step == "submit") - t0


def run_naive(info: dict, texts: list[str], speed: float) -> dict:
    """One thread per job with a blocking loop, as the seed samples are written."""
    base, key = info["typecast"], info["credentials"]["typecast_api_key"]
    auth = {"Authorization": f"Bearer {key}"}
    actor = requests.get(f"{base}/api/actor", headers=auth, timeout=30).json()["result"][0]
    results: list[tuple[str, int, float, float]] = []
    lock = threading.Lock()

    def job(text: str) -> None:
        body = {"text": text, "actor_id": actor["actor_id"], "lang": "auto", "max_seconds": 1}
        sent = time.time()
        answer = requests.post(f"{base}/api/speak", json=body, headers=auth, timeout=30).json()
        url, polls = answer["result"]["speak_v2_url"], 0
        while True:
            time.sleep(NAIVE_INTERVAL)
            status = requests.get(url, headers=auth, timeout=30).json()["result"]
            polls += 1
            if status["status"] == "done":
                requests.get(status["audio_download_url"], timeout=30).content  # noqa: B018
                break
            if status["status"] == "failed":
                break
        with lock:
            results.append((url.rsplit("/", 1)[-1], polls, sent, time.time()))

    rss0, cpu0, t0 = rss_mb(), time.process_time(), time.time()
    threads = [threading.Thread(target=job, args=(text,)) for text in texts]
    peak = 0
    for thread in threads:  # the cell that starts them returns when all have started
        thread.start()
        peak = max(peak, threading.active_count())
    started = time.time() - t0
    probe = Probe.run_until(lambda: not any(thread.is_alive() for thread in threads))
    probe.peak_threads = max(probe.peak_threads, peak)
    cpu = time.process_time() - cpu0
    return {
        "wall": max(end for *_, end in results) - t0,
        "start": started,
        "cpu": cpu,
        "requests": sum(p + 2 for _, p, _, _ in results),
        "polls": statistics.median(p for _, p, _, _ in results),
        "ok": len(results),
        "submits": {i: sent - t0 for i, _, sent, _ in results},
        "memory": peak_rss_mb() - rss0,
        "probe": probe,
    }


def child(way: str, n: int, info: dict, speed: float, chars: tuple[int, int]) -> None:
    """One (way, N) run in this fresh process; prints its numbers as one JSON line."""
    rng = random.Random(n)
    texts = [sentence(rng, *chars) for _ in range(n)]
    result = (run_tts_nb if way == "tts_nb" else run_naive)(info, texts, speed)
    probe = result.pop("probe")
    overshoots = sorted(probe.overshoots)
    result.update(
        latency_p99=overshoots[int(0.99 * (len(overshoots) - 1))] if overshoots else 0.0,
        latency_max=overshoots[-1] if overshoots else 0.0,
        threads=probe.peak_threads,
        own_threads=probe.peak_own_threads,
    )
    print(json.dumps(result))


@dataclass(frozen=True)
class Row:
    way: str
    n: int
    ok: int
    start: float
    longest: float
    last_finish: float
    wall: float
    polls: float
    threads: int
    own_threads: int
    cpu_per_request_ms: float
    memory_mb: float
    latency_p99_ms: float


def measure(ns: tuple[int, ...], speed: float, chars: tuple[int, int]) -> list[Row]:
    server = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.simserver", "--speed", str(speed)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        info_line = server.stdout.readline()
        rows = []
        for n in ns:
            for way in ("tts_nb", "naive"):
                out = subprocess.run(
                    [sys.executable, "-m", "benchmarks.scale", "--child", way, "--n", str(n),
                     "--speed", str(speed), "--chars", f"{chars[0]},{chars[1]}",
                     "--info", info_line.strip()],
                    capture_output=True, text=True,
                )  # fmt: skip
                if out.returncode:
                    raise RuntimeError(f"the {way} N={n} run failed:\n{out.stderr[-3000:]}")
                result = json.loads(out.stdout.strip().splitlines()[-1])
                server.stdin.write("durations\n")
                server.stdin.flush()
                durations = json.loads(server.stdout.readline())
                rows.append(
                    Row(
                        way=way,
                        n=n,
                        ok=result["ok"],
                        start=result["start"],
                        longest=max(durations[i] for i in result["submits"]),
                        last_finish=max(t + durations[i] for i, t in result["submits"].items()),
                        wall=result["wall"],
                        polls=result["polls"],
                        threads=result["threads"],
                        own_threads=result["own_threads"],
                        cpu_per_request_ms=1000 * result["cpu"] / max(1, result["requests"]),
                        memory_mb=result["memory"],
                        latency_p99_ms=1000 * result["latency_p99"],
                    )
                )
                print(f"  done: {way} N={n}", file=sys.stderr, flush=True)
        return rows
    finally:
        server.stdin.close()
        server.wait(timeout=30)


def table(rows: list[Row]) -> str:
    head = (
        f"{'way':7} {'N':>5} {'ok':>5} {'start s':>7} {'longest s':>9} {'last end s':>10} "
        f"{'wall s':>7} {'over s':>6} {'polls/job':>9} {'threads':>7} {'CPU ms/req':>10} "
        f"{'mem MB':>7} {'p99 lat ms':>10}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r.way:7} {r.n:5d} {r.ok:5d} {r.start:7.2f} {r.longest:9.2f} {r.last_finish:10.2f} "
            f"{r.wall:7.2f} {r.wall - r.last_finish:6.2f} {r.polls:9g} {r.threads:7d} "
            f"{r.cpu_per_request_ms:10.2f} {r.memory_mb:7.1f} {r.latency_p99_ms:10.1f}"
        )
    return "\n".join(lines)


def checks(rows: list[Row]) -> list[tuple[str, bool]]:
    top = max(r.n for r in rows)
    mine = next(r for r in rows if r.way == "tts_nb" and r.n == top)
    naive = next(r for r in rows if r.way == "naive" and r.n == top)
    return [
        (f"{top} jobs: all succeeded ({mine.ok})", mine.ok == top),
        (
            f"{top} jobs: the starting cell returned after {mine.start:.2f} s (naive "
            f"{naive.start:.2f} s); all done after {mine.wall:.2f} s (naive {naive.wall:.2f} s)",
            True,
        ),
        (
            f"{top} jobs: {mine.threads} threads in all ({mine.own_threads} of tts_nb's own; "
            f"naive {naive.threads}) (target <= 16)",
            mine.threads <= 16,
        ),
        (
            f"{top} jobs: wall {mine.wall:.2f} s; the last job ended {mine.last_finish:.2f} s "
            f"after the start (the longest took {mine.longest:.2f} s): "
            f"+{mine.wall - mine.last_finish:.2f} s to see it and fetch its audio "
            f"(target <= 2 x {MIN_INTERVAL:g} s; naive "
            f"+{naive.wall - naive.last_finish:.2f} s)",
            mine.wall <= mine.last_finish + 2 * MIN_INTERVAL,
        ),
        (
            f"{top} jobs: main-thread latency p99 {mine.latency_p99_ms:.1f} ms (target < 50; "
            f"naive {naive.latency_p99_ms:.1f} ms)",
            mine.latency_p99_ms < 50,
        ),
        (
            f"{top} jobs: CPU per request {mine.cpu_per_request_ms:.2f} ms vs naive "
            f"{naive.cpu_per_request_ms:.2f} ms; requests per job: median polls "
            f"{mine.polls:g} vs {naive.polls:g}; memory +{mine.memory_mb:.0f} MB vs "
            f"+{naive.memory_mb:.0f} MB",
            True,
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="CI size: N = 1, 10, 50")
    parser.add_argument("--speed", type=float, default=None, help="simulator speed")
    parser.add_argument("--child", choices=("tts_nb", "naive"), help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--info", help=argparse.SUPPRESS)
    parser.add_argument("--chars", default="200,400", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    chars = tuple(int(c) for c in args.chars.split(","))
    if args.child:
        child(args.child, args.n, json.loads(args.info), args.speed, chars)
        return 0
    speed = args.speed or (10.0 if args.quick else 1.0)
    ns = (1, 10, 50) if args.quick else (1, 10, 100, 1000)
    rows = measure(ns, speed, chars)
    print(f"Scale on the simulator (own process), speed {speed:g}, texts {chars} characters")
    print(table(rows))
    print()
    results = checks(rows)
    for text, passed in results:
        print(f"[{'PASS' if passed else 'FAIL'}] {text}")
    return 0 if all(passed for _, passed in results) else 1


if __name__ == "__main__":
    sys.exit(main())
