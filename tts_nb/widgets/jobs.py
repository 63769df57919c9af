"""`JobsPanel`: every job in this kernel as a live table; cancel some, open one's history."""

from __future__ import annotations

import threading
from typing import Any

import ipywidgets as widgets

from ..job import all_jobs
from . import _html, _resync, _ticker

COLUMNS = [
    "job",
    "provider",
    "kind",
    "voice",
    "state",
    "raw_status",
    "polls",
    "elapsed_s",
    "audio_s",
    "bytes",
    "error",
]


class JobsPanel(widgets.VBox):
    """A table of `tn.jobs()` that follows the jobs as they change (ticks twice a second).

    Example:
        >>> panel = tn.JobsPanel()
        >>> panel.select.value = (job.id,); panel.cancel_button.click()
        >>> panel.history_button.click()     # the selected job's polling history
    """

    def __init__(self, limit: int = 50) -> None:
        """`limit`: the newest jobs shown (and redrawn each tick); older ones are in
        `tn.jobs()`, so a long session's panel stays as quick as a fresh one."""
        self.limit = limit
        self.table = widgets.HTML()
        self.select = widgets.SelectMultiple(
            description="Jobs", rows=6, layout=widgets.Layout(width="520px")
        )
        self.cancel_button = widgets.Button(
            description="Cancel selected",
            icon="stop",
            button_style="warning",
            layout=widgets.Layout(width="auto"),
        )
        self.history_button = widgets.Button(
            description="Show history", icon="list", layout=widgets.Layout(width="auto")
        )
        self.message = widgets.HTML()
        self.history = widgets.HTML()
        self.cancel_button.on_click(lambda _b: self.cancel_selected())
        self.history_button.on_click(lambda _b: self.show_history())
        self._lock = threading.Lock()
        self._signature: tuple = ()
        self._closed = False
        super().__init__(
            [
                self.table,
                widgets.HBox(
                    [self.select, widgets.VBox([self.cancel_button, self.history_button])]
                ),
                self.message,
                self.history,
            ]
        )
        self.add_class("tts-nb-jobs")
        self.refresh()
        _ticker.subscribe(self._tick)
        self._resent: tuple = ()
        _resync.resend_each_cell(self._changed_since_resend, lambda: [self.table, self.select])

    def refresh(self) -> None:
        """Redraw the table and the job list when any job changed since the last look."""
        with self._lock:
            every = all_jobs()
            jobs = every[-self.limit :] if self.limit > 0 else []
            signature = (len(every), *((j.id, j.state, j.polls, len(j.exchanges)) for j in jobs))
            if signature == self._signature:
                return
            self._signature = signature
            from ..tables import jobs_frame

            frame = jobs_frame(jobs)[COLUMNS]
            self.table.value = _heading(len(jobs), len(every)) + _html.table(frame.iloc[::-1])
            chosen = self.select.value
            self.select.options = [
                (f"{j.id} · {j.provider} · {j.state.value}", j.id) for j in reversed(jobs)
            ]
            self.select.value = tuple(v for v in chosen if v in {j.id for j in jobs})

    def _changed_since_resend(self) -> bool:
        if self._closed or self._resent == self._signature:
            return False
        self._resent = self._signature
        return True

    def _tick(self) -> bool:
        if self._closed:
            return False
        self.refresh()
        return True

    def _selected(self) -> list[Any]:
        wanted = set(self.select.value)
        return [job for job in all_jobs() if job.id in wanted]

    def cancel_selected(self) -> int:
        """Cancel every selected job still running; returns how many were cancelled."""
        cancelled = sum(job.cancel() for job in self._selected())
        self.message.value = f"{cancelled} job(s) cancelled."
        self.refresh()
        return cancelled

    def show_history(self) -> None:
        """Show the polling history of the first selected job."""
        selected = self._selected()
        if not selected:
            self.message.value = "Select a job first."
            return
        job = selected[0]
        self.message.value = ""
        self.history.value = f"<b>history of {_html.esc(job.id)}</b>" + _html.table(job.history)

    def close(self) -> None:
        self._closed = True
        super().close()

    def __repr__(self) -> str:
        jobs = all_jobs()
        running = sum(not job.state.terminal for job in jobs)
        return f"JobsPanel: {len(jobs)} jobs, {running} running"


def _heading(shown: int, held: int) -> str:
    if shown == held:
        return f"<b>{held} jobs in this kernel</b>"
    return f"<b>the newest {shown} of {held} jobs in this kernel</b> (all of them: tn.jobs())"
