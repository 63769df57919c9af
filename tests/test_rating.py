"""The blind multi-voice rating test: seeded orders, matched stimuli, ratings that survive a
re-run, the summary's statistics, export, and the widget driven headless."""

from __future__ import annotations

import base64
import math
import re

import pandas as pd
import pytest

import tts_nb as tn
from tts_nb import rating
from tts_nb.rating import RatingTest, read_export, summarize

TEXT = "Rate how natural each voice sounds."
VOICES = ("Olivia", "James", "Emma")
AUDIO = re.compile(r'<source src="data:audio/[a-z]+;base64,([A-Za-z0-9+/=]+)"')


def compared(tc):
    return tn.compare(TEXT, voices=[(tc, voice) for voice in VOICES]).wait(30)


@pytest.fixture
def cmp(tc):
    return compared(tc)


def played(html: str) -> list[bytes]:
    return [base64.b64decode(data) for data in AUDIO.findall(html)]


def test_orders_are_random_per_trial_and_reproducible_with_the_seed(cmp):
    test = cmp.rate(raters=["ana", "ben"], trials=4, seed=3)
    assert test.voices == ["typecast:Olivia", "typecast:James", "typecast:Emma", "anchor"]
    orders = [test.order(trial, "ana") for trial in range(1, 5)]
    assert all(sorted(order) == sorted(test.voices) for order in orders)
    assert len({tuple(order) for order in orders}) > 1  # a fresh order each trial
    again = cmp.rate(raters=["ana", "ben"], trials=4, seed=3)
    assert [again.order(trial, "ana") for trial in range(1, 5)] == orders
    other = cmp.rate(raters=["ana"], trials=4, seed=4)
    assert [other.order(trial, "ana") for trial in range(1, 5)] != orders
    assert test.order(1, "ben") != test.order(1, "ana") or test.order(2, "ben") != orders[1]


def test_stimuli_are_matched_copies_and_the_originals_untouched(cmp):
    before = [entry.clip.data for entry in cmp.entries]
    test = cmp.rate(reference="typecast:Olivia", anchor=True)
    assert test.voices == ["typecast:James", "typecast:Emma", "reference", "anchor"]
    levels = [clip.metrics()["lufs"] for clip in test.stimuli.values()]
    assert max(levels) - min(levels) < 0.5 and test.level_lufs == pytest.approx(levels[0], abs=0.2)
    assert [entry.clip.data for entry in cmp.entries] == before
    assert test.originals["reference"].data == cmp.entries[0].clip.data
    assert test.originals["anchor"].meta["low_pass_hz"] == 3500
    assert test.reference is test.stimuli["reference"]
    plain = cmp.rate(matched=False, anchor=False)
    assert plain.level_lufs is None and plain.stimuli["typecast:Emma"] is cmp.entries[2].clip
    assert "originals" in repr(plain) and "matched to -23.0 LUFS" in repr(test)


def test_scripted_ratings_results_and_bad_input(cmp):
    test = cmp.rate(raters="ana", trials=2, anchor=False)
    test.rate(1, "typecast:James", 70)
    test.rate(1, "typecast:James", 75)  # replaces the first
    test.rate(2, "typecast:Emma", 40.5, rater="ben")  # a new rater joins
    results = test.results()
    assert list(results.columns) == ["rater", "trial", "voice", "score"]
    assert results.values.tolist() == [
        ["ana", 1, "typecast:James", 75.0],
        ["ben", 2, "typecast:Emma", 40.5],
    ]
    assert test.raters == ["ana", "ben"] and test.rated("ana") == 1 and test.size == 6
    for bad, match in [
        (lambda: test.rate(3, "typecast:James", 50), "numbered 1 to 2"),
        (lambda: test.rate(1, "anchor", 50), "not rated in this test"),
        (lambda: test.rate(1, "typecast:James", 101), "0 to 100"),
        (lambda: test.rate(1, "typecast:James", True), "0 to 100"),
        (lambda: cmp.rate(reference="nobody"), "finished voices"),
        (lambda: cmp.rate(trials=0), "1 or more"),
    ]:
        with pytest.raises(tn.InvalidInput, match=match):
            bad()


def test_ratings_survive_a_rerun_and_a_restart(tc):
    first = compared(tc).rate(raters=["ana"], seed=5)
    first.rate(1, "typecast:Emma", 64)
    first.rate(2, "anchor", 12)
    again = compared(tc).rate(raters=["ana"], seed=5)  # the compare cell and this one re-run
    assert again.id == first.id
    pd.testing.assert_frame_equal(again.results(), first.results())
    rating._stores.clear()  # what a kernel restart forgets: the ledger folder keeps them
    restarted = compared(tc).rate(raters=["ana"], seed=5)
    pd.testing.assert_frame_equal(restarted.results(), first.results())
    assert len(restarted.results()) == 2
    assert compared(tc).rate(raters=["ana"], seed=6).results().empty  # another test


def test_summary_statistics_on_known_numbers():
    results = pd.DataFrame(
        [["a", 1, "x", 60.0], ["a", 2, "x", 70.0], ["b", 1, "x", 80.0], ["a", 1, "y", 90.0]],
        columns=["rater", "trial", "voice", "score"],
    )
    summary = summarize(results, ["y", "x", "z"])
    x = summary.set_index("voice").loc["x"]
    half = 4.302652729911275 * 10 / math.sqrt(3)  # t(0.975, 2 df) · sd / √n
    assert (x.n, x["mean"], x.sd) == (3, 70.0, 10.0)
    assert (x.ci95_low, x.ci95_high) == (round(70 - half, 2), round(70 + half, 2))
    from scipy.stats import t

    assert t.ppf(0.975, 2) * 10 / math.sqrt(3) == pytest.approx(half)
    assert list(summary.voice) == ["y", "x", "z"]  # best first, unrated last
    y = summary.set_index("voice").loc["y"]
    assert y.n == 1 and y["mean"] == 90.0 and math.isnan(y.ci95_low)
    assert summary.set_index("voice").loc["z"].n == 0


def test_export_round_trips(cmp, tmp_path):
    test = cmp.rate(raters=["ana", "ben"], trials=2, reference="typecast:James")
    for trial in (1, 2):
        for number, voice in enumerate(test.order(trial, "ana")):
            test.rate(trial, voice, 20 + 15 * number, rater="ana")
    test.rate(1, "reference", 95, rater="ben")
    folder = test.export(tmp_path / "listening")
    results, summary = read_export(folder)
    pd.testing.assert_frame_equal(results, test.results())
    pd.testing.assert_frame_equal(summary, test.summary())
    pd.testing.assert_frame_equal(pd.read_csv(folder / "ratings.csv"), test.results())
    originals = sorted(p.name for p in (folder / "original").iterdir())
    assert originals == ["01_typecast-Olivia.wav", "02_typecast-Emma.wav", "03_reference.wav"] + [
        "04_anchor.wav"
    ]
    assert (folder / "original" / "03_reference.wav").read_bytes() == cmp.entries[1].clip.data
    assert (folder / "matched" / "01_typecast-Olivia.wav").read_bytes() == (
        test.stimuli["typecast:Olivia"].data
    )
    assert '"matched_lufs": -23.0' in (folder / "test.json").read_text()


def test_widget_rates_with_sliders_and_moves_through_trials(cmp):
    test = cmp.rate(raters=["ana", "ben"], trials=2, seed=2)
    view = test.widget
    children = len(view.children)
    order = view.order
    assert order == test.order(1, "ana")
    assert [played(p.value) for p in view.players] == [[test.stimuli[v].data] for v in order]
    assert all(label not in view.players[0].value for label in test.voices)  # blind
    assert "matched to -23.0 LUFS" in view.heard.value
    assert view.previous_button.layout.display == "none"
    for row, slider in enumerate(view.sliders):
        slider.value = 15 + 20 * row  # 50 would be no change: an unrated slider rests there
    assert test.score(1, order[2], "ana") == 55.0 and "✓ 55 · fair" in view.states[2].value
    assert f"4 of {test.size} rated" in view.progress.value and view.result.value == ""
    view.next_button.click()
    assert view.trial == 2 and view.order == test.order(2, "ana")
    assert view.next_button.layout.display == "none" and view.previous_button.layout.display is None
    assert all("not rated yet" in state.value for state in view.states)
    for slider in view.sliders:
        slider.value = 77
    assert "Summary" in view.result.value and "ci95_low" in view.result.value
    view.previous_button.click()
    assert [s.value for s in view.sliders] == [15, 35, 55, 75]  # trial 1's scores are back
    view.rater.value = "ben"
    assert view.trial == 1 and all("not rated yet" in state.value for state in view.states)
    test.rate(1, view.order[0], 33, rater="ben")  # a scripted rating shows in the view
    assert view.sliders[0].value == 33 and len(view.children) == children
    assert len(test.results()) == 9 and set(test.results().rater) == {"ana", "ben"}
    view.next_button.click()
    test.rate(1, "anchor", 5, rater="cy")  # a new rater, scripted, while trial 2 is shown
    assert view.rater.options == ("ana", "ben", "cy") and view.rater.value == "ben"
    assert view.trial == 2


def test_rating_view_comes_back_with_its_ratings(cmp):
    test = cmp.rate(raters=["ana"], trials=1, anchor=False)
    test.widget.sliders[1].value = 88
    again = cmp.rate(raters=["ana"], trials=1, anchor=False)
    assert again is not test and again.widget.sliders[1].value == 88
    assert "✓ 88 · excellent" in again.widget.states[1].value


def test_plain_text_repr(cmp):
    test = cmp.rate(raters=["ana"], trials=2)
    test.rate(1, "anchor", 5, rater="ana")
    text = repr(test)
    assert text.startswith(f"rating test {test.id}: 4 voices x 2 trials (matched to -23.0 LUFS)")
    assert "ana: 1 of 8 rated" in text
    assert test._repr_mimebundle_() == {"text/plain": text}
    assert isinstance(test, RatingTest)
