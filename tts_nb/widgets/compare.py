"""Views of a `Comparison`: a grid of players filling in as jobs finish, and blind A/B voting.

Cells are `widgets.HTML` whose value is set from the jobs' observer callbacks (worker threads):
trait values only. Votes come from button clicks on the kernel's main thread.
"""

from __future__ import annotations

import threading
from typing import Any

import ipywidgets as widgets

from .. import waveform
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
        self._span_s = 0.0  # the longest clip so far: every waveform's time scale
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
            span_s = _longest(self.comparison.entries)
            redraw_all = index is None or span_s != self._span_s  # widths stay comparable
            self._span_s = span_s
            indices = range(len(self.cells)) if redraw_all else [index]
            for i in indices:
                self.cells[i].value = _cell(self.comparison.entries[i], span_s)
            if index is None or self.comparison.entries[index].job.state.terminal:
                self.table.value = _html.table(self.comparison.metrics())
            if self.comparison.done():
                self._final.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every job's final state is on screen."""
        return self._final.wait(timeout)

    def __repr__(self) -> str:
        return repr(self.comparison)


def _longest(entries: Any) -> float:
    """The longest finished single clip's duration (0 before any)."""
    clips = [e.clip for e in entries if e.clip is not None and not isinstance(e.clip, list)]
    return max((clip.duration_s for clip in clips), default=0.0)


def _cell(entry: Any, span_s: float) -> str:
    """Label, state, player, and a waveform drawn on the comparison's common time scale."""
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
    picture = waveform.svg(clip, span_s=span_s)
    return f"{head}<div>{status}</div>{_html.player(clip)}{picture}{_html.figures(job, clip)}"


class ABView(widgets.VBox):
    """Two unlabelled players and three vote buttons. Each vote is confirmed and counted at
    once, and can be undone; the running tally (with the names) sits in a closed section until
    the last pair, when it opens and the vote buttons go away."""

    def __init__(self, test: Any) -> None:
        self.test = test
        self.progress = widgets.HTML()
        self.heard = widgets.HTML(_heard(test))
        self.player_a = widgets.HTML(layout=widgets.Layout(width="48%"))
        self.player_b = widgets.HTML(layout=widgets.Layout(width="48%"))
        self.buttons = {
            "A": widgets.Button(description="A is better", button_style="info"),
            "B": widgets.Button(description="B is better", button_style="info"),
            "tie": widgets.Button(description="No preference"),
        }
        for choice, button in self.buttons.items():
            button.on_click(lambda _b, c=choice: self.vote(c))
        self.undo_button = widgets.Button(description="Undo last vote", icon="undo")
        self.undo_button.on_click(lambda _b: self.undo())
        self.feedback = widgets.HTML()
        self.result = widgets.HTML()
        self.tally_box = widgets.Accordion([self.result], titles=("Running tally (names)",))
        self.tally_box.selected_index = None
        self.vote_row = widgets.HBox(list(self.buttons.values()))
        super().__init__(
            [
                self.progress,
                self.heard,
                widgets.HBox([self.player_a, self.player_b]),
                widgets.HBox([self.vote_row, self.undo_button]),
                self.feedback,
                self.tally_box,
            ]
        )
        self.add_class("tts-nb-ab")
        self._show()

    def vote(self, choice: str) -> dict[str, Any]:
        """Record `choice` for the current pair and confirm it below the buttons."""
        vote = self.test.vote(choice)
        said = {"A": "A is better", "B": "B is better", "tie": "no preference"}[choice]
        left = len(self.test.pairs) - self.test.position
        to_go = f"{left} to go" if left else "that was the last pair"
        self.feedback.value = f"✓ Vote {len(self.test.votes)} recorded: {said} ({to_go})."
        self._show()
        return vote

    def undo(self) -> None:
        """Take the last vote back and show its pair again."""
        vote = self.test.undo()
        self.feedback.value = f"↶ The vote on pair {vote['pair']} is taken back: vote again."
        self._show()

    def _show(self) -> None:
        """Trait values only: the same children throughout, shown or hidden."""
        test = self.test
        voted = len(test.votes)
        self.undo_button.layout.display = None if voted else "none"
        self.result.value = _tally(test)
        if test.done:
            self.progress.value = f"<b>A/B done</b>: all {len(test.pairs)} pairs voted"
            self.player_a.value = self.player_b.value = ""
            self.vote_row.layout.display = "none"
            self.tally_box.selected_index = 0
            return
        self.vote_row.layout.display = None
        a, b = test.current
        self.progress.value = (
            f"<b>Blind A/B</b> · pair {test.position + 1} of {len(test.pairs)} · "
            f"{voted} voted (seed {_html.esc(test.seed)}): which sounds better?"
        )
        self.player_a.value = f"<b>A</b>{_html.player(test.clips[a.label])}"
        self.player_b.value = f"<b>B</b>{_html.player(test.clips[b.label])}"

    def __repr__(self) -> str:
        return repr(self.test)


def _heard(test: Any) -> str:
    """Which audio the players hold: matched copies or the originals."""
    if test.level_lufs is None:
        said = "Both sides play the originals: a louder voice may sound better for that alone."
    else:
        said = (
            f"Both sides play copies matched to {test.level_lufs:.1f} LUFS, so loudness does "
            "not decide; the grid's players and export keep the originals."
        )
    return _html.muted(said)


def _tally(test: Any) -> str:
    """Wins, losses, ties and win % so far, then each vote; or a hint before the first."""
    if not test.votes:
        return "No votes yet."
    import pandas as pd

    frame = test.tally()
    frame["win_pct"] = ["" if pd.isna(v) else f"{v:.1f} %" for v in frame.win_pct]
    frame = frame.rename(columns={"win_pct": "win %"})
    return _html.table(frame) + _html.table(test.votes_frame())
