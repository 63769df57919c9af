"""Client defaults follow the simulator they talk to, the simulator notice is given once per
kernel (none under Voila), and a comparison says when it returns with jobs unfinished."""

from __future__ import annotations

import warnings

import nbformat
import pytest
from nbclient import NotebookClient

import tts_nb as tn
from tts_nb import client as client_module
from tts_nb.simulator import SHARED_SPEED, Simulator, reset_shared, shared


@pytest.fixture
def shared_at():
    """Start the shared simulator (the one key-less clients use) at a given speed, with the
    notice not yet given; stop it afterwards so other tests get a fresh one."""
    tn.reset()

    def start(speed: float):
        return shared(speed=speed)

    yield start
    tn.reset()


def test_a_plain_camb_looks_at_its_first_job_within_two_seconds_at_speed_50(shared_at):
    shared_at(50)
    camb = tn.Camb()
    assert camb.simulated
    assert camb.policy.schedule == (1.2, 0.6, 0.4, 0.2, 0.1)  # CAMB's (60, 30, 20, 10, 5) / 50
    assert camb.min_interval == pytest.approx(3.0 / 50)
    job = camb.translated_tts(
        "Good morning!", voice_id=147320, source_language="en-us", target_language="fr-fr"
    )
    job.wait(30)
    polls = [row for row in job.rows if row["step"] == "poll"]
    assert polls and polls[0]["elapsed_s"] < 2.0  # CAMB's real first wait is a minute
    assert job.rows[0]["step"] == "submit" and job.rows[0]["next_poll_in_s"] < 1.3


def test_scaled_intervals_never_drop_below_the_floor(shared_at):
    shared_at(1000)
    legacy, current = tn.Typecast(api="legacy"), tn.Typecast()
    assert legacy.min_interval == client_module.SIMULATOR_MIN_INTERVAL  # not 1 s / 1000
    assert current.min_interval == client_module.SIMULATOR_MIN_INTERVAL  # not 0.5 s / 1000
    assert tn.Aspose().min_interval == client_module.SIMULATOR_MIN_INTERVAL


def test_what_the_caller_passes_is_kept_on_the_simulator(shared_at):
    shared_at(50)
    policy = tn.Fixed(2.0)
    camb = tn.Camb(policy=policy, min_interval=0.5)
    assert camb.simulated and camb.policy is policy and camb.min_interval == 0.5


def test_real_service_clients_keep_the_providers_defaults_exactly(shared_at, monkeypatch):
    shared_at(50)  # running, fast, and irrelevant to clients with keys
    camb = tn.Camb(api_key="a-real-looking-key")
    assert not camb.simulated and camb.base_url == tn.Camb.real_url
    assert camb.policy == tn.Camb.default_policy and camb.policy.schedule[0] == 60.0
    assert camb.min_interval == 3.0
    assert camb.duration_model.predict(0) == tn.Camb.duration_prior[0]  # the prior, unscaled
    legacy = tn.Typecast(api_key="a-real-looking-key", api="legacy")
    assert legacy.min_interval == 1.0 and legacy.policy == tn.Typecast.default_policy
    assert tn.Typecast(api_key="a-real-looking-key", api="v1").min_interval == 0.5
    monkeypatch.setenv("ASPOSE_CLIENT_ID", "id-0001")
    monkeypatch.setenv("ASPOSE_CLIENT_SECRET", "secret-0001")
    assert tn.Aspose().min_interval == 1.0


def test_an_endpoint_the_caller_names_is_not_treated_as_the_shared_simulator(shared_at):
    shared_at(50)
    with Simulator(speed=50) as sim:  # a stand-in for a real service: its speed is unknown
        camb = tn.Camb(api_key=sim.credentials["camb_api_key"], base_url=sim.urls["camb"])
        assert not camb.simulated and camb.min_interval == 3.0
        assert camb.policy.schedule[0] == 60.0


def test_the_shared_simulator_is_brisk_unless_told_otherwise(shared_at):
    reset_shared()
    assert shared().clock.speed == SHARED_SPEED > 1
    reset_shared()
    assert shared_at(1).clock.speed == 1  # an explicit speed wins
    assert tn.Camb().policy.schedule[0] == 60.0  # real time: CAMB's own schedule


def test_status_shown_first_means_no_banner_afterwards(shared_at, capsys):
    shared_at(50)
    repr(tn.status())  # the box that says where requests go
    tn.Typecast()
    assert "embedded simulator" not in capsys.readouterr().err


def test_comparison_wait_warns_about_jobs_still_running():
    with Simulator(speed=50, seed=3) as sim:
        tc = tn.Typecast(
            api_key=sim.credentials["typecast_api_key"],
            base_url=sim.urls["typecast"],
            api="legacy",
            policy=tn.Fixed(0.05),
            min_interval=0.05,
        )
        cmp = tn.compare("Quick.", voices=[(tc, "Olivia")])
        slow = tn.compare("Take your time. [[sim:slow]]", voices=[(tc, "James")])
        with pytest.warns(UserWarning, match=r"1 of 1 jobs still running after 0\.01 s"):
            slow.wait(0.01)
        assert not slow.done()
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # everything finished: nothing to say
            cmp.wait(30)
        assert cmp.done()
        for job in slow.jobs:
            job.cancel()


NOTICE = "no API keys, so requests go to the embedded simulator"


def run_cells(cells: list[str], tmp_path, env: dict[str, str]) -> list[str]:
    """Run the cells in a fresh kernel with `env` set; each cell's outputs as text."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    setup = "import os\n" + "".join(f"os.environ[{k!r}] = {v!r}\n" for k, v in env.items())
    nb.cells.insert(0, nbformat.v4.new_code_cell(setup))
    NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    return [str(cell.outputs) for cell in nb.cells[1:]]


def test_the_notice_appears_once_per_kernel(tmp_path):
    outputs = run_cells(
        ["import tts_nb as tn\ntc = tn.Typecast()", "camb = tn.Camb()\naspose = tn.Aspose()"],
        tmp_path,
        {"TTS_NB_LEDGER": str(tmp_path / "ledger")},
    )
    assert NOTICE in outputs[0] and "var(--jp-ui-font-color1" in outputs[0]  # dark themes
    assert NOTICE not in outputs[1]


def test_no_notice_under_voila(tmp_path):
    outputs = run_cells(
        ["import tts_nb as tn\ntc = tn.Typecast()\ncamb = tn.Camb()"],
        tmp_path,
        {"TTS_NB_LEDGER": str(tmp_path / "ledger"), "VOILA_SERVER_URL": "/"},
    )
    assert outputs == ["[]"]
