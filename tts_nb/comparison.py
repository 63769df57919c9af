"""`tn.compare`: the same text through many voices and providers at once, and blind A/B votes.

All jobs start together (the scheduler polls them concurrently); the comparison only observes
them. In Jupyter it shows a grid of players that fills in as each job finishes, with the
metrics table beside it; elsewhere it prints one status line per voice. `ab()` and `rate()`
turn the finished clips into blind listening tests (`tts_nb.rating`), and `export()` writes
clips, metrics and votes.
"""

from __future__ import annotations

import random
import re
import threading
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

from . import loudness
from .adapters import adapter_for
from .errors import InvalidInput, TTSError
from .kernel import in_kernel
from .loudness import TARGET_LUFS
from .tables import table_class

# What `Clip.metrics` measures, shown per voice.
MEASURED_COLUMNS = [
    "lufs",
    "true_peak_dbtp",
    "words_per_min",
    "leading_silence_s",
    "trailing_silence_s",
    "clipped_samples",
]
METRIC_COLUMNS = [
    "label",
    "provider",
    "voice",
    "job",
    "state",
    "time_to_result_s",
    "polls",
    "audio_s",
    "bytes",
    *MEASURED_COLUMNS,
    "error",
    "note",
]
# Decimals of each measured column in `metrics()`: what a meter shows, not float noise.
METRIC_DECIMALS = {
    "time_to_result_s": 2,
    "audio_s": 2,
    "lufs": 1,
    "true_peak_dbtp": 1,
    "words_per_min": 0,
    "leading_silence_s": 2,
    "trailing_silence_s": 2,
}
VOTE_COLUMNS = ["pair", "a", "b", "choice", "winner"]
CHOICES = ("A", "B", "tie")


@dataclass
class Entry:
    """One voice in a comparison: where it came from, and its job (or why it never started)."""

    label: str
    client: Any
    voice: Any
    language: Any = None
    options: dict[str, Any] = field(default_factory=dict)
    job: Any = None
    error: TTSError | None = None

    @property
    def clip(self) -> Any:
        return self.job.clip if self.job is not None else None


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


def _entries(voices: Any, client: Any, language: Any, options: dict) -> list[Entry]:
    if _is_frame(voices):
        voices = [row for _, row in voices.iterrows()]
    elif isinstance(voices, (Mapping, tuple)) or hasattr(voices, "provider"):
        voices = [voices]
    return [_entry(spec, client, language, options) for spec in voices]


def _name_entries(entries: list[Entry]) -> None:
    """Labels name files and table rows: the voice's display name, unique."""
    seen: dict[str, int] = {}
    for entry in entries:
        if not entry.label:
            provider = adapter_for(entry.client).provider
            shown = entry.job.request.get("voice") if entry.job is not None else None
            shown = shown if shown is not None else entry.voice
            entry.label = provider if shown is None else f"{provider}:{shown}"
        count = seen.get(entry.label, 0)
        seen[entry.label] = count + 1
        if count:
            entry.label = f"{entry.label} #{count + 1}"


def _is_frame(value: Any) -> bool:
    return hasattr(value, "iterrows") and hasattr(value, "columns")


def _entry(spec: Any, client: Any, language: Any, options: dict) -> Entry:
    label = None
    extra: dict[str, Any] = {}
    if isinstance(spec, tuple):
        if len(spec) not in (2, 3):
            raise InvalidInput(f"{spec!r}: use (client, voice) or (client, voice, options).")
        owner, voice = spec[0], spec[1]
        extra = dict(spec[2]) if len(spec) == 3 else {}
    elif isinstance(spec, Mapping):
        owner = spec.get("client", client)
        voice = spec.get("voice")
        label = spec.get("label")
        language = spec.get("language", language)
        extra = dict(spec.get("options") or {})
    elif hasattr(spec, "provider") and not hasattr(spec, "iloc"):
        owner, voice = spec, None
    else:
        owner, voice = client, spec
    if owner is None:
        raise InvalidInput(
            f"{spec!r} names no client: pass (client, voice) pairs, or client= with a "
            "DataFrame of voices."
        )
    adapter = adapter_for(owner)
    if hasattr(voice, "iloc") and adapter.voice_column:  # a DataFrame row
        row = voice
        voice = row[adapter.voice_column]
        if label is None and adapter.label_column in row:
            label = f"{adapter.provider}:{row[adapter.label_column]}"
    if voice is None and adapter.voice_column:
        options_list = adapter.voice_options(owner)
        if not options_list:
            raise InvalidInput(f"{owner!r} has no voices to pick from.")
        voice = options_list[0][1]
    voice = voice.item() if hasattr(voice, "item") else voice
    return Entry(
        label=label or "",
        client=owner,
        voice=voice,
        language=language if language is not None else adapter.default_language,
        options={**options, **extra},
    )


class _Viewable:
    """Shows its widget in Jupyter and its repr elsewhere; the widget is built once, lazily."""

    def _make_view(self):
        raise NotImplementedError

    @property
    def widget(self):
        with _view_lock:
            if getattr(self, "_view", None) is None:
                self._view = self._make_view()
            return self._view

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict[str, Any]:
        if not in_kernel():
            return {"text/plain": repr(self)}
        bundle = self.widget._repr_mimebundle_()
        bundle["text/plain"] = repr(self)
        return bundle


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


_view_lock = threading.Lock()


def _finished(entries: list[Entry]) -> list[Entry]:
    """The entries with one finished clip (text-to-voice's lists of previews are left out)."""
    return [e for e in entries if e.clip is not None and not isinstance(e.clip, list)]


def _metric_row(entry: Entry) -> dict[str, Any]:
    job, clip = entry.job, entry.clip
    single = clip if clip is not None and not isinstance(clip, list) else None
    error = entry.error if job is None else job.error
    measured = {} if single is None else single.metrics()
    return {
        "label": entry.label,
        "provider": adapter_for(entry.client).provider,
        "voice": None if entry.voice is None else str(entry.voice),
        "job": None if job is None else job.id,
        "state": "FAILED" if job is None else job.state.value,
        "time_to_result_s": job.elapsed_s if job is not None and job.state.terminal else None,
        "polls": None if job is None else job.polls,
        "audio_s": None if single is None else single.duration_s,
        "bytes": None if single is None else single.size,
        **{column: measured.get(column) for column in MEASURED_COLUMNS},
        "error": None if error is None else str(error),
        "note": measured.get("note"),
    }


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "clip"


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
