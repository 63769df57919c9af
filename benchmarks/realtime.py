"""The adaptive default in real time on the simulator, checked against the virtual-clock plan.

    python -m benchmarks.realtime            # 6 waves of 25 Typecast jobs at speed 4
    python -m benchmarks.realtime --quick

A Typecast client on the embedded simulator runs waves of concurrent jobs with sentence-length
texts; its duration model learns from each wave. The simulator runs `speed` times faster than
the service, so the client's minimum interval and duration prior are divided by the same
factor: every time below is in the provider's seconds (real seconds x speed). Then each job's
real poll times (from its exchanges) are compared with the plan the same engine makes on a
virtual clock for the same duration and the same prediction.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
from dataclasses import dataclass

import tts_nb as tn
from tts_nb.policy import DurationModel, Prediction
from tts_nb.simulator import Simulator

from .virtual import run_policy

WORDS = "the quick brown fox jumps over a lazy dog while seven tall ships sail home at dawn".split()


def sentence(rng: random.Random, low: int = 20, high: int = 200) -> str:
    """A text of `low`..`high` characters, as notebook users type them."""
    target = rng.randint(low, high)
    words: list[str] = []
    while len(" ".join(words)) < target:
        words.append(rng.choice(WORDS))
    return " ".join(words).capitalize() + "."


class FrozenModel:
    """A duration model stuck at one prediction: the state the real client had at submit."""

    def __init__(self, prediction: Prediction) -> None:
        self.prediction = prediction

    def predict(self, characters: int) -> Prediction:
        return self.prediction

    def observe_interval(self, characters: int, low: float, high: float) -> None:
        pass


@dataclass(frozen=True)
class RealJob:
    wave: int
    polls: int
    lag: float  # provider seconds
    deviations: tuple[float, ...]  # real - planned poll time, less HTTP waits; provider s
    same_count: bool


def run(waves: int, per_wave: int, speed: float, seed: int = 3) -> list[RealJob]:
    """Run the waves and compare every job with its virtual-clock plan."""
    rng = random.Random(seed)
    policy = tn.Adaptive()
    results: list[RealJob] = []
    with Simulator(speed=speed, seed=seed) as sim:
        tc = tn.Typecast(
            api_key=sim.credentials["typecast_api_key"],
            base_url=sim.urls["typecast"],
            policy=policy,
            min_interval=tn.Typecast.default_min_interval / speed,
            max_concurrent=per_wave,  # a whole wave at once: the simulator sets no limit
        )
        a, b = tn.Typecast.duration_prior
        tc.duration_model = DurationModel((a / speed, b / speed))
        actor = tc.actors().actor_id.iloc[0]
        for wave in range(1, waves + 1):
            texts = [sentence(rng) for _ in range(per_wave)]
            # No job of this wave finishes while the wave is being submitted, so each job's
            # prediction is the one the model gives now.
            predictions = [tc.duration_model.predict(len(t)) for t in texts]
            jobs = [tc.speak(t, actor_id=actor, max_seconds=1) for t in texts]
            for job in jobs:
                job.wait(timeout=120)
            for job, prediction in zip(jobs, predictions):
                results.append(_compare(job, prediction, sim, tc, policy, speed, wave))
    return results


def _compare(job, prediction, sim, tc, policy, speed, wave) -> RealJob:
    speak_id = job.provider_ids["speak_v2_url"].rsplit("/", 1)[-1]
    duration = sim.typecast._speaks[speak_id].duration_s / speed  # real seconds
    steps = [e for e in job.exchanges if e.step in ("submit", "poll")]
    # The engine plans each poll from the moment the previous answer arrived; the virtual
    # plan has instant answers. Taking out the time spent waiting for answers leaves the
    # engine's own timing (scheduler wake-up, worker dispatch).
    real, waited = [], 0.0
    for exchange in steps:
        if exchange.step == "poll":
            real.append(exchange.started - steps[0].started - waited)
        waited += exchange.latency_s or 0.0
    (planned,) = run_policy(
        policy,
        [(len(job.request["text"]), duration, 0.0)],
        provider="typecast",
        min_interval=tc.min_interval,
        timeout=tc.default_timeout,
        model=FrozenModel(prediction),
    )
    return RealJob(
        wave=wave,
        polls=len(real),
        lag=(steps[-1].started - steps[0].started - duration) * speed,
        deviations=tuple((r - p) * speed for r, p in zip(real, planned.polls)),
        same_count=len(real) == len(planned.polls),
    )


def report(results: list[RealJob], speed: float) -> list[tuple[str, bool]]:
    """Print per-wave numbers; return the checks (text, passed)."""
    minimum = tn.Typecast.default_min_interval
    print(f"Typecast on the simulator at speed {speed:g}, policy Adaptive(); provider seconds")
    print(f"{'wave':>4} {'jobs':>5} {'polls med':>9} {'max':>4} {'lag med s':>9} {'lag p95':>8}")
    waves = sorted({r.wave for r in results})
    for wave in waves:
        mine = [r for r in results if r.wave == wave]
        lags = sorted(r.lag for r in mine)
        print(
            f"{wave:4d} {len(mine):5d} {statistics.median(r.polls for r in mine):9g} "
            f"{max(r.polls for r in mine):4d} {statistics.median(lags):9.2f} "
            f"{lags[int(0.95 * (len(lags) - 1))]:8.2f}"
        )
    learned = [r for r in results if r.wave > 1]
    polls = statistics.median(r.polls for r in learned)
    lag = statistics.median(r.lag for r in learned)
    deviations = [abs(d) for r in results for d in r.deviations]
    same = sum(r.same_count for r in results)
    return [
        (
            f"once learned (waves 2-{waves[-1]}): median {polls:g} polls per job (target <= 3), "
            f"median lag {lag:.2f} s (target <= the {minimum:g} s minimum interval)",
            polls <= 3 and lag <= minimum,
        ),
        (
            f"real poll times vs the virtual-clock plan, HTTP waits taken out: max deviation "
            f"{max(deviations) * 1000 / speed:.1f} ms real ({max(deviations):.3f} provider s, "
            f"target < half the minimum interval), median "
            f"{statistics.median(deviations) * 1000 / speed:.1f} ms. {same} of {len(results)} "
            "jobs polled exactly as often as planned; in the others the HTTP time (which the "
            "plan leaves out) moved a poll past the finish",
            max(deviations) < 0.5 * minimum,
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.realtime", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="CI size: 3 waves of 8 jobs")
    parser.add_argument("--speed", type=float, default=4.0, help="simulator speed")
    args = parser.parse_args(argv)
    waves, per_wave = (3, 8) if args.quick else (6, 25)
    results = run(waves, per_wave, args.speed)
    checks = report(results, args.speed)
    for text, passed in checks:
        print(f"[{'PASS' if passed else 'FAIL'}] {text}")
    return 0 if all(passed for _, passed in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
