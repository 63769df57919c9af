"""Send a finished view's state once more, from the main thread, at the end of a cell.

Browsers route widget updates by comm id, so an update sent from a worker thread always
arrives. nbclient (headless runs, CI) and Voila keep only messages whose parent is the cell
running now; an update a worker sends in the gap between two cells is lost for them, and the
saved notebook would show a job still RUNNING. IPython's `post_run_cell` runs on the main
thread inside the cell, so a state sent there is always recorded; so is a display update,
which is how a finished job's output becomes its static copy (`view.show`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any


def _shell() -> Any:
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    return shell if getattr(shell, "kernel", None) is not None else None


def when(ready: Callable[[], bool], action: Callable[[], None]) -> None:
    """At the end of the first cell after which `ready()` holds, run `action()` once, on the
    main thread (a display update sent there is recorded like the cell's own outputs)."""
    shell = _shell()
    if shell is None:
        return

    def check(*_result: Any) -> None:
        if ready():
            shell.events.unregister("post_run_cell", check)
            action()

    shell.events.register("post_run_cell", check)


def resend_when(ready: Callable[[], bool], widgets: Callable[[], Sequence[Any]]) -> None:
    """At the end of the first cell after which `ready()` holds, send `widgets()` once more."""
    when(ready, lambda: [widget.send_state() for widget in widgets()])


def resend_each_cell(changed: Callable[[], bool], widgets: Callable[[], Sequence[Any]]) -> None:
    """For views that never finish (JobsPanel): resend at a cell's end if they changed."""
    shell = _shell()
    if shell is None:
        return

    def check(*_result: Any) -> None:
        if changed():
            for widget in widgets():
                widget.send_state()

    shell.events.register("post_run_cell", check)
