"""`tn.compare`: the same text through many voices and providers at once, and blind A/B votes.

All jobs start together (the scheduler polls them concurrently); the comparison only observes
them. In Jupyter it shows a grid of players that fills in as each job finishes, with the
metrics table beside it; elsewhere it prints one status line per voice. `ab()` and `rate()`
turn the finished clips into blind listening tests (`tts_nb.ab_test`, `tts_nb.rating`), and
`export()` writes clips, metrics and votes.

Only the running of the jobs lives here; the A/B test is `tts_nb.ab_test` and the parsing of
`voices=` into named entries is `tts_nb.comparison_entries`, each small enough to read in one
sitting. Their names are re-exported, so ``tts_nb.comparison.X`` keeps working.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from . import loudness
from .ab_test import CHOICES, VOTE_COLUMNS, ABTest, tally
from .adapters import adapter_for
from .comparison_entries import (
    MEASURED_COLUMNS,
    METRIC_COLUMNS,
    METRIC_DECIMALS,
    Entry,
    _entries,
    _entry,
    _finished,
    _is_frame,
    _metric_row,
    _name_entries,
    _slug,
    _view_lock,
    _Viewable,
)
from .errors import InvalidInput, TTSError
from .loudness import TARGET_LUFS
from .tables import table_class


def compare(
    text: str,
    voices: Iterable[Any] | Any,
    *,
    client: Any = None,
    language: Any = None,
    **options: Any,
) -> Comparison:
    """Speak `text` with every voice at once and compare the results.

    Args:
        text: what every voice says.
        voices: any mix of `(client, voice)` or `(client, voice, options)` tuples, dicts with
            ``client``, ``voice`` and optional ``language``, ``label``, ``options``, bare clients
            (their first catalogue voice, or none for Aspose), or a DataFrame / rows from
            `tc.actors()` / `camb.voices()` together with ``client=``.
        client: the client for DataFrame rows and plain voice ids.
        language: the language for every entry that does not name one.
        **options: provider options applied to every entry (e.g. ``xapi_hd=True``).

    Example:
        >>> cmp = tn.compare("Good morning", voices=[(tc, "Olivia"), (tc, "Noah"), camb])
        >>> cmp.wait(60).metrics()
        >>> cmp.ab(seed=1)            # blind A/B votes on loudness-matched copies
        >>> cmp.rate(trials=2)        # blind 0-100 ratings of every voice (MUSHRA-style)
        >>> cmp.export("comparison")  # clips + metrics.csv + votes.csv
    """
    entries = _entries(voices, client, language, options)
    if not entries:
        raise InvalidInput("compare() needs at least one voice: voices=[(tc, 'Olivia'), …].")
    return Comparison(text, entries)


class Comparison(_Viewable):
    """Running jobs of one text through many voices; metrics, A/B votes and export on top."""

    def __init__(self, text: str, entries: list[Entry]) -> None:
        self.text = text
        self.entries = entries
        self.votes: list[dict[str, Any]] = []
        self._tests: list[ABTest] = []
        self._matched: dict[Any, dict[str, Any]] = {}
        for entry in entries:  # start everything first, so all jobs run concurrently
            adapter = adapter_for(entry.client)
            try:
                entry.job = adapter.speak(
                    entry.client, text, entry.voice, entry.language, entry.options
                )
            except TTSError as error:
                entry.error = error
        _name_entries(entries)

    @property
    def jobs(self) -> list[Any]:
        return [entry.job for entry in self.entries if entry.job is not None]

    def wait(self, timeout: float | None = None) -> Comparison:
        """Block until every job ended (errors are kept on the entries, not raised).

        Jobs still running at the timeout go on in the background; a warning names them,
        since metrics or A/B pairs taken now would silently leave them out.
        """
        import concurrent.futures

        concurrent.futures.wait(self.jobs, timeout=timeout)
        view = getattr(self, "_view", None)
        if view is not None:
            view.wait(timeout)
        running = [e.label for e in self.entries if e.job is not None and not e.job.state.terminal]
        if running:
            waited = "" if timeout is None else f" after {timeout:g} s"
            warnings.warn(
                f"compare: {len(running)} of {len(self.entries)} jobs still running{waited} "
                f"({', '.join(running)}); they go on in the background: wait again before "
                "reading metrics() or voting.",
                stacklevel=2,
            )
        return self

    def done(self) -> bool:
        """True once every job reached a terminal state (observers may run before `Future`
        completion, so the state is what counts)."""
        return all(job.state.terminal for job in self.jobs)

    def metrics(self, rounded: bool = True):
        """One row per voice: state, time to result, polls, audio length, size, and what a
        listening lab measures (see `Clip.metrics`): integrated loudness in LUFS, true peak in
        dBTP, words per minute, leading and trailing silence, clipped samples, and a note when
        a figure is missing (NaN: a clip under 400 ms has no integrated loudness).

        Figures are rounded as a meter shows them (`METRIC_DECIMALS`); ``rounded=False`` keeps
        every digit. Either way they are numbers, ready to sort, plot or compute with.
        """
        import pandas as pd

        rows = [_metric_row(entry) for entry in self.entries]
        frame = pd.DataFrame(rows, columns=METRIC_COLUMNS)
        for column in ("polls", "bytes", "clipped_samples"):
            frame[column] = frame[column].astype("Int64")
        for column, decimals in METRIC_DECIMALS.items():
            frame[column] = frame[column].astype("Float64")
            if rounded:
                frame[column] = frame[column].round(decimals)
        return table_class()(frame)

    def matched(self, target_lufs: float | str = TARGET_LUFS) -> dict[str, Any]:
        """Loudness-matched copies of the finished clips, by label (see `loudness.matched`):
        what the blind tests play. The clips themselves stay untouched. Cached per target."""
        key = target_lufs
        if key not in self._matched:
            finished = _finished(self.entries)
            copies, _level = loudness.matched([e.clip for e in finished], target_lufs)
            self._matched[key] = {e.label: copy for e, copy in zip(finished, copies)}
        return self._matched[key]

    def ab(
        self, seed: int | None = 0, matched: bool = True, target_lufs: float | str = TARGET_LUFS
    ) -> ABTest:
        """A blind A/B test over every pair of finished clips, in a random order from `seed`.

        Louder audio tends to win, so by default both sides play loudness-matched copies
        (`matched`, at `target_lufs`); ``matched=False`` plays the originals.
        """
        test = ABTest(self, seed=seed, matched=matched, target_lufs=target_lufs)
        self._tests.append(test)
        return test

    def rate(
        self,
        raters: Iterable[str] | str = ("you",),
        *,
        trials: int = 3,
        anchor: bool = True,
        reference: Any = None,
        matched: bool = True,
        target_lufs: float | str = TARGET_LUFS,
        seed: int = 0,
    ):
        """A blind multi-voice rating test (MUSHRA-style, ITU-R BS.1534): every voice rated
        0-100 on a slider, in a fresh seeded order each trial. See `tts_nb.rating.RatingTest`.

        Example:
            >>> test = cmp.rate(raters=["ana", "ben"], anchor=True)
            >>> test                      # sliders in Jupyter; or script it:
            >>> test.rate(1, "typecast:Olivia", 80, rater="ana")
            >>> test.summary()            # mean, sd, n and 95 % CI per voice
        """
        from .rating import RatingTest

        return RatingTest(
            self,
            raters=raters,
            trials=trials,
            anchor=anchor,
            reference=reference,
            matched=matched,
            target_lufs=target_lufs,
            seed=seed,
        )

    def votes_frame(self):
        """Every vote cast in this comparison's A/B tests."""
        import pandas as pd

        return pd.DataFrame(self.votes, columns=VOTE_COLUMNS)

    def tally(self):
        """Per voice: wins, losses, ties and win rate over all votes."""
        return tally(self.votes, [e.label for e in self.entries if e.clip is not None])

    def export(self, folder: str | Path) -> Path:
        """Write each finished clip, metrics.csv and (when votes exist) votes.csv and tally.csv."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for number, entry in enumerate(self.entries, 1):
            clip = entry.clip
            if clip is not None and not isinstance(clip, list):
                clip.save(folder / f"{number:02d}_{_slug(entry.label)}.{clip.format}")
        self.metrics().to_csv(folder / "metrics.csv", index=False)
        if self.votes:
            self.votes_frame().to_csv(folder / "votes.csv", index=False)
            self.tally().to_csv(folder / "tally.csv", index=False)
        return folder

    def plot(self, *, spectrogram: bool = True):
        """Every finished clip on one time axis: a row per voice, waveform and spectrogram
        (or the waveform only, with ``spectrogram=False``). Needs matplotlib; returns the Figure.

        Example:
            >>> cmp.wait(60).plot(spectrogram=False).savefig("voices.png")
        """
        from .pictures import plot_clips

        single = [e for e in self.entries if e.clip is not None and not isinstance(e.clip, list)]
        rows = [(e.label, e.clip) for e in single]
        return plot_clips(rows, title=f"“{self.text}”", spectrogram=spectrogram)

    def _make_view(self):
        """The grid of players and the metrics table."""
        from .widgets.compare import CompareView

        return CompareView(self)

    def __repr__(self) -> str:
        lines = [f"compare {self.text!r}: {len(self.entries)} voices"]
        for entry in self.entries:
            status = (
                entry.job.status_line() if entry.job is not None else f"not started — {entry.error}"
            )
            lines.append(f"  {entry.label}: {status}")
        return "\n".join(lines)


__all__ = [
    "ABTest",
    "CHOICES",
    "Comparison",
    "Entry",
    "MEASURED_COLUMNS",
    "METRIC_COLUMNS",
    "METRIC_DECIMALS",
    "VOTE_COLUMNS",
    "compare",
    "tally",
    "_entries",
    "_entry",
    "_finished",
    "_is_frame",
    "_metric_row",
    "_name_entries",
    "_slug",
    "_view_lock",
    "_Viewable",
]
