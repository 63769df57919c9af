"""The command lines, run as a user would: fresh interpreters, no keys in the environment."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys

import soundfile

CLEAN_ENV = {
    k: v
    for k, v in os.environ.items()
    if not k.startswith(("TYPECAST", "CAMB", "ASPOSE", "TTS_NB"))
}


def test_speak_cli_writes_a_playable_wav_and_prints_the_history(tmp_path):
    out = tmp_path / "hello.wav"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tts_nb",
            "speak",
            "Hello there",
            "--out",
            str(out),
            "--speed",
            "20",
        ],
        capture_output=True,
        text=True,
        env=CLEAN_ENV,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "embedded simulator" in done.stderr
    # v1, a new user's API: the audio is the answer, so the history has one row
    table = done.stdout.split("\n\n")[0].splitlines()
    assert len(table) == 2 and "submit" in table[1] and "SUCCEEDED" in table[1]
    assert "0 polls" in done.stdout
    info = soundfile.info(str(out))
    assert info.format == "WAV" and info.duration > 0.3


def test_speak_cli_reports_errors_clearly(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "tts_nb", "speak", "Hi", "--voice", "Nobody"],
        capture_output=True,
        text=True,
        env=CLEAN_ENV,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode != 0
    assert "is neither a voice id ('tc_…' or 'uc_…', lowercase) nor a voice's name" in done.stderr


def test_simulator_cli_prints_one_json_line_with_urls_and_credentials():
    process = subprocess.Popen(
        [sys.executable, "-m", "tts_nb.simulator", "--port", "0", "--seed", "1"],
        stdout=subprocess.PIPE,
        text=True,
        env=CLEAN_ENV,
    )
    try:
        info = json.loads(process.stdout.readline())
    finally:
        process.terminate()
        process.wait(10)
    assert info["typecast"].startswith("http://127.0.0.1:")
    assert info["cdn"].startswith("http://127.0.0.1:") and info["cdn"] != info["typecast"]
    assert info["typecast_v1"].startswith("http://127.0.0.1:")
    assert len({info["typecast"], info["typecast_v1"], info["cdn"]}) == 3
    assert set(info["credentials"]) >= {"typecast_api_key", "typecast_v1_api_key"}


HEAVY = ("pandas", "ipywidgets", "IPython", "soundfile", "numpy", "matplotlib", "tts_nb.simulator")


def test_import_stays_light():
    """`import tts_nb` (and `tts_nb.clip`) loads no heavy module; a panel brings ipywidgets
    only when it is used, and tn.compare / tn.timeline stay lazy until called."""

    def heavy_after(statement: str) -> list[str]:
        loaded = f"[m for m in {HEAVY!r} if m in sys.modules]"
        code = f"import sys, tts_nb as tn; {statement}; print({loaded})"
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return ast.literal_eval(done.stdout.strip())

    assert heavy_after("pass") == []
    assert heavy_after("import tts_nb.clip") == []
    assert "ipywidgets" in heavy_after("assert callable(tn.SpeakPanel)")
    assert heavy_after("assert callable(tn.compare) and 'timeline' in dir(tn)") == []
