"""notebooks/panels.ipynb runs headless under nbclient: no errors, finished views saved."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tts_nb.simulator import Simulator

from .conftest import KEY_VARS

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "panels.ipynb"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
BADGE = re.compile(r'class="tts-nb-badge"[^>]*>([A-Z_]+)<')


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("panels")
    shutil.copy(NOTEBOOK, folder / NOTEBOOK.name)
    nb = nbformat.read(folder / NOTEBOOK.name, as_version=4)
    with pytest.MonkeyPatch.context() as env:  # the kernel inherits: no keys, a private ledger
        for name in KEY_VARS:
            env.delenv(name, raising=False)
        env.setenv("TTS_NB_LEDGER", str(folder / "ledger"))
        NotebookClient(
            nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
        ).execute()
    nbformat.write(nb, folder / "executed.ipynb")
    return nb, (folder / "executed.ipynb").read_text()


def models(nb, name):
    state = nb.metadata["widgets"][WIDGET_STATE]["state"]
    return [m["state"] for m in state.values() if m["model_name"] == name]


def test_no_cell_or_widget_shows_an_error(executed):
    nb, _text = executed
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            assert output["output_type"] != "error", output
            assert "Traceback" not in output.get("text", "")
    for state in models(nb, "OutputModel"):
        assert all(o["output_type"] != "error" for o in state.get("outputs", []))
    html = " ".join(state.get("value", "") for state in models(nb, "HTMLModel"))
    assert "tts-nb-error" not in html


def test_saved_widget_state_shows_finished_views_with_players(executed):
    nb, _text = executed
    html = [state.get("value", "") for state in models(nb, "HTMLModel")]
    # A job shown as a cell's output is saved as its final static HTML, not as widget state.
    shown = [o for cell in nb.cells for o in cell.get("outputs", []) if "data" in o]
    html += [
        o["data"]["text/html"] for o in shown if "tts-nb-static" in o["data"].get("text/html", "")
    ]
    badges = [badge for value in html for badge in BADGE.findall(value)]
    # job + speak + 4 compare cells + design + speak with it + translate
    assert badges.count("SUCCEEDED") >= 9
    assert set(badges) == {"SUCCEEDED"}, badges  # nothing left PENDING/RUNNING
    players = sum(value.count("<audio") for value in html)
    assert players >= 10  # previews count twice
    assert all("autoplay" not in value for value in html)
    assert any("A/B done" in value for value in html)
    assert any("history of" in value for value in html)


def test_no_credential_in_the_saved_notebook(executed):
    _nb, text = executed
    with Simulator(seed=5) as twin:  # the notebook's simulator: same seed, same credentials
        secrets = list(twin.credentials.values())
    assert len(secrets) == 5  # Typecast's two APIs' keys, CAMB's, Aspose's id and secret
    for secret in secrets:
        assert secret not in text
    assert json.loads(text)["metadata"]["widgets"]  # the state was saved, and scanned


def test_a_view_finished_by_another_cells_context_is_still_saved_final(tmp_path):
    """An update sent with a stale parent (a task from an earlier cell here; a worker thread in
    the gap between cells in real runs) is dropped by nbclient; the end-of-cell resend is not."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "import asyncio\nimport tts_nb as tn\n"
            "tn.use_simulator(speed=50)\n"
            # legacy: a job that is still polling when it is cancelled
            'tc = tn.Typecast(api="legacy", policy=tn.Fixed(0.1, timeout=60), min_interval=0.1)\n'
            'job = tc.speak("Very slow. [[sim:slow]]", actor_id="Olivia")\n'
            "asyncio.get_running_loop().call_later(0.5, job.cancel)  # runs as this cell\n"
            "job"
        ),
        nbformat.v4.new_code_cell("await asyncio.sleep(1.5)\njob.state.value"),
    ]
    with pytest.MonkeyPatch.context() as env:
        env.setenv("TTS_NB_LEDGER", str(tmp_path / "ledger"))
        NotebookClient(
            nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
        ).execute()
    assert nb.cells[1].outputs[0]["data"]["text/plain"] == "'CANCELLED'"
    html = " ".join(state.get("value", "") for state in models(nb, "HTMLModel"))
    assert BADGE.findall(html) == ["CANCELLED"]
