"""The view of a `RatingTest`: one unnamed player and a 0-100 slider per voice, trial by trial.

Built once on the kernel's main thread with a fixed set of rows; changing trial or rater only
sets trait values (players' HTML, slider values, labels), never `children`. A slider's change
is a rating, saved at once, so nothing is lost when the cell runs again.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from ..rating import word
from . import _html

UNRATED = 50  # where an unrated slider rests: the scale's middle, not a rating until moved


class RatingView(widgets.VBox):
    """Rater picker, the open reference, a row per stimulus (label, player, slider, state),
    trial navigation, and the summary once the rater has rated everything."""

    def __init__(self, test: Any) -> None:
        self.test = test
        self.trial = 1
        self._loading = False
        self.rater = widgets.Dropdown(
            options=list(test.raters), value=test.raters[0], description="Rater"
        )
        self.rater.observe(lambda _change: self._loading or self._go(1), names="value")
        self.title = widgets.HTML()
        self.heard = widgets.HTML(_heard(test))
        self.reference = widgets.HTML(
            "" if test.reference is None else f"<b>Reference</b>{_html.player(test.reference)}"
        )
        self.labels, self.players, self.sliders, self.states = [], [], [], []
        rows = []
        for row in range(len(test.voices)):
            label = widgets.HTML(f"<b>Sample {row + 1}</b>", layout=widgets.Layout(width="90px"))
            player = widgets.HTML(layout=widgets.Layout(width="380px"))
            slider = widgets.IntSlider(value=UNRATED, min=0, max=100, continuous_update=False)
            slider.observe(lambda change, r=row: self._slid(r, change["new"]), names="value")
            state = widgets.HTML(layout=widgets.Layout(width="140px"))
            self.labels.append(label)
            self.players.append(player)
            self.sliders.append(slider)
            self.states.append(state)
            rows.append(widgets.HBox([label, player, slider, state]))
        self.previous_button = widgets.Button(description="Previous trial", icon="arrow-left")
        self.next_button = widgets.Button(description="Next trial", icon="arrow-right")
        self.previous_button.on_click(lambda _b: self._go(self.trial - 1))
        self.next_button.on_click(lambda _b: self._go(self.trial + 1))
        self.progress = widgets.HTML()
        self.result = widgets.HTML()
        super().__init__(
            [
                widgets.HBox([self.title, self.rater]),
                self.heard,
                self.reference,
                *rows,
                widgets.HBox([self.previous_button, self.next_button, self.progress]),
                self.result,
            ]
        )
        self.add_class("tts-nb-rating")
        self.refresh()

    @property
    def order(self) -> list[str]:
        """The voices behind the rows in this trial, for this rater."""
        return self.test.order(self.trial, self.rater.value)

    def _slid(self, row: int, value: int) -> None:
        if not self._loading:
            self.test.rate(self.trial, self.order[row], value, rater=self.rater.value)

    def _go(self, trial: int) -> None:
        self.trial = min(max(trial, 1), self.test.trials)
        self.refresh()

    def refresh(self) -> None:
        """Show the current trial and rater: players, stored scores, progress, summary."""
        test, rater = self.test, self.rater.value
        if list(self.rater.options) != test.raters:  # a rater added by a scripted rate()
            self._loading = True
            self.rater.options, self.rater.value = list(test.raters), rater
            self._loading = False
        self.title.value = (
            f"<b>Rate each sample 0-100</b> · trial {self.trial} of {test.trials} "
            "(80+ excellent, 60 good, 40 fair, 20 poor, below 20 bad)"
        )
        self._loading = True
        try:
            for row, voice in enumerate(self.order):
                score = test.score(self.trial, voice, rater)
                self.players[row].value = _html.player(test.stimuli[voice])
                self.sliders[row].value = UNRATED if score is None else round(score)
                self.states[row].value = (
                    '<span style="color:var(--jp-content-font-color2, #555)">not rated yet</span>'
                    if score is None
                    else f"✓ {score:g} · {word(score)}"
                )
        finally:
            self._loading = False
        self.previous_button.layout.display = "none" if self.trial == 1 else None
        self.next_button.layout.display = "none" if self.trial == test.trials else None
        done = test.rated(rater)
        self.progress.value = f"{done} of {test.size} rated by {_html.esc(rater)}"
        if done < test.size:
            self.result.value = ""
            return
        self.result.value = "<b>Summary</b> (all raters)" + _html.table(test.summary())

    def __repr__(self) -> str:
        return repr(self.test)


def _heard(test: Any) -> str:
    """Which audio the players hold, and that the originals are untouched."""
    if test.level_lufs is None:
        said = "The players hold the originals: a louder voice may be rated higher for that alone."
    else:
        said = (
            f"Every sample plays a copy matched to {test.level_lufs:.1f} LUFS, so loudness does "
            "not decide; the comparison's players, saved clips and export keep the originals."
        )
    return _html.muted(said)
