"""Blind pairwise listening over a comparison's finished clips: `ABTest` and `tally`.

Apart from `tts_nb.comparison` because it is a listening test, not the running of jobs: it
only reads finished entries and their loudness-matched copies, as `tts_nb.rating` does.
"""

from __future__ import annotations

import random
from itertools import combinations
from typing import TYPE_CHECKING, Any

from .comparison_entries import Entry, _finished, _Viewable
from .errors import InvalidInput
from .loudness import TARGET_LUFS

if TYPE_CHECKING:
    from .comparison import Comparison

VOTE_COLUMNS = ["pair", "a", "b", "choice", "winner"]
CHOICES = ("A", "B", "tie")


class ABTest(_Viewable):
    """Blind pairwise listening: each pair once, sides and order shuffled by `seed`.

    Both sides play loudness-matched copies unless ``matched=False`` (`clips` holds what
    plays; the comparison's clips, players and export stay the originals). Each vote is
    confirmed, counted and can be undone.

    Example:
        >>> test = cmp.ab(seed=1)
        >>> a, b = test.current          # the two entries behind "A" and "B"
        >>> test.vote("A"); test.vote("tie")
        >>> test.undo()                  # takes the "tie" back
        >>> test.tally()
    """

    def __init__(
        self,
        comparison: Comparison,
        seed: int | None = 0,
        matched: bool = True,
        target_lufs: float | str = TARGET_LUFS,
    ) -> None:
        self.comparison = comparison
        self.seed = seed
        finished = _finished(comparison.entries)
        if len(finished) < 2:
            raise InvalidInput(
                "A/B needs at least two finished clips: call cmp.wait() first, or add voices."
            )
        rng = random.Random(seed)
        pairs = [list(pair) for pair in combinations(finished, 2)]
        for pair in pairs:
            rng.shuffle(pair)
        rng.shuffle(pairs)
        self.pairs: list[tuple[Entry, Entry]] = [tuple(pair) for pair in pairs]
        self.position = 0
        self.votes: list[dict[str, Any]] = []
        self.matched = matched
        self.clips = dict(comparison.matched(target_lufs)) if matched else {}
        for entry in finished:
            self.clips.setdefault(entry.label, entry.clip)

    @property
    def level_lufs(self) -> float | None:
        """The common loudness the matched copies play at (None when playing originals)."""
        levels = [c.meta.get("matched_lufs") for c in self.clips.values()] if self.matched else []
        return next((level for level in levels if level is not None), None)

    @property
    def done(self) -> bool:
        return self.position >= len(self.pairs)

    @property
    def current(self) -> tuple[Entry, Entry] | None:
        return None if self.done else self.pairs[self.position]

    def vote(self, choice: str) -> dict[str, Any]:
        """Record "A", "B" or "tie" for the current pair, move to the next one, and return
        the vote as recorded (pair, the labels behind A and B, choice, winner)."""
        if choice not in CHOICES:
            raise InvalidInput(f"vote {choice!r}: choose 'A', 'B' or 'tie'.")
        if self.done:
            raise InvalidInput("Every pair has a vote already: see test.tally().")
        a, b = self.pairs[self.position]
        winner = {"A": a.label, "B": b.label, "tie": None}[choice]
        vote = {"pair": self.position + 1, "a": a.label, "b": b.label}
        vote.update(choice=choice, winner=winner)
        self.votes.append(vote)
        self.comparison.votes.append(vote)
        self.position += 1
        self._show_in_view()
        return vote

    def undo(self) -> dict[str, Any]:
        """Take the last vote back and return to its pair; returns the vote removed."""
        if not self.votes:
            raise InvalidInput("There is no vote to undo yet.")
        vote = self.votes.pop()
        self.comparison.votes.remove(vote)
        self.position -= 1
        self._show_in_view()
        return vote

    def _show_in_view(self) -> None:
        """A vote cast in code (``ab.vote("A")``) shows in the panel, as a click does."""
        view = getattr(self, "_view", None)
        if view is not None:
            view._show()

    def votes_frame(self):
        import pandas as pd

        return pd.DataFrame(self.votes, columns=VOTE_COLUMNS)

    def tally(self):
        labels = sorted({e.label for pair in self.pairs for e in pair})
        return tally(self.votes, labels)

    def _make_view(self):
        from .widgets.compare import ABView

        return ABView(self)

    def __repr__(self) -> str:
        if self.done:
            return f"A/B test: all {len(self.pairs)} pairs voted; see .tally()"
        pair = f"pair {self.position + 1} of {len(self.pairs)}"
        heard = "loudness-matched copies" if self.matched else "the originals"
        return f"A/B test: {pair} ({heard}); vote with .vote('A'|'B'|'tie'), .undo()"


def tally(votes: list[dict[str, Any]], labels: list[str]):
    """Wins, losses, ties and win rate as a percentage (ties count half, one decimal) per
    label, best first."""
    import pandas as pd

    counts = {label: {"wins": 0, "losses": 0, "ties": 0} for label in labels}
    for vote in votes:
        for side in ("a", "b"):
            counts.setdefault(vote[side], {"wins": 0, "losses": 0, "ties": 0})
        if vote["winner"] is None:
            counts[vote["a"]]["ties"] += 1
            counts[vote["b"]]["ties"] += 1
        else:
            loser = vote["b"] if vote["winner"] == vote["a"] else vote["a"]
            counts[vote["winner"]]["wins"] += 1
            counts[loser]["losses"] += 1
    rows = []
    for label, c in counts.items():
        played = c["wins"] + c["losses"] + c["ties"]
        rate = round(100 * (c["wins"] + c["ties"] / 2) / played, 1) if played else None
        rows.append({"label": label, **c, "win_pct": rate})
    frame = pd.DataFrame(rows, columns=["label", "wins", "losses", "ties", "win_pct"])
    frame["win_pct"] = frame["win_pct"].astype("Float64")
    return frame.sort_values(["win_pct", "wins"], ascending=False, na_position="last").reset_index(
        drop=True
    )
