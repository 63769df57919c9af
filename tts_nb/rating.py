"""Blind multi-voice rating tests, as listening labs run them (ITU-R BS.1534, MUSHRA).

Each trial presents every voice once, unnamed and in a fresh order (seeded, so a test can be
repeated exactly), and each is rated 0-100: 0-20 bad, 20-40 poor, 40-60 fair, 60-80 good,
80-100 excellent. A hidden reference (a copy of the reference, which a careful listener rates
near 100) and a low anchor (the reference low-passed at 3.5 kHz, rated low) show whether a
rater is listening. Candidates play loudness-matched by default, since louder sounds better.

Ratings are never lost when a cell re-runs: a test's id comes from what it tests (text, voices,
seed, trials, reference, anchor, matching), and its ratings live in a process-wide store and in
``ratings/<id>.csv`` in the ledger folder. Creating the same test again brings them back, in
this kernel or after a restart.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import random
import re
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path

from . import ledger, loudness
from .clip import Clip
from .comparison import Comparison, _finished, _slug, _Viewable
from .errors import InvalidInput

REFERENCE = "reference"  # the hidden reference's name among the rated voices
ANCHOR = "anchor"  # the low anchor's name
RESULT_COLUMNS = ["rater", "trial", "voice", "score"]
SUMMARY_COLUMNS = ["voice", "n", "mean", "sd", "ci95_low", "ci95_high"]
SCALE = ((80, "excellent"), (60, "good"), (40, "fair"), (20, "poor"), (0, "bad"))


class _Store:
    """One test's ratings, {(rater, trial, voice): score}, mirrored to a CSV file when the
    ledger is on. Shared by every `RatingTest` with the same id in this process."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.scores: dict[tuple[str, int, str], float] = {}
        if path is not None and path.exists():
            with path.open(newline="", encoding="utf-8") as file:
                for row in csv.DictReader(file):
                    key = (row["rater"], int(row["trial"]), row["voice"])
                    self.scores[key] = float(row["score"])

    def put(self, key: tuple[str, int, str], score: float) -> None:
        with self.lock:
            self.scores[key] = score
            if self.path is not None:
                self._write()

    def _write(self) -> None:
        """Whole file, replaced atomically: a crash leaves the old ratings, never half."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, suffix=".tmp")
        with os.fdopen(handle, "w", newline="", encoding="utf-8") as file:
            writer = csv.writer(file)
            writer.writerow(RESULT_COLUMNS)
            for (rater, trial, voice), score in sorted(self.scores.items()):
                writer.writerow([rater, trial, voice, repr(score)])
        os.replace(temporary, self.path)


_stores: dict[tuple[str | None, str], _Store] = {}
_stores_lock = threading.Lock()


def _store(test_id: str) -> _Store:
    """The store of `test_id` for the ledger in use (one per ledger folder, so switching
    ledgers, as tests do, never mixes ratings)."""
    current = ledger.current()
    folder = None if current is None else current.directory / "ratings"
    key = (None if folder is None else str(folder), test_id)
    with _stores_lock:
        if key not in _stores:
            _stores[key] = _Store(None if folder is None else folder / f"{test_id}.csv")
        return _stores[key]


class RatingTest(_Viewable):
    """A blind 0-100 rating of every voice of a comparison, trial after trial.

    Build one with `Comparison.rate`. `voices` are the names rated each trial: the voice labels,
    ``"reference"`` and ``"anchor"`` when present. `stimuli` holds what plays (loudness-matched
    copies unless ``matched=False``) and `originals` the untouched audio.

    Example:
        >>> test = cmp.rate(raters=["ana"], trials=2, anchor=True)
        >>> test.order(1, "ana")               # the seeded order of trial 1
        >>> test.rate(1, "typecast:Olivia", 72, rater="ana")
        >>> test.results(); test.summary(); test.export("listening")
    """

    def __init__(
        self,
        comparison: Comparison,
        *,
        raters: Iterable[str] | str = ("you",),
        trials: int = 3,
        anchor: bool = True,
        reference: Clip | str | None = None,
        matched: bool = True,
        target_lufs: float | str = loudness.TARGET_LUFS,
        seed: int = 0,
    ) -> None:
        if not isinstance(trials, int) or trials < 1:
            raise InvalidInput(f"trials={trials!r}: give a whole number of trials, 1 or more.")
        self.raters = [raters] if isinstance(raters, str) else [str(r) for r in raters]
        if not self.raters:
            raise InvalidInput("raters=[]: name at least one rater, e.g. raters=['you'].")
        self.comparison, self.trials, self.seed, self.matched = comparison, trials, seed, matched
        candidates = {e.label: e.clip for e in _finished(comparison.entries)}
        reference_clip, reference_key = _reference(reference, candidates)
        self.originals: dict[str, Clip] = dict(candidates)
        if reference_clip is not None:
            self.originals[REFERENCE] = reference_clip
        if anchor:
            source = (
                reference_clip
                if reference_clip is not None
                else next(iter(candidates.values()), None)
            )
            if source is not None:
                self.originals[ANCHOR] = loudness.low_passed(source)
        if len(self.originals) < 2:
            raise InvalidInput(
                "A rating test needs at least two things to rate: call cmp.wait() first, or "
                "add voices."
            )
        self.voices = list(self.originals)
        self.level_lufs: float | None = None
        self.stimuli = dict(self.originals)
        if matched:
            copies, self.level_lufs = loudness.matched(list(self.originals.values()), target_lufs)
            self.stimuli = dict(zip(self.voices, copies))
        self.reference = self.stimuli.get(REFERENCE)  # the open reference plays the same copy
        self.id = _test_id(
            comparison, self.voices, reference_key, anchor, matched, target_lufs, trials, seed
        )
        self._store = _store(self.id)
        for rater, _trial, _voice in self._store.scores:
            if rater not in self.raters:
                self.raters.append(rater)

    def order(self, trial: int, rater: str | None = None) -> list[str]:
        """The voices in the order trial `trial` presents them to `rater` (seeded: the same
        every time, different for each trial and rater)."""
        self._check_trial(trial)
        rater = self._rater(rater)
        return random.Random(f"{self.seed}/{rater}/{trial}").sample(self.voices, len(self.voices))

    def rate(self, trial: int, voice: str, score: float, rater: str | None = None) -> None:
        """Record `rater`'s 0-100 score for `voice` in `trial` (a later score replaces an
        earlier one). Saved at once, in this process and in the ledger folder."""
        self._check_trial(trial)
        rater = self._rater(rater)
        if voice not in self.voices:
            raise InvalidInput(f"{voice!r} is not rated in this test: one of {self.voices}.")
        if isinstance(score, bool) or not isinstance(score, (int, float)) or not 0 <= score <= 100:
            raise InvalidInput(f"score={score!r}: give a number from 0 to 100.")
        if rater not in self.raters:
            self.raters.append(rater)
        self._store.put((rater, trial, voice), float(score))
        view = getattr(self, "_view", None)
        if view is not None:
            view.refresh()

    def score(self, trial: int, voice: str, rater: str | None = None) -> float | None:
        """`rater`'s score for `voice` in `trial`, or None before it is rated."""
        return self._store.scores.get((self._rater(rater), trial, voice))

    def rated(self, rater: str | None = None) -> int:
        """How many of `rater`'s trials x voices have a score."""
        rater = self._rater(rater)
        return sum(1 for key in self._store.scores if key[0] == rater)

    @property
    def size(self) -> int:
        """Scores one rater gives in the whole test: trials x voices."""
        return self.trials * len(self.voices)

    def results(self):
        """Every score as a tidy DataFrame: rater, trial, voice, score (sorted that way)."""
        import pandas as pd

        rows = [[*key, score] for key, score in sorted(self._store.scores.items())]
        frame = pd.DataFrame(rows, columns=RESULT_COLUMNS)
        return frame.astype({"trial": "int64", "score": float})

    def summary(self):
        """Per voice: number of scores, mean, sample sd and the 95 % confidence interval of the
        mean (Student's t with n - 1 degrees of freedom), best first; rounded to 0.01."""
        return summarize(self.results(), self.voices)

    def export(self, folder: str | Path) -> Path:
        """Write the audio (``original/`` untouched, ``matched/`` what was played), the
        ratings (``ratings.csv``), the summary (``summary.csv``) and ``test.json`` (what was
        tested, the level and each copy's gain). Read the tables back with `read_export`."""
        folder = Path(folder)
        for kind, clips in (("original", self.originals), ("matched", self.stimuli)):
            if kind == "matched" and not self.matched:
                continue
            for number, (voice, clip) in enumerate(clips.items(), 1):
                clip.save(folder / kind / f"{number:02d}_{_slug(voice)}.{clip.format}")
        self.results().to_csv(folder / "ratings.csv", index=False)
        self.summary().to_csv(folder / "summary.csv", index=False)
        about = {
            "id": self.id,
            "text": self.comparison.text,
            "voices": self.voices,
            "trials": self.trials,
            "seed": self.seed,
            "raters": self.raters,
            "matched_lufs": self.level_lufs,
            "gain_db": {v: c.meta.get("gain_db") for v, c in self.stimuli.items()},
        }
        (folder / "test.json").write_text(json.dumps(about, indent=1), encoding="utf-8")
        return folder

    def _rater(self, rater: str | None) -> str:
        return self.raters[0] if rater is None else str(rater)

    def _check_trial(self, trial: int) -> None:
        if isinstance(trial, bool) or not isinstance(trial, int) or not 1 <= trial <= self.trials:
            raise InvalidInput(f"trial={trial!r}: trials are numbered 1 to {self.trials}.")

    def _make_view(self):
        from .widgets.rating import RatingView

        return RatingView(self)

    def __repr__(self) -> str:
        heard = (
            f"matched to {self.level_lufs:.1f} LUFS" if self.level_lufs is not None else "originals"
        )
        lines = [
            f"rating test {self.id}: {len(self.voices)} voices x {self.trials} trials ({heard})"
        ]
        for rater in self.raters:
            lines.append(f"  {rater}: {self.rated(rater)} of {self.size} rated")
        lines.append("  rate with .rate(trial, voice, score, rater=…); see .summary()")
        return "\n".join(lines)


def summarize(results, voices: list[str]):
    """Mean, sd, n and 95 % t confidence interval per voice of a tidy results frame."""
    import pandas as pd
    from scipy.stats import t

    rows = []
    for voice in voices:
        scores = results.loc[results.voice == voice, "score"].astype(float)
        n = len(scores)
        mean = scores.mean() if n else math.nan
        sd = scores.std(ddof=1) if n > 1 else math.nan
        half = t.ppf(0.975, n - 1) * sd / math.sqrt(n) if n > 1 else math.nan
        rows.append([voice, n, mean, sd, mean - half, mean + half])
    frame = pd.DataFrame(rows, columns=SUMMARY_COLUMNS).astype({"n": "int64", "mean": float})
    frame = frame.sort_values("mean", ascending=False, na_position="last", kind="stable")
    return frame.round(2).reset_index(drop=True)


def read_export(folder: str | Path):
    """The ``(results, summary)`` frames of an exported test, as `results()` and `summary()`
    gave them (rater names that look like numbers stay text)."""
    import pandas as pd

    folder = Path(folder)
    results = pd.read_csv(folder / "ratings.csv", dtype={"rater": "str", "voice": "str"})
    summary = pd.read_csv(folder / "summary.csv", dtype={"voice": "str"})
    return results, summary.astype({"mean": float, "sd": float})


def word(score: float) -> str:
    """The MUSHRA scale's word for a score: bad, poor, fair, good, excellent."""
    return next(name for floor, name in SCALE if score >= floor)


def _reference(reference: Clip | str | None, candidates: dict[str, Clip]):
    """The reference clip, and what identifies it in the test id. A voice label makes that
    voice the reference: rated hidden as "reference", not also as itself."""
    if reference is None:
        return None, None
    if isinstance(reference, Clip):
        return reference, hashlib.sha256(reference.data).hexdigest()[:16]
    if isinstance(reference, str) and reference in candidates:
        return candidates.pop(reference), reference
    raise InvalidInput(
        f"reference={reference!r}: give a Clip (e.g. a recording: tn.Clip.from_bytes(open(path, "
        f"'rb').read())) or one of the finished voices: {list(candidates)}."
    )


def _test_id(comparison, voices, reference_key, anchor, matched, target, trials, seed) -> str:
    """A short stable id from what the test tests (not from the audio, which a re-run of the
    comparison may synthesise anew, nor the raters, who may be added later)."""
    what = {
        "text": comparison.text,
        "voices": voices,
        "reference": reference_key,
        "anchor": anchor,
        "matched": target if matched else None,
        "trials": trials,
        "seed": seed,
    }
    digest = hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()
    slug = re.sub(r"[^a-z0-9]+", "-", comparison.text.lower()).strip("-")[:24] or "test"
    return f"{slug}-{digest[:10]}"
