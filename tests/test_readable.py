"""What a person reads: compact tables, messages that say what to do once, a user's own Cancel
drawn as a note, and saved notebooks that keep a finished job's badge and player as plain HTML."""

from __future__ import annotations

import html
import re
from datetime import datetime

import nbformat
import pytest
from nbclient import NotebookClient

import tts_nb as tn
from tts_nb.state import State
from tts_nb.tables import HISTORY_COLUMNS, HISTORY_VIEW
from tts_nb.widgets import JobView

from .conftest import KEY_VARS, wait_until

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def test_history_is_compact_for_people_and_full_one_call_away(tc, actor):
    job = tc.speak("Hello history. [[sim:unknown-status]]", actor_id=actor)
    wait_until(lambda: job.polls >= 2, "two polls")
    job.cancel()

    def same_rows():  # a poll already on the wire at the cancel may still add its row
        history, full = job.history, job.history_full
        return (history, full) if len(history) == len(full) else None

    history, full = wait_until(same_rows, "the compact and full histories never agreed")
    assert list(history.columns) == HISTORY_VIEW and list(full.columns) == HISTORY_COLUMNS
    assert list(history.index) == list(full.n) and history.index.name == "n"
    first = datetime.fromtimestamp(job.rows[0]["time"])  # local wall clock, to the millisecond
    assert history.time.iloc[0] == first.replace(microsecond=first.microsecond // 1000 * 1000)
    assert {str(history[c].dtype) for c in ("step", "raw_status", "note")} == {"string"}
    page = history._repr_html_()
    note = history.note.dropna().iloc[-1]
    assert len(note) > 60 and note in html.unescape(page)  # whole, not cut with "…"
    assert not re.search(r">\s*(NaN|None|&lt;NA&gt;)\s*<", page)  # missing is blank
    assert re.search(r">\d\d:\d\d:\d\d\.\d{3}<", page)  # the clock, to the millisecond
    assert ">typecast<" not in page and job.id not in page  # not repeated on every row


def test_jobs_table_is_this_kernels_unless_the_ledger_is_asked_for(tc, actor):
    kept = tc.speak("Kept in the kernel.", actor_id=actor)
    gone = tc.speak("Only in the ledger.", actor_id=actor)
    kept.wait(30)
    gone.wait(30)
    tn.forget(gone)  # as after a restart: only the ledger knows it
    mine, everything = tn.jobs(), tn.jobs(ledger=True)
    assert kept.id in set(mine.job) and gone.id not in set(mine.job)
    assert "live" not in mine.columns and {kept.id, gone.id} <= set(everything.job)
    assert not everything.set_index("job").loc[gone.id, "live"]
    assert mine.set_index("job").loc[kept.id, "elapsed_s"] == round(kept.elapsed_s, 2)
    assert gone.id not in set(tn.history().job) and gone.id in set(tn.history(ledger=True).job)
    page = mine._repr_html_()
    assert ">size<" in page and re.search(r">\d+\.\d kB<", page)  # the clip's own unit


def test_a_5xx_on_submit_says_what_to_do_and_never_shows_a_page(tc, actor, sim):
    sim.faults.script(500, origin="typecast", method="POST")
    with pytest.raises(tn.ProviderError) as info:
        tc.speak("Sent once.", actor_id=actor).wait(30)
    message = str(info.value)
    assert "did not send the request again" in message and "charged" in message
    assert "Try again in a minute" in message and "status page" in message

    class Page:  # a load balancer's error page, as requests would hand it over
        content = b"<!DOCTYPE html><html><head><title>502 Bad\n Gateway</title></head><body>x"
        headers = {"Content-Type": "text/html; charset=utf-8"}

    from tts_nb.transport import _short_body

    assert _short_body(Page()) == f"an HTML page (502 Bad Gateway, {len(Page.content)} bytes)"


def test_out_of_credit_says_what_to_do_once(tc_v1, sim):
    sim.typecast_v1.plan_credits = 10
    with pytest.raises(tn.QuotaError) as info:
        tc_v1.speak("A sentence longer than the credits allow.", voice_id="Olivia").wait(30)
    message = str(info.value)
    assert "tc.account()" in message and message.count("renew") == 1


def test_a_users_own_cancel_is_a_note_not_an_error(tc, actor):
    job = tc.speak("Never finishes. [[sim:unknown-status]]", actor_id=actor)
    view = JobView(job)
    wait_until(lambda: job.raw_status is not None, "a status from the provider")
    assert "status &#x27;" in view.status.value  # while it runs, the provider's word shows
    view.cancel_button.click()
    assert view.wait(10) and job.state is State.CANCELLED
    assert "tts-nb-note" in view.result.value and "tts-nb-error" not in view.result.value
    assert "Cancelled: polling stopped" in view.result.value
    assert "status &#x27;" not in view.status.value  # stale once cancelled


NOTEBOOK = [
    "import tts_nb as tn\n"
    "tn.use_simulator(speed=50)\n"
    "tc = tn.Typecast(api='legacy', policy=tn.Fixed(0.05, timeout=30), min_interval=0.05)",
    "job = tc.speak('Saved for later.', actor_id='Olivia')\njob",
    "clip = job.wait(30)",
]


def test_a_saved_notebook_keeps_the_finished_job_as_plain_html(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in NOTEBOOK])
    with pytest.MonkeyPatch.context() as env:  # the kernel inherits: no keys, a private ledger
        for name in KEY_VARS:
            env.delenv(name, raising=False)
        env.setenv("TTS_NB_LEDGER", str(tmp_path / "ledger"))
        NotebookClient(
            nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
        ).execute()
    nbformat.write(nb, tmp_path / "saved.ipynb")
    saved = nbformat.read(tmp_path / "saved.ipynb", as_version=4)
    (shown,) = [o for o in saved.cells[1].outputs if o["output_type"] == "display_data"]
    assert WIDGET_VIEW not in shown["data"]  # nothing left to say "model not found"
    assert "SUCCEEDED" in shown["data"]["text/plain"]
    page = shown["data"]["text/html"]
    assert re.search(r'class="tts-nb-badge"[^>]*>SUCCEEDED<', page) and "<audio" in page
