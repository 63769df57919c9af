"""Polling policies on the virtual clock: polls per job against detection lag, per provider.

    python -m benchmarks.policies            # 2000 jobs per policy, full sweeps, a PNG if
                                             # matplotlib is installed (pip install -e ".[bench]")
    python -m benchmarks.policies --quick    # CI size

For each provider's workload (`benchmarks.workloads`) it runs the seeds' sample loops and
tts_nb's `Fixed`, `Backoff`, `Progressive` and `Adaptive`, sweeping each family's parameter,
through the real engine (`benchmarks.virtual`), prints one table, checks the targets of the
adaptive default, and draws the trade-off curves.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import tts_nb as tn

from .virtual import Summary, new_model, run_policy
from .workloads import SEED_SAMPLES, WORKLOADS, Workload

DEFAULT = "Adaptive() default"


@dataclass(frozen=True)
class Point:
    """One policy run on one workload: the family it belongs to (for curves) and its summary."""

    provider: str
    family: str
    name: str
    summary: Summary


def sweeps(workload: Workload, quick: bool) -> dict[str, dict[str, tn.PollPolicy]]:
    """Each policy family with its parameter swept, plus the seeds' samples and the default."""
    m = workload.min_interval
    multiples = (1, 2, 5, 10) if quick else (1, 1.5, 2, 3, 5, 10, 20)
    intervals = sorted({round(m * k, 3) for k in multiples})
    quantiles = (0.05, 0.2, 0.5) if quick else (0.02, 0.05, 0.1, 0.2, 0.3, 0.5)
    shape = (10, 20 / 3, 10 / 3, 5 / 3, 1)  # CAMB's advice (30, 20, 10, 5, 3) is 3 x this
    return {
        "seed samples": dict(SEED_SAMPLES[workload.provider]),
        "Fixed": {f"Fixed({i:g})": tn.Fixed(i) for i in intervals},
        "Backoff": {
            f"Backoff({m:g}, 1.5, {i:g})": tn.Backoff(m, 1.5, i) for i in intervals if i > m
        },
        "Progressive": {
            f"Progressive(x{i:g})": tn.Progressive(tuple(round(s * i, 3) for s in shape))
            for i in intervals
        },
        "Adaptive": {f"Adaptive(quantile={q:g})": tn.Adaptive(quantile=q) for q in quantiles},
        "default": {DEFAULT: tn.Adaptive()},
        "client default": _client_default(workload),
    }


def _client_default(workload: Workload) -> dict[str, tn.PollPolicy]:
    """The policy the provider's client uses when none is given (when that client exists)."""
    client = getattr(tn, workload.provider.capitalize(), None)
    if client is None:
        return {}
    return {f"{client.__name__}.default_policy": client.default_policy}


def measure(workload: Workload, n: int, quick: bool, seed: int = 1) -> list[Point]:
    """Run every policy of `sweeps` on the same `n` jobs."""
    jobs = workload.jobs(n, seed=seed)
    points = []
    for family, policies in sweeps(workload, quick).items():
        for name, policy in policies.items():
            outcomes = run_policy(
                policy,
                jobs,
                provider=workload.provider,
                min_interval=workload.min_interval,
                timeout=workload.timeout,
                model=new_model(workload.prior),
            )
            points.append(
                Point(workload.provider, family, name, Summary.of(outcomes, workload.timeout))
            )
    return points


def polls_on_curve(curve: list[Point], lag: float) -> float:
    """The curve's median polls at this median lag (linear between points; beyond its lowest
    lag, the polls of that point: a family cannot reach a lower lag at any cost)."""
    pts = sorted((p.summary.lag_median, p.summary.polls_median) for p in curve)
    if lag <= pts[0][0]:
        return pts[0][1]
    for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
        if x0 <= lag <= x1:
            return y0 if x1 == x0 else y0 + (y1 - y0) * (lag - x0) / (x1 - x0)
    return pts[-1][1]


def checks(points: list[Point], workload: Workload) -> list[tuple[str, bool]]:
    """The targets of the issue, each as (what was checked with the numbers, passed)."""
    mine = [p for p in points if p.provider == workload.provider]
    default = next(p.summary for p in mine if p.name == DEFAULT)
    fixed = [p for p in mine if p.family == "Fixed"]
    at_same_lag = polls_on_curve(fixed, default.lag_median)
    results = [
        (
            f"{workload.provider}: adaptive default below the Fixed curve: "
            f"{default.polls_median:g} polls at {default.lag_median:.2f} s median lag, "
            f"Fixed needs {at_same_lag:.1f} there ({at_same_lag / default.polls_median:.1f}x)",
            default.polls_median < at_same_lag,
        ),
        (
            f"{workload.provider}: adaptive default gives up on no job finishing before the "
            f"deadline ({default.gave_up_before_deadline} given up)",
            default.gave_up_before_deadline == 0,
        ),
        (
            f"{workload.provider}: no policy polls faster than the {workload.min_interval:g} s "
            f"minimum (fastest gap {min(p.summary.min_gap for p in mine):.3f} s)",
            all(p.summary.min_gap >= workload.min_interval - 1e-6 for p in mine),
        ),
    ]
    js = next((p.summary for p in mine if p.name.startswith("CAMB JS")), None)
    if js is not None:
        ratio = js.polls_median / default.polls_median
        results.append(
            (
                f"{workload.provider}: adaptive default vs CAMB JS sample: {ratio:.1f}x fewer "
                f"polls ({default.polls_median:g} vs {js.polls_median:g}) at "
                f"{default.lag_median:.2f} s vs {js.lag_median:.2f} s median lag; the sample "
                f"gave up on {js.gave_up} of {js.jobs} jobs still running",
                ratio >= 2 and default.lag_median <= js.lag_median,
            )
        )
    return results


def table(points: list[Point]) -> str:
    """The results as one plain-text table (what CI logs and the README show)."""
    head = (
        f"{'provider':9} {'policy':34} {'polls med':>9} {'p95':>6} "
        f"{'lag med s':>9} {'p95':>7} {'gave up':>7}"
    )
    lines = [head, "-" * len(head)]
    for p in points:
        s = p.summary
        lines.append(
            f"{p.provider:9} {p.name:34} {s.polls_median:9g} {s.polls_p95:6.0f} "
            f"{s.lag_median:9.2f} {s.lag_p95:7.2f} {s.gave_up:7d}"
        )
    return "\n".join(lines)


def plot(points: list[Point], path: Path) -> bool:
    """Trade-off curves per provider (polls against median lag); False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    providers = list(dict.fromkeys(p.provider for p in points))
    fig, axes = plt.subplots(1, len(providers), figsize=(5.5 * len(providers), 4.5))
    for ax, provider in zip(list(axes) if len(providers) > 1 else [axes], providers):
        mine = [p for p in points if p.provider == provider]
        for family in ("Fixed", "Backoff", "Progressive", "Adaptive"):
            curve = sorted(
                (p.summary.lag_median, p.summary.polls_median) for p in mine if p.family == family
            )
            if curve:
                ax.plot(*zip(*curve), marker="o", ms=3, label=family)
        for p in mine:
            if p.family in ("seed samples", "default", "client default"):
                marker = "*" if p.family == "default" else "s"
                ax.scatter(p.summary.lag_median, p.summary.polls_median, marker=marker, s=90)
                ax.annotate(p.name, (p.summary.lag_median, p.summary.polls_median), fontsize=7)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("median detection lag (s)")
        ax.set_ylabel("median polls per job")
        ax.set_title(provider)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.policies", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="CI size: 200 jobs, short sweeps")
    parser.add_argument("--jobs", type=int, default=None, help="jobs per policy (default 2000)")
    parser.add_argument(
        "--plot",
        type=Path,
        default=Path(__file__).with_name("policy_tradeoffs.png"),
        help="where to write the trade-off plot (needs matplotlib)",
    )
    args = parser.parse_args(argv)
    n = args.jobs or (200 if args.quick else 2000)
    points: list[Point] = []
    results: list[tuple[str, bool]] = []
    for workload in WORKLOADS.values():
        mine = measure(workload, n, args.quick)
        points += mine
        results += checks(mine, workload)
    print(f"Polling policies on the virtual clock, {n} jobs per policy and provider")
    print(table(points))
    print()
    for text, passed in results:
        print(f"[{'PASS' if passed else 'FAIL'}] {text}")
    if not args.quick:
        if plot(points, args.plot):
            print(f"plot: {args.plot}")
        else:
            print("plot: skipped (matplotlib is not installed: pip install -e '.[bench]')")
    return 0 if all(passed for _, passed in results) else 1


if __name__ == "__main__":
    sys.exit(main())
