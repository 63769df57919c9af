"""`tn.batch()` on executors that pickle: a ProcessPoolExecutor and a local Dask cluster of
worker processes, against a simulator in this process. Workers read the key and the endpoint
from their environment; re-running a batch submits nothing twice and resumes a job left
running from its token."""

from __future__ import annotations

import multiprocessing
import os
import pickle
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

import tts_nb as tn
from tts_nb.batch import TOKENS, Unit

from .conftest import FAST, wait_until

TEXTS = ["One small step.", "Two more words.", "Three is a crowd.", "Four on the floor."]


def posts(sim) -> list:
    return sim.log.find(origin="typecast", method="POST", path="/api/speak")


@pytest.fixture
def worker_env(sim, monkeypatch):
    """What a worker process reads: the simulator's URL and key, from its environment."""
    monkeypatch.setenv("TYPECAST_API_KEY", sim.credentials["typecast_api_key"])
    monkeypatch.setenv("TTS_NB_TYPECAST_URL", sim.urls["typecast"])


def test_a_unit_pickles_without_any_key(sim, worker_env, actor):
    unit = Unit("typecast", "Hello.", actor, "out")
    assert sim.credentials["typecast_api_key"].encode() not in pickle.dumps(unit)


def test_batch_on_a_process_pool_resumes_and_never_submits_twice(sim, worker_env, actor, tc):
    out = Path("out")
    # A job left running by an earlier run: its token is in the folder, its audio is not.
    left = tc.speak(TEXTS[0], actor_id=actor, policy=FAST)
    wait_until(lambda: left.provider_ids, "the earlier run's submit was never answered")
    (out / TOKENS).mkdir(parents=True)
    key = Unit("typecast", TEXTS[0], actor, str(out)).key
    (out / TOKENS / f"{key}.token").write_text(left.continuation_token())
    left.cancel()  # this kernel stops polling it; the batch must pick it up

    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(2, mp_context=spawn) as pool:
        first = tn.batch(TEXTS, actor, executor=pool, out=out, timeout=60)
        assert first.state.tolist() == ["SUCCEEDED"] * 4, first.error.tolist()
        assert len(posts(sim)) == 4  # the left job's submit and three new ones
        assert first.resumed.tolist() == [True, False, False, False]
        assert first.job[0] == left.id
        assert os.getpid() not in set(first.worker_pid)
        assert all(Path(p).stat().st_size > 0 for p in first.audio)
        assert (first.duration_s > 0).all()

        again = tn.batch(TEXTS, actor, executor=pool, out=out, timeout=60)
    assert again.state.tolist() == ["SUCCEEDED"] * 4
    assert len(posts(sim)) == 4, "a re-run submitted again"
    assert again.audio.tolist() == first.audio.tolist()


def test_batch_on_a_local_dask_cluster(sim, worker_env, actor):
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2,
            processes=True,
            threads_per_worker=1,
            dashboard_address=None,
            host="127.0.0.1",
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        frame = tn.batch(TEXTS[:3], [actor], executor=client.get_executor(), out="dask", timeout=60)
    assert frame.state.tolist() == ["SUCCEEDED"] * 3, frame.error.tolist()
    assert len(posts(sim)) == 3
    assert os.getpid() not in set(frame.worker_pid)
    assert all(Path(p).is_file() for p in frame.audio)
