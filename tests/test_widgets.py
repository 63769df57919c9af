"""Views and panels driven headless (button.click()) against the simulator over real HTTP."""

from __future__ import annotations

import base64
import json
import re

import ipywidgets as widgets
import pandas as pd
import pytest

import tts_nb as tn
from tts_nb.state import State
from tts_nb.widgets import JobsPanel, JobView, SpeakPanel, TranslatePanel, VoiceDesignPanel

from .conftest import FAST, virtual_typecast

AUDIO = re.compile(r'<source src="data:(audio/[a-z]+);base64,([A-Za-z0-9+/=]+)"')
DESCRIPTION = (
    "A bright young man with a soft Irish accent, speaking quickly and cheerfully, like a "
    "friendly tour guide welcoming a group of visitors to an old castle on a sunny morning."
)


@pytest.fixture
def camb(sim):
    return tn.Camb(
        api_key=sim.credentials["camb_api_key"],
        base_url=sim.urls["camb"],
        policy=FAST,
        min_interval=0.05,
    )


@pytest.fixture
def aspose(sim):
    return tn.Aspose(
        client_id=sim.credentials["aspose_client_id"],
        client_secret=sim.credentials["aspose_client_secret"],
        base_url=sim.urls["aspose"],
        policy=FAST,
        min_interval=0.05,
    )


def players(html: str) -> list[bytes]:
    """The exact bytes inside every <audio> of an HTML fragment."""
    return [base64.b64decode(data) for _mime, data in AUDIO.findall(html)]


def widget_state_json() -> str:
    return json.dumps(widgets.Widget.get_manager_state(drop_defaults=False), default=str)


def test_job_view_follows_the_job_to_a_player_of_the_exact_bytes(tc, actor):
    job = tc.speak("Hello from the view.", actor_id=actor)
    view = JobView(job)
    assert view.wait(30)
    clip = job.clip
    polls = re.search(r"(\d+) (polls?)\b", view.status.value)
    assert "SUCCEEDED" in view.status.value and polls, view.status.value
    assert int(polls[1]) == job.polls >= 1 and polls[2] == ("poll" if job.polls == 1 else "polls")
    assert players(view.result.value) == [clip.data]
    assert "autoplay" not in view.result.value and "loop" not in view.result.value
    assert f"{clip.duration_s:.2f} s audio" in view.result.value
    assert f"{clip.metrics()['lufs']:.1f} LUFS" in view.result.value
    assert view.cancel_button.disabled
    assert "typecast" in view.header.value and "Olivia" in view.header.value
    line = rf"typecast speak {job.id}: SUCCEEDED \(done\), {job.polls} polls?, \d+\.\d s"
    assert re.fullmatch(line, repr(view)), repr(view)


def test_job_outside_jupyter_is_one_line_of_text(tc, actor):
    job = tc.speak("Plain text.", actor_id=actor)
    job.wait(30)
    bundle = job._repr_mimebundle_()
    assert list(bundle) == ["text/plain"]
    line = rf"typecast speak {job.id}: SUCCEEDED \(done\), {job.polls} polls?, \d+\.\d s"
    assert re.fullmatch(line, bundle["text/plain"]), bundle["text/plain"]


def test_failed_job_shows_its_error_in_the_view(tc, actor):
    job = tc.speak("This breaks. [[sim:fail]]", actor_id=actor)
    view = JobView(job)
    assert view.wait(30)
    assert job.state is State.FAILED
    assert "FAILED" in view.status.value and "tts-nb-error" in view.result.value
    assert "submit again" in view.result.value and not players(view.result.value)


def test_cancel_button_stops_polling(actor, sim):
    """On the engine's own (virtual) clock: an hour after the click, not one more poll."""
    client, scheduler, clock = virtual_typecast(sim)
    job = client.speak("Takes a long time. [[sim:slow]]", actor_id=actor)
    view = JobView(job)
    scheduler.run_virtual(until=clock.now() + 0.5)
    assert job.polls >= 2 and not job.done(), "the slow job was not being polled"
    view.cancel_button.click()
    assert view.wait(10)
    assert job.state is State.CANCELLED and job.cancelled()
    assert "CANCELLED" in view.status.value and view.cancel_button.disabled
    polls = job.polls
    assert scheduler.pending() == 0
    scheduler.run_virtual(until=clock.now() + 3600)
    assert job.polls == polls
    assert len(sim.log.find(method="GET", path="/api/speak/v2/")) == polls


def test_speak_panel_click_runs_a_job_and_fills_player_and_history(tc, camb, aspose):
    panel = SpeakPanel([tc, camb, aspose], text="Hello from the panel.")
    assert panel.provider.options == ("typecast", "camb", "aspose")
    assert panel.voice.value == tc.actors().actor_id[0]
    panel.options.value = "speed_x=1.2, xapi_hd=True"
    panel.speak_button.click()
    assert panel.wait(30)
    job = panel.jobs[-1]
    assert job.state is State.SUCCEEDED and job.request["speed_x"] == 1.2
    assert job.clip.sample_rate == 44100
    assert players(panel.views[-1].result.value) == [job.clip.data]
    assert job.id in panel.history.value and "SUCCEEDED" in panel.history.value
    assert panel.job_area.children == (panel.views[-1],)

    panel.provider.value = "camb"
    assert panel.voice.value == 147320 and panel.language.value == 1
    panel.speak_button.click()
    assert panel.wait(30) and panel.jobs[-1].provider == "camb"
    assert panel.jobs[-1].clip.format in ("wav", "flac")

    panel.provider.value = "aspose"
    assert panel.voice.disabled and panel.language.value == "English"
    panel.speak_button.click()
    assert panel.wait(30) and panel.jobs[-1].clip.format == "wav"
    assert len(panel.jobs) == 3 and all(j.id in panel.history.value for j in panel.jobs)


def test_speak_panel_shows_input_errors_without_starting_a_job(tc, camb):
    panel = SpeakPanel([tc, camb])
    panel.options.value = "speed_x=9"
    panel.speak_button.click()
    assert not panel.jobs and "out of range" in panel.message.value
    panel.options.value = "no equals sign"
    panel.speak_button.click()
    assert not panel.jobs and "name=value" in panel.message.value
    panel.provider.value = "camb"
    assert panel.options.value == ""  # options belong to one provider
    panel.options.value = "speed_x=1.2"
    panel.speak_button.click()
    assert not panel.jobs and "speed_x" in panel.message.value


def test_voice_design_panel_previews_then_speaks_with_the_picked_voice(camb):
    panel = VoiceDesignPanel(camb, text="Welcome to the castle.")
    panel.description.value = DESCRIPTION
    panel.design_button.click()
    assert panel.wait_design(30)
    previews = panel.design_job.clip
    assert len(previews) == 2
    assert [value for _label, value in panel.pick.options] == [0, 1]
    view_html = panel.design_area.children[0].result.value
    assert players(view_html) == [c.data for c in previews]
    panel.pick.value = 1
    panel.speak_button.click()
    assert panel.wait(30)
    assert previews[1].meta["voice_id"] is not None and previews[0].meta["voice_id"] is None
    assert panel.speak_job.request["voice_id"] == previews[1].meta["voice_id"]
    assert players(panel.speak_area.children[0].result.value) == [panel.speak_job.clip.data]


def test_voice_design_panel_reports_a_short_description(camb):
    panel = VoiceDesignPanel(camb)
    panel.description.value = "too short"
    panel.design_button.click()
    assert panel.design_job is None and "too short" in panel.message.value


def test_translate_panel_shows_translation_and_audio(camb):
    panel = TranslatePanel(camb, text="Good morning, friends.")
    labels = dict((value, label) for label, value in panel.target.options)
    assert panel.source.value == 1 and panel.target.value != 1
    panel.target.value = 76
    assert "French" in labels[76]
    panel.translate_button.click()
    assert panel.wait(30)
    clip = panel.job.clip
    assert clip.text and clip.text != "Good morning, friends."
    html = panel.job_area.children[0].result.value
    assert clip.text in html.replace("&#x27;", "'") and players(html) == [clip.data]


def test_jobs_panel_cancels_selected_and_shows_history(tc, actor):
    slow = tc.speak("Slow one. [[sim:slow]]", actor_id=actor)
    quick = tc.speak("Quick one.", actor_id=actor)
    quick.wait(30)
    panel = JobsPanel()
    try:
        assert slow.id in panel.table.value and quick.id in panel.table.value
        panel.select.value = (slow.id,)
        panel.cancel_button.click()
        assert slow.state is State.CANCELLED and "1 job(s) cancelled" in panel.message.value
        assert f"{slow.id} · typecast · CANCELLED" in [label for label, _ in panel.select.options]
        panel.select.value = (quick.id,)
        panel.history_button.click()
        assert f"history of {quick.id}" in panel.history.value and "fetch" in panel.history.value
    finally:
        panel.close()


def test_compare_runs_concurrently_and_measures_each_voice(tc, camb, aspose, sim):
    actors = tc.actors()
    cmp = tn.compare(
        "Good morning.",
        voices=[(tc, actors.actor_id[0]), {"client": tc, "voice": "James"}, camb, aspose],
    )
    view = cmp.widget
    assert cmp.wait(30) is cmp and view.wait(10)
    jobs = cmp.jobs
    assert len(jobs) == 4 and all(job.state is State.SUCCEEDED for job in jobs)
    assert max(job.created_at for job in jobs) < min(job.finished_at for job in jobs)
    metrics = cmp.metrics()
    assert list(metrics.label) == [
        "typecast:Olivia",
        "typecast:James",
        "camb:Ava",
        "aspose:English",
    ]
    assert str(metrics.polls.dtype) == "Int64" and str(metrics.lufs.dtype) == "Float64"
    for row, entry in zip(metrics.itertuples(), cmp.entries):
        assert row.bytes == entry.clip.size and row.audio_s == round(entry.clip.duration_s, 2)
        measured = entry.clip.metrics()
        assert row.lufs == round(measured["lufs"], 1) and -40 < row.lufs < -5  # speech
        assert row.true_peak_dbtp == round(measured["true_peak_dbtp"], 1)
        assert row.words_per_min == round(measured["words_per_min"]) > 0
        assert row.clipped_samples == measured["clipped_samples"]
        assert row.time_to_result_s > 0
    cells = [cell.value for cell in view.cells]
    assert [players(cell) for cell in cells] == [[e.clip.data] for e in cmp.entries]
    assert "typecast:James" in view.table.value
    text = repr(cmp)
    assert text.count("SUCCEEDED") == 4 and "compare 'Good morning.'" in text


def test_compare_accepts_catalogue_rows_and_keeps_errors(tc):
    cmp = tn.compare("Rows.", voices=tc.actors().head(2), client=tc).wait(30)
    assert [e.label for e in cmp.entries] == ["typecast:Olivia", "typecast:James"]
    broken = tn.compare("Broken. [[sim:fail]]", voices=[(tc, "Olivia"), (tc, "Nobody")]).wait(30)
    metrics = broken.metrics()
    assert list(metrics.state) == ["FAILED", "FAILED"]
    assert pd.isna(metrics.job.iloc[1]) and "neither" in metrics.error.iloc[1]
    assert "tts-nb-error" in broken.widget.cells[1].value
    with pytest.raises(tn.InvalidInput, match="names no client"):
        tn.compare("x", voices=["Olivia"])


def test_blind_ab_is_seeded_votes_by_buttons_and_exports(tc, tmp_path):
    cmp = tn.compare("Which one?", voices=[(tc, "Olivia"), (tc, "James"), (tc, "Emma")]).wait(30)
    orders = [[(a.label, b.label) for a, b in cmp.ab(seed=s).pairs] for s in (1, 1, 2)]
    assert orders[0] == orders[1] != orders[2] and len(orders[0]) == 3
    test = cmp.ab(seed=1)
    view = test.widget
    a, b = test.current
    matched = test.clips[a.label]
    assert players(view.player_a.value) == [matched.data] != [a.clip.data]  # a matched copy
    assert matched.meta["matched_lufs"] == test.level_lufs == -23.0
    assert "matched to -23.0 LUFS" in view.heard.value
    assert a.label not in view.progress.value + view.player_a.value  # blind
    assert view.undo_button.layout.display == "none" and "No votes yet" in view.result.value
    view.buttons["A"].click()
    assert "Vote 1 recorded: A is better (2 to go)" in view.feedback.value
    assert "pair 2 of 3 · 1 voted" in view.progress.value and "100.0 %" in view.result.value
    assert view.tally_box.selected_index is None  # the names wait in a closed section
    view.buttons["tie"].click()
    view.undo_button.click()  # the tie was a slip
    assert "pair 2 is taken back" in view.feedback.value and test.position == 1
    assert len(test.votes) == 1 == len(cmp.votes)
    for choice in ("B", "tie"):
        view.buttons[choice].click()
    assert test.done and view.vote_row.layout.display == "none"  # no dead buttons left
    assert view.tally_box.selected_index == 0 and "that was the last pair" in view.feedback.value
    votes = test.votes_frame()
    assert list(votes.choice) == ["A", "B", "tie"] and votes.winner.iloc[0] == a.label
    tally = test.tally()
    assert tally.wins.sum() == 2 and tally.ties.sum() == 2
    top = tally.iloc[0]
    rate = (top.wins + top.ties / 2) / (top.wins + top.losses + top.ties)
    assert top.win_pct == round(100 * rate, 1) and f"{top.win_pct:.1f} %" in view.result.value
    assert "originals" in repr(cmp.ab(seed=1, matched=False))
    folder = cmp.export(tmp_path / "out")
    names = sorted(p.name for p in folder.iterdir())
    assert names == [
        "01_typecast-Olivia.wav",
        "02_typecast-James.wav",
        "03_typecast-Emma.wav",
        "metrics.csv",
        "tally.csv",
        "votes.csv",
    ]
    assert (folder / "02_typecast-James.wav").read_bytes() == cmp.entries[1].clip.data
    assert len(pd.read_csv(folder / "votes.csv")) == 3
    assert list(pd.read_csv(folder / "metrics.csv").label)[0] == "typecast:Olivia"


def test_tables_have_consistent_dtypes_and_a_styled_view(tc, actor):
    tc.speak("Tables.", actor_id=actor).wait(30)
    jobs, history = tn.jobs(), tn.history()
    assert str(jobs.submitted.dtype).startswith("datetime64") and str(
        history.time.dtype
    ).startswith("datetime64")
    assert jobs.state.dtype == history.state.dtype == "category"
    assert list(jobs.state.cat.categories) == [s.value for s in State]
    for frame in (jobs, history):
        assert all(str(frame[c].dtype) == "Float64" for c in frame.columns if c.endswith("_s"))
    html = tn.styled(jobs).to_html()
    assert "#198754" in html and "SUCCEEDED" in html


def test_timeline_draws_a_bar_per_job_and_a_tick_per_poll(tc, actor):
    import matplotlib  # the dev extra installs it

    matplotlib.use("Agg")
    jobs = [tc.speak("One.", actor_id=actor), tc.speak("Two. [[sim:fail]]", actor_id=actor)]
    for job in jobs:
        job.exception(30)
    ax = tn.timeline(jobs)
    bars = ax.patches
    assert len(bars) == 2
    assert bars[0].get_width() == pytest.approx(jobs[0].elapsed_s)
    ticks = [len(line.get_xdata()) for line in ax.lines]
    assert ticks == [job.polls for job in jobs]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["SUCCEEDED", "FAILED"]


def test_no_key_reaches_widget_state(tc, camb, aspose, sim):
    panel = SpeakPanel([tc, camb, aspose])
    panel.speak_button.click()
    assert panel.wait(30)
    tn.compare("Keys?", voices=[tc, camb, aspose]).widget.wait(30)
    state = widget_state_json()
    for secret in sim.credentials.values():
        assert secret not in state


def test_a_view_does_not_keep_its_job_alive(tc, actor):
    import gc
    import weakref

    from tts_nb.widgets.view import _views, view_for

    job = tc.speak("Seen, then let go.", actor_id=actor)
    view = view_for(job)
    assert view.wait(30) and view_for(job) is view
    ref = weakref.ref(job)
    tn.forget(job)
    del job
    tc.speak("Move the scheduler on.", actor_id=actor).wait(30)  # it holds its last timer
    gc.collect()
    assert ref() is None and view.job is None and not any(v is view for v in _views.values())
    assert "SUCCEEDED" in view.status.value and "forgotten" in repr(view)
    assert view.refresh() is False


def test_jobs_panel_shows_a_bounded_number_of_the_newest_jobs(tc, actor):
    jobs = [tc.speak(f"Number {i}.", actor_id=actor) for i in range(4)]
    for job in jobs:
        job.wait(30)
    panel = JobsPanel(limit=2)
    try:
        shown = [job.id in panel.table.value for job in jobs]
        assert shown == [False, False, True, True]
        assert "the newest 2 of" in panel.table.value
        assert [value for _label, value in panel.select.options] == [jobs[3].id, jobs[2].id]
    finally:
        panel.close()
