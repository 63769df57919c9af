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
    if path.stem[:2].isdigit():  # the numbered tour: its first cells say where requests go
        assert any("tn.status(" in cell.source for cell in code[:3])


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
        assert "simulator" in text  # the status cell said where requests went
    missing = [shown for shown in SHOWN.get(path.stem, []) if shown not in text]
    assert missing == []


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_compare_notebook_serves_as_a_voila_dashboard(tmp_path):
    pytest.importorskip("voila")
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
    assert "tts_nb runs offline on the simulator" in html
    assert html.count("SUCCEEDED") >= 5  # every voice's row in the metrics table
    assert "application/vnd.jupyter.widget-view+json" in html  # the players and the A/B panel
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
