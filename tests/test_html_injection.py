"""Provider and ledger strings never become markup: a hostile provider against every view.

The simulator's Typecast is turned hostile: its actor names, status strings and error texts
carry an `<img onerror>` and a `<script>` payload, and one ledger record gets a job id made of
markup. Every table, panel and view is rendered and parsed; the payloads must be there as text
(so the test sees them at all) and never as elements or attributes.
"""

from __future__ import annotations

import json
import sqlite3
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

import tts_nb as tn
from tts_nb import ledger as ledgers
from tts_nb.simulator.server import Request, Response
from tts_nb.simulator.typecast import error
from tts_nb.state import State
from tts_nb.teaching import Status
from tts_nb.widgets import ABView, CompareView, JobsPanel, JobView, SpeakPanel

IMG = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>alert(2)</script>"
REJECT = "please reject this"


class _Markup(HTMLParser):
    """The elements, attributes and text of an HTML fragment."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += [name for name, _value in attrs]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def assert_inert(fragment: str, *payloads: str) -> None:
    """No payload survives as markup, and each payload given is shown as text."""
    parsed = _Markup()
    parsed.feed(fragment)
    parsed.close()
    assert "img" not in parsed.tags and "script" not in parsed.tags, fragment[:2000]
    assert not [a for a in parsed.attributes if a.startswith("on")], fragment[:2000]
    shown = "".join(parsed.text)
    for payload in payloads:
        assert payload in shown, f"{payload!r} never reached this view"


def _hostile_json(data, path: str):
    """Markup in actor names (the catalogue) and in every non-final status string."""
    if path == "/api/actor":
        for actor in data["result"]:
            actor["name"]["en"] = f"{IMG}{actor['name']['en']}"
    result = data.get("result") if isinstance(data, dict) else None
    if isinstance(result, dict) and result.get("status") not in (None, "done", "failed"):
        result["status"] = f"{SCRIPT}{result['status']}"
    return data


@pytest.fixture
def hostile(sim, tc):
    """`tc` talking to a Typecast whose strings carry HTML payloads."""
    handle = sim.typecast.handle

    def rewrite(request: Request) -> Response:
        if request.method == "POST" and REJECT in request.body.decode("utf-8", "replace"):
            raise error(400, "bad/text", f"refused {IMG} {SCRIPT}")
        response = handle(request)
        if response.headers.get("Content-Type") != "application/json":
            return response
        data = _hostile_json(json.loads(response.body), request.path.rstrip("/"))
        return Response.json(data, response.status, response.headers)

    sim.typecast.handle = rewrite
    return tc


@pytest.fixture
def jobs(hostile):
    """One job of each kind a view shows: succeeded, failed with a provider error, timed out
    on an unknown status, and one rebuilt from a ledger record whose id is markup."""
    actors = hostile.actors()
    assert actors.name[0].startswith(IMG)  # the catalogue really is hostile
    actor = actors.actor_id[0]
    ok = hostile.speak("A fine sentence.", actor_id=actor)
    failed = hostile.speak(f"Then {REJECT}.", actor_id=actor)
    stuck = hostile.speak(
        "Never done. [[sim:unknown-status]]", actor_id=actor, policy=tn.Fixed(0.05, timeout=1)
    )
    for job in (ok, failed, stuck):
        job.exception(30)
    assert ok.state is State.SUCCEEDED and failed.state is State.FAILED
    assert stuck.state is State.TIMED_OUT and stuck.raw_status.startswith(SCRIPT)
    forged = _forge_ledger_id(ok.id, f"{IMG}{SCRIPT}")
    [from_ledger] = tn.resume(forged)
    return {"ok": ok, "failed": failed, "stuck": stuck, "ledger": from_ledger}


def _forge_ledger_id(job_id: str, new_id: str) -> str:
    """Copy a finished job's ledger record under another id, as a tampered file would hold."""
    ledger = ledgers.current()
    db = sqlite3.connect(Path(ledger.path))
    with db:
        db.execute("CREATE TEMP TABLE copy AS SELECT * FROM jobs WHERE id = ?", (job_id,))
        db.execute("UPDATE copy SET id = ?, fingerprint = 'forged'", (new_id,))
        db.execute("INSERT INTO jobs SELECT * FROM copy")
    db.close()
    return new_id


def test_job_views_show_provider_strings_as_text(jobs):
    for name, payloads in (
        ("ok", [IMG]),
        ("failed", [IMG, SCRIPT]),
        ("stuck", [SCRIPT]),
        ("ledger", [IMG, SCRIPT]),
    ):
        view = JobView(jobs[name])
        assert view.wait(10), name
        assert_inert(view.header.value + view.status.value + view.result.value, *payloads)


def test_tables_escape_every_cell_header_and_index(jobs):
    assert_inert(tn.styled(tn.jobs(ledger=True)).to_html(), IMG, SCRIPT)  # the ledger's too
    assert_inert(tn.styled(tn.history(ledger=True)).to_html(), IMG, SCRIPT)
    assert_inert(tn.styled(jobs["stuck"].history).to_html(), SCRIPT)
    frame = pd.DataFrame({IMG: [SCRIPT], "elapsed_s": [1.0]}, index=[SCRIPT])
    assert_inert(tn.styled(frame).to_html(), IMG, SCRIPT)
    assert_inert(tn.styled(frame).hide(axis="index", names=True).to_html(), IMG)


def test_jobs_panel_table_and_history_are_inert(jobs):
    panel = JobsPanel()
    try:
        assert_inert(panel.table.value, IMG, SCRIPT)
        for job in jobs.values():
            panel.select.value = (job.id,)
            panel.history_button.click()
            assert_inert(panel.history.value + panel.message.value, job.id)
    finally:
        panel.close()


def test_speak_panel_history_and_messages_are_inert(hostile):
    panel = SpeakPanel(hostile, text=f"Say it, then {REJECT}.")
    assert panel.voice.options[0][0].startswith(IMG)  # a dropdown label is text, not HTML
    panel.speak_button.click()
    assert panel.wait(30)
    assert panel.jobs[-1].state is State.FAILED
    panel.text.value = "A good one."
    panel.speak_button.click()
    assert panel.wait(30)
    assert_inert(panel.history.value, IMG)
    for view in panel.views:
        assert_inert(view.header.value + view.status.value + view.result.value, IMG)
    assert_inert(panel.message.value)


def test_compare_metrics_cells_and_ab_tally_are_inert(hostile):
    actors = hostile.actors().actor_id
    cmp = tn.compare("Which one?", voices=[(hostile, actors[0]), (hostile, actors[1])]).wait(30)
    view = CompareView(cmp)
    assert view.wait(10)
    assert_inert(view.title.value + view.table.value, IMG)
    for cell in view.cells:
        assert_inert(cell.value, IMG)
    test = cmp.ab(seed=1)
    ab = ABView(test)
    ab.buttons["A"].click()
    assert test.done
    assert_inert(ab.progress.value + ab.result.value, IMG)
    broken = tn.compare(f"Now {REJECT}.", voices=[(hostile, actors[0])]).wait(30)
    assert_inert(CompareView(broken).table.value, IMG, SCRIPT)


def test_transcripts_status_and_clips_are_inert(jobs):
    assert_inert(tn.teach.show(jobs["failed"])._repr_html_(), SCRIPT)
    assert_inert(tn.teach.show(jobs["stuck"])._repr_html_(), SCRIPT)
    status = Status({"typecast": True}, {"typecast": IMG}, {"typecast": f"http://x/{SCRIPT}"})
    assert_inert(status._repr_html_(), IMG, SCRIPT)
    clip = jobs["ok"].clip
    assert_inert(clip._repr_html_())
    assert IMG in str(jobs["ok"].request["voice"])
