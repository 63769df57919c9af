"""Views of a `Comparison`: a grid of players filling in as jobs finish, and blind A/B voting.

Cells are `widgets.HTML` whose value is set from the jobs' observer callbacks (worker threads):
trait values only. Votes come from button clicks on the kernel's main thread.
"""

from __future__ import annotations

import threading
from typing import Any

import ipywidgets as widgets

from . import _html, _resync

GRID = "repeat(auto-fill, minmax(300px, 1fr))"


class CompareView(widgets.VBox):
    """One cell per voice (label, state, player, figures) and the metrics table below."""

    def __init__(self, comparison: Any) -> None:
        self.comparison = comparison
        self.title = widgets.HTML(
            f"<b>compare</b> “{_html.esc(comparison.text)}” · {len(comparison.entries)} voices"
        )
        self.cells = [
            widgets.HTML(layout=widgets.Layout(padding="4px")) for _ in comparison.entries
        ]
        self.grid = widgets.GridBox(
            self.cells, layout=widgets.Layout(grid_template_columns=GRID, grid_gap="8px")
        )
        self.table = widgets.HTML()
        self._lock = threading.Lock()
        self._final = threading.Event()
        super().__init__([self.title, self.grid, self.table])
        self.add_class("tts-nb-compare")
        for index, entry in enumerate(comparison.entries):
            if entry.job is not None:
                entry.job.observe(lambda _job, i=index: self._refresh(i))
        self._refresh(None)
        if not self._final.is_set():
            _resync.resend_when(self._final.is_set, lambda: [*self.cells, self.table])

    def _refresh(self, index: int | None) -> None:
        with self._lock:
            indices = range(len(self.cells)) if index is None else [index]
            for i in indices:
                self.cells[i].value = _cell(self.comparison.entries[i])
            if index is None or self.comparison.entries[index].job.state.terminal:
                self.table.value = _html.table(self.comparison.metrics())
            if self.comparison.done():
                self._final.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every job's final state is on screen."""
        return self._final.wait(timeout)

    def __repr__(self) -> str:
        return repr(self.comparison)


def _cell(entry: Any) -> str:
    head = f"<div><b>{_html.esc(entry.label)}</b></div>"
    job = entry.job
    if job is None:
        return head + _html.error_box(str(entry.error))
    status = f"{_html.badge(job.state)} {_html.polls(job.polls)} · {job.elapsed_s:.1f} s"
    if job.error is not None:
        return f"{head}<div>{status}</div>{_html.error_box(str(job.error))}"
    clip = job.clip
    if clip is None or isinstance(clip, list):
        return f"{head}<div>{status}</div>"
    return f"{head}<div>{status}</div>{_html.player(clip)}{_html.figures(job, clip)}"


class ABView(widgets.VBox):
    """Two unlabelled players, three vote buttons; the tally and the names once all are voted."""

    def __init__(self, test: Any) -> None:
        self.test = test
        self.progress = widgets.HTML()
        self.player_a = widgets.HTML(layout=widgets.Layout(width="48%"))
        self.player_b = widgets.HTML(layout=widgets.Layout(width="48%"))
        self.buttons = {
            "A": widgets.Button(description="A is better", button_style="info"),
            "B": widgets.Button(description="B is better", button_style="info"),
            "tie": widgets.Button(description="No preference"),
        }
        for choice, button in self.buttons.items():
            button.on_click(lambda _b, c=choice: self.vote(c))
        self.result = widgets.HTML()
        super().__init__(
            [
                self.progress,
                widgets.HBox([self.player_a, self.player_b]),
                widgets.HBox(list(self.buttons.values())),
                self.result,
            ]
        )
        self.add_class("tts-nb-ab")
        self._show()

    def vote(self, choice: str) -> None:
        self.test.vote(choice)
        self._show()

    def _show(self) -> None:
        test = self.test
        if test.done:
            self.progress.value = f"<b>A/B done</b>: {len(test.pairs)} pairs voted"
            self.player_a.value = self.player_b.value = ""
            for button in self.buttons.values():
                button.disabled = True
            self.result.value = _html.table(test.tally()) + _html.table(test.votes_frame())
            return
        a, b = test.current
        self.progress.value = (
            f"<b>Blind A/B</b> · pair {test.position + 1} of {len(test.pairs)} "
            f"(seed {test.seed}): which sounds better?"
        )
        self.player_a.value = f"<b>A</b>{_html.player(a.clip)}"
        self.player_b.value = f"<b>B</b>{_html.player(b.clip)}"

    def __repr__(self) -> str:
        return repr(self.test)
