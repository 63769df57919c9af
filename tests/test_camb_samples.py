"""CAMB.AI's own sample programs, pointed at the simulator, work unchanged apart from the host.

The simulator is only right if real clients work against it, so the seeds' samples run here as
they are published (tests/samples/): the Python `monitor_voice_creation` (given `requests`,
`time` and its `headers`, as its page assumes) and the JavaScript `monitorTranslatedTTSTask`
(with its one missing closing brace added), run by `node` (the README's test command installs it).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tts_nb.simulator import Simulator

from .conftest import require_tool

SAMPLES = Path(__file__).parent / "samples"
REAL_BASE = "https://client.camb.ai/apis"
DESCRIPTION = (
    "A calm, deep male voice in his fifties with a neutral American accent, who speaks slowly "
    "and deliberately, like the narrator of a nature documentary late at night."
)
RUN_JS = """
monitorTranslatedTTSTask(process.argv[2], process.env.CAMB_API_KEY).then((result) => {
  console.log("RESULT " + JSON.stringify(result));
});
"""


@pytest.fixture(scope="module")
def sim():
    with Simulator(speed=1000, seed=5) as simulator:
        yield simulator


def headers(sim) -> dict[str, str]:
    return {"x-api-key": sim.credentials["camb_api_key"]}


def create(sim, kind: str, body: dict) -> str:
    answer = requests.post(
        f"{sim.urls['camb']}/{kind}", json=body, headers=headers(sim), timeout=10
    )
    answer.raise_for_status()
    return answer.json()["task_id"]


class RelativeRequests:
    """`requests` as the Python sample uses it: its URLs are relative to the API base."""

    def __init__(self, base: str) -> None:
        self.base = base

    def get(self, url: str, **kwargs):
        return requests.get(self.base + url, timeout=10, **kwargs)


def monitor_voice_creation(sim):
    """The sample's function, defined from its verbatim source in the namespace it expects."""
    path = SAMPLES / "monitor_voice_creation.py.txt"
    namespace = {
        "requests": RelativeRequests(sim.urls["camb"]),
        "time": time,
        "headers": headers(sim),
    }
    exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), namespace)
    return namespace["monitor_voice_creation"]


def test_python_sample_follows_a_voice_design_to_success(sim, capsys):
    task_id = create(
        sim, "text-to-voice", {"text": "Hello there.", "voice_description": DESCRIPTION}
    )
    status = monitor_voice_creation(sim)(task_id, poll_interval=0.05)
    out = capsys.readouterr().out
    assert status["status"] == "SUCCESS" and isinstance(status["run_id"], int)
    assert "⏳ Status: PENDING" in out and "✅ Status: SUCCESS" in out
    assert f"Production ID: {status['run_id']}" in out
    # The run_id it printed is what the next documented step needs.
    result = requests.get(
        f"{sim.urls['camb']}/text-to-voice-result/{status['run_id']}", headers=headers(sim)
    )
    previews = result.json()["previews"]
    assert len(previews) == 2
    assert all(requests.get(url, timeout=10).content[:4] == b"fLaC" for url in previews)


@pytest.mark.parametrize(
    "marker, status, icon, message",
    [
        ("fail", "ERROR", "❌", "The speech engine could not process"),
        ("timeout", "TIMEOUT", "⏰", "Processing exceeded the maximum"),
        ("payment-required", "PAYMENT_REQUIRED", "💳", "Insufficient credits"),
    ],
)
def test_python_sample_sees_each_terminal_status(sim, capsys, marker, status, icon, message):
    text = f"Hello there. [[sim:{marker}]]"
    task_id = create(sim, "text-to-voice", {"text": text, "voice_description": DESCRIPTION})
    answer = monitor_voice_creation(sim)(task_id, poll_interval=0.05)
    out = capsys.readouterr().out
    assert answer["status"] == status
    assert f"{icon} Status: {status}" in out and f"Error details: {message}" in out


def run_js_sample(sim, tmp_path: Path, task_id: str) -> tuple[dict | None, str]:
    sample = (SAMPLES / "monitor_translated_tts_task.js").read_text(encoding="utf-8")
    assert sample.count(REAL_BASE) == 1  # the host is the only thing that changes
    script = tmp_path / "sample.js"
    script.write_text(sample.replace(REAL_BASE, sim.urls["camb"]) + RUN_JS, encoding="utf-8")
    env = {"PATH": os.environ.get("PATH", ""), "CAMB_API_KEY": sim.credentials["camb_api_key"]}
    done = subprocess.run(
        [require_tool("node"), str(script), task_id],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    line = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT ") :]), done.stdout + done.stderr


def translated_task(sim, text: str) -> str:
    body = {"text": text, "voice_id": 147320, "source_language": 1, "target_language": 54}
    task_id = create(sim, "translated-tts", body)
    sim.advance(3600)  # past the task's duration: the sample's first check sees the outcome
    return task_id


def test_javascript_sample_returns_success_with_a_run_id(sim, tmp_path):
    sim.log.clear()
    result, output = run_js_sample(sim, tmp_path, translated_task(sim, "Hello friend."))
    assert result["status"] == "SUCCESS" and isinstance(result["run_id"], int)
    assert f"Run ID: {result['run_id']}" in output
    polls = sim.log.find(origin="camb", method="GET", path="/apis/translated-tts/")
    assert len(polls) == 1 and polls[0].headers["x-api-key"] == sim.credentials["camb_api_key"]
    texts = requests.get(
        f"{sim.urls['camb']}/translation-result/{result['run_id']}", headers=headers(sim)
    ).json()
    assert texts == {"texts": ["Hola amigo."]}


@pytest.mark.parametrize(
    "marker, said",
    [
        ("timeout", "Processing time exceeded. Consider shorter content segments."),
        ("payment-required", "Insufficient credits. Please add more credits to your account."),
        # The sample reads `error_message`; CAMB (and this simulator) call the field `message`.
        ("fail", "Processing error: undefined"),
        ("unknown-status", "Unexpected status: QUEUED"),
    ],
)
def test_javascript_sample_reports_each_other_status(sim, tmp_path, marker, said):
    result, output = run_js_sample(sim, tmp_path, translated_task(sim, f"Hi. [[sim:{marker}]]"))
    assert result is None and said in output
