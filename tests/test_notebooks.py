"""Every notebook runs top to bottom on the simulator without an error, and is stored clean."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
import requests
from nbclient import NotebookClient

from .secrets_scan import assert_no_secrets

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


# What each lesson must really show (an error caught on purpose is still an output).
SHOWN = {
    "02_typecast": [
        '"status": "done"',
        '--header "Authorization: Bearer $TYPECAST_API_KEY"',
        '--header "X-API-KEY: $TYPECAST_API_KEY"',  # the v1 call at the end
        "credits",
    ],
    "03_camb_translated_tts": ["SUCCESS", "'run_id'", '--header "x-api-key: $CAMB_API_KEY"'],
    "04_camb_text_to_voice": ["voice_id: None", "kept as voice", "credits:", "<Clip wav"],
    "05_aspose": ["Completed", '"client_secret=$ASPOSE_CLIENT_SECRET"', "<Clip wav"],
    "07_polling_policies": ["noticed_late_at_most_s", "image/png"],
    "08_when_things_go_wrong": [
        "not accepted (429)",
        "QuotaError: typecast answered 402",
        "JobTimeout: typecast job",
        "ExpiredResult: The Typecast audio link no longer works",
        "AuthError: typecast answered 401",
        "AuthError: typecast answered 403",
        "JobFailed: Typecast reported the speak as failed",
    ],
}


def errors_in(nb) -> list[str]:
    """Error outputs in cells, tracebacks of background threads (printed to stderr), and
    errors inside Output widgets (which never fail a cell)."""
    found = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                found.append(f"{output['ename']}: {output['evalue']}")
            if "Traceback (most recent call last)" in str(output.get("text", "")):
                found.append(f"a traceback in a stream: {output['text'][-300:]}")
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    for model in state.values():
        for output in model.get("state", {}).get("outputs", []) or []:
            if output.get("output_type") == "error":
                found.append(f"in an Output widget: {output['ename']}: {output['evalue']}")
    return found


def test_there_are_notebooks_for_every_flow():
    names = {path.stem for path in NOTEBOOKS}
    assert {
        "01_quickstart",
        "02_typecast",
        "03_camb_translated_tts",
        "04_camb_text_to_voice",
        "05_aspose",
        "06_compare_voices",
        "07_polling_policies",
        "08_when_things_go_wrong",
    } <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_is_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert all(cell.outputs == [] and cell.execution_count is None for cell in code)
    assert "widgets" not in nb.metadata


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebooks_set_up_in_one_plain_style(path):
    """Clients are made as a newcomer makes them: their defaults follow the simulator, so
    no notebook needs speed or polling options, except the lesson about polling."""
    cells = nbformat.read(path, as_version=4).cells
    source = "\n".join(cell.source for cell in cells)
    first = next(cell for cell in cells if cell.cell_type == "code")
    assert first.source.startswith("import") and "import tts_nb as tn" in first.source
    assert "client_options" not in source and "status(speed" not in source
    if path.stem != "07_polling_policies":
        assert "min_interval=" not in source and "Fixed(0.1" not in source


def test_quickstart_fits_on_one_screen_and_polls_briskly(tmp_path, monkeypatch):
    monkeypatch.setenv("TTS_NB_PROVIDER", "simulator")
    nb = nbformat.read(next(p for p in NOTEBOOKS if p.stem == "01_quickstart"), as_version=4)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert "tc = tn.Typecast()  #" in code[0].source  # no options
    assert len(code) <= 4 and sum(len(c.source.splitlines()) for c in nb.cells) <= 30
    probe = (  # the client a legacy key gets: it polls; v1 answers at once
        "import json\n"
        'legacy = tn.Typecast(api="legacy")\n'
        'polled = legacy.speak("Quick?", "Olivia")\n'
        "polled.wait(30)\n"
        "print(json.dumps({'min_interval': [tc.min_interval, legacy.min_interval], "
        "'seconds': [job.elapsed_s, polled.elapsed_s], 'polls': polled.polls}))"
    )
    nb.cells.append(nbformat.v4.new_code_cell(probe))
    NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    assert errors_in(nb) == []
    found = json.loads(nb.cells[-1].outputs[-1]["text"])
    assert found["min_interval"] == [0.05, 0.05]  # 0.5 s and 1 s, divided by 50, floored
    assert found["polls"] >= 1 and max(found["seconds"]) < 3.0
    shown = [output.get("data", {}) for cell in nb.cells for output in cell.get("outputs", [])]
    notices = [data for data in shown if "embedded simulator" in data.get("text/plain", "")]
    assert len(notices) == 1  # said once, by the first cell
    players = [
        data
        for data in shown
        if "<audio" in data.get("text/html", "")
        or "application/vnd.jupyter.widget-view+json" in data
    ]
    assert len(code[1].outputs) == 1 and players == [code[1].outputs[0].data]  # shown once


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_runs_on_the_simulator(path, tmp_path, monkeypatch):
    monkeypatch.setenv("TTS_NB_PROVIDER", "simulator")
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    assert errors_in(nb) == []
    text = "\n".join(
        str(output.get("text", ""))
        + str(output.get("data", {}).get("text/plain", ""))
        + ("image/png" if "image/png" in output.get("data", {}) else "")
        for cell in nb.cells
        for output in cell.get("outputs", [])
    )
    if path.stem[:2].isdigit():
        assert text.count("embedded simulator") == 1  # said once, by the first client
    missing = [shown for shown in SHOWN.get(path.stem, []) if shown not in text]
    assert missing == []
    if path.stem == "06_compare_voices":  # every voice's badge in the grid, before the A/B
        state = str(nb.metadata["widgets"][WIDGET_STATE]["state"])
        assert state.count(">SUCCEEDED<") >= 5


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_compare_notebook_serves_as_a_voila_dashboard(tmp_path):
    port, token = free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "TTS_NB_PROVIDER": "simulator",
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
    }
    notebook = next(path for path in NOTEBOOKS if path.stem == "06_compare_voices")
    server = subprocess.Popen(
        [sys.executable, "-m", "voila", str(notebook), "--no-browser", "--Voila.ip=127.0.0.1"]
        + [f"--port={port}", f"--token={token}"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:  # the page arrives once the whole notebook has run on the server
            try:
                page = requests.get(f"http://127.0.0.1:{port}/?token={token}", timeout=120)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(30)
    assert page.status_code == 200
    html = page.text
    assert "There was an error when executing cell" not in html and '"ename"' not in html
    assert "embedded simulator" not in html  # a dashboard's visitors get no notice
    assert "still running" not in html  # the A/B cell waited for every job
    assert html.count("application/vnd.jupyter.widget-view+json") >= 2  # the grid and the A/B
    assert "comparison = tn.compare" not in html  # a dashboard: no code


@pytest.fixture
def keyed_env(monkeypatch):
    """Keys and endpoints set as a real user sets them, pointing at a simulator in its own
    process: the notebooks take the real-service code path with real credentials."""
    server = subprocess.Popen(
        [sys.executable, "-m", "tts_nb.simulator", "--port", "0", "--speed", "200"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        info = json.loads(server.stdout.readline())
        keys = info["credentials"]
        settings = {
            "TYPECAST_API_KEY": keys["typecast_api_key"],
            "TTS_NB_TYPECAST_URL": info["typecast"],
            "CAMB_API_KEY": keys["camb_api_key"],
            "TTS_NB_CAMB_URL": info["camb"],
            "ASPOSE_CLIENT_ID": keys["aspose_client_id"],
            "ASPOSE_CLIENT_SECRET": keys["aspose_client_secret"],
            "TTS_NB_ASPOSE_URL": info["aspose"],
        }
        for name, value in settings.items():
            monkeypatch.setenv(name, value)
        yield list(keys.values())
    finally:
        server.terminate()
        server.wait(10)


@pytest.mark.parametrize("name", ["01_quickstart", "02_typecast", "05_aspose"])
def test_notebooks_run_with_keys_and_leak_none_of_them(name, keyed_env, tmp_path):
    nb = nbformat.read(next(p for p in NOTEBOOKS if p.stem == name), as_version=4)
    NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    assert errors_in(nb) == []
    saved = tmp_path / "saved.ipynb"
    nbformat.write(nb, saved)  # outputs and the widget state, as a user's file would hold them
    status = "\n".join(str(o.get("data", {})) for o in nb.cells[1].get("outputs", []))
    assert "simulator" not in status.lower() or "real" in status.lower()
    assert_no_secrets([saved, tmp_path / "ledger"], keyed_env)
