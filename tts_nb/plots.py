"""A timeline of jobs for teaching how polling works: one bar per job, a tick per poll.

matplotlib is optional (`pip install tts_nb[plot]`) and imported only when a plot is drawn.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .errors import InvalidInput
from .state import State
from .tables import STATE_COLOURS


def timeline(jobs: Iterable[Any] | None = None, *, ax: Any = None):
    """Draw each job from submit to result, with a tick at every poll, coloured by final state.

    Args:
        jobs: the jobs to draw (default: every job in this kernel, oldest at the top).
        ax: a matplotlib Axes to draw into (default: a new figure sized to the jobs).

    Returns:
        The Axes, so a notebook shows it and a script can save it (`ax.figure.savefig`).
    """
    try:
        import matplotlib.pyplot as plt
        from matplotlib.patches import Patch
    except ImportError:
        raise InvalidInput(
            "The timeline needs matplotlib: pip install 'tts_nb[plot]' (or matplotlib)."
        ) from None
    if jobs is None:
        from .job import all_jobs

        jobs = all_jobs()
    jobs = list(jobs)
    if not jobs:
        raise InvalidInput("No jobs to draw yet: start one, e.g. tc.speak('Hello', actor_id=…).")
    if ax is None:
        _figure, ax = plt.subplots(figsize=(9, 0.45 * len(jobs) + 1.2))
    t0 = min(job.created_at for job in jobs)
    labels = []
    for row, job in enumerate(jobs):
        start = job.created_at - t0
        colour = STATE_COLOURS[job.state]
        ax.barh(row, job.elapsed_s, left=start, height=0.5, color=colour, alpha=0.35)
        polls = [r["time"] - t0 for r in job.rows if r["step"] == "poll"]
        ax.plot(polls, [row] * len(polls), "|", color=colour, markersize=14, mew=2)
        ax.text(
            start + job.elapsed_s,
            row,
            f"  {job.polls} poll{'' if job.polls == 1 else 's'}",
            va="center",
            fontsize=8,
            color=colour,
        )
        voice = job.request.get("voice")
        labels.append(f"{job.provider}:{voice} · {job.id[:6]}" if voice else job.id[:6])
    end = max(job.created_at - t0 + job.elapsed_s for job in jobs)
    ax.set_xlim(0, end * 1.15 or 1.0)
    ax.set_yticks(range(len(jobs)), labels, fontsize=8)
    ax.set_ylim(len(jobs) - 0.5, -0.5)
    ax.set_xlabel("seconds since the first submit (bar: submit → result, tick: one poll)")
    seen = sorted({job.state for job in jobs}, key=list(State).index)
    ax.legend(
        handles=[Patch(color=STATE_COLOURS[s], alpha=0.6, label=s.value) for s in seen],
        loc="best",
        fontsize=8,
    )
    ax.set_title("tts_nb jobs: submit → polls → result")
    return ax
