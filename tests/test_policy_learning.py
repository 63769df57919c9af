"""A new kernel's client learns job durations from the ledger, not only from its own jobs.

The ledger is written through its public methods with stand-in jobs whose history rows say
when each look happened (fixed times: no clock, no network), then a client is created the way a
fresh kernel creates one, and the first look it plans is checked.
"""

from __future__ import annotations

from typing import Any

import pytest

import tts_nb as tn
from tts_nb import ledger as ledgers
from tts_nb.learning import done_interval, intervals
from tts_nb.policy import Pacer
from tts_nb.state import State

ENDPOINT = "https://api.example"
TEXT = "x" * 300  # the prior says 1 + 0.06 x 300 = 19 s for it; these jobs take 40-44 s
FIRST_LOOK = 2.0  # s after the submit's answer; the last look that saw it running: 2 s before


class FinishedJob:
    """Just what the ledger reads of a job: a speak that was done at `done` s after submit."""

    provider, kind, raw_status, error, clip = "typecast", "speak", "done", None, None

    def __init__(self, n: int, start: float, done: float, text: str = TEXT) -> None:
        self.id = f"job-{n}"
        self.request = {"text": text}
        self.provider_ids = {"speak_v2_url": f"{ENDPOINT}/api/speak/v2/{n}"}
        self.state, self.polls = State.PENDING, 0
        self.created_at = start
        self.finished_at: float | None = None
        self.rows: list[dict[str, Any]] = [_row(1, start, "submit", "PENDING", 201)]
        self._done = done

    def finish(self) -> None:
        start = self.created_at
        for n, at in enumerate((FIRST_LOOK, self._done - 2.0), start=2):
            self.rows.append(_row(n, start + at, "poll", "RUNNING"))
        self.rows.append(_row(len(self.rows) + 1, start + self._done, "poll", "SUCCEEDED"))
        self.state, self.polls, self.finished_at = State.SUCCEEDED, 3, start + 90


def _row(n: int, at: float, step: str, state: str, status: int = 200) -> dict[str, Any]:
    return {"n": n, "time": at, "step": step, "state": state, "http_status": status}


def fill(ledger: ledgers.Ledger, dones: list[float], endpoint: str = ENDPOINT) -> None:
    """Finished jobs of the given durations (first looks found them running), oldest first."""
    for n, done in enumerate(dones):
        job = FinishedJob(n, start=1_000.0 + 100 * n, done=done)
        ledger.record_new(job, fingerprint=job.id, endpoint=endpoint, embedded=False)
        job.finish()
        ledger.sync(job)


def first_look(client: tn.Typecast) -> float:
    """When the client's default policy looks first at a job of `TEXT`."""
    pacer = Pacer(
        client.policy,
        min_interval=client.min_interval,
        deadline=1e9,
        expected=client.duration_model.predict(len(TEXT)),
    )
    return pacer.next_poll(0.0)


def typecast() -> tn.Typecast:
    return tn.Typecast(api_key="k" * 32, base_url=ENDPOINT, api="legacy", policy=tn.Adaptive())


def test_the_done_interval_is_the_last_running_look_and_the_look_that_found_it_done():
    job = FinishedJob(0, start=500.0, done=42.0)
    job.finish()
    assert done_interval(job.rows) == (40.0, 42.0)
    assert done_interval(job.rows[:-1]) is None  # never seen done: it says nothing
    resumed = [*job.rows[:-1], {"n": 9, "step": "resumed", "time": 541.0}, job.rows[-1]]
    assert done_interval(resumed) is None  # nobody looked while it ended


def test_a_new_client_plans_its_first_look_from_the_ledgers_finished_jobs():
    cold = first_look(typecast())
    assert cold == pytest.approx(19.0)  # the prior's line: nothing learned yet
    fill(ledgers.current(), [40.0, 44.0, 41.0, 43.0, 42.0, 40.5, 43.5, 41.5])
    client = typecast()
    warm = first_look(client)
    # The jobs took 40-44 s: the model's median is there, and the first look is planned from
    # that spread (a little before it, where the first of them end), far from the prior's 19 s.
    assert 38.0 <= client.duration_model.predict(len(TEXT)).quantile(0.5) <= 44.0
    assert 30.0 <= warm <= 42.0, warm


def test_only_the_same_provider_and_endpoint_teach_and_the_newest_jobs_count_most():
    ledger = ledgers.current()
    fill(ledger, [60.0] * 20 + [40.0] * 20)  # the service got faster: the newest take 40 s
    fill(ledgers.Ledger(ledger.directory / "other"), [200.0] * 10)
    seen = intervals(ledger, "typecast", ENDPOINT + "/", limit=25)
    assert len(seen) == 25 and seen[-1] == (len(TEXT), 38.0, 40.0)
    assert intervals(ledger, "typecast", "http://elsewhere") == []
    assert intervals(ledger, "camb", ENDPOINT) == []
    assert intervals(ledger, "typecast", ENDPOINT, kinds={"text_to_speech"}) == []
    median = typecast().duration_model.predict(len(TEXT)).quantile(0.5)
    assert 38.0 <= median < 50.0  # nearer the newest (done in 38-40 s) than the older 60 s


def test_without_a_ledger_the_client_starts_from_the_prior():
    fill(ledgers.current(), [40.0] * 8)
    tn.use_ledger(None)
    assert first_look(typecast()) == pytest.approx(19.0)


def rows(*specs: tuple) -> list[dict[str, Any]]:
    """History rows from (step, time, state, http_status, latency_s) tuples."""
    out = []
    for n, (step, at, state, status, latency) in enumerate(specs, start=1):
        row = {"n": n, "step": step, "time": at, "state": state, "http_status": status}
        if latency is not None:
            row["latency_s"] = latency
        out.append(row)
    return out


def test_the_done_interval_counts_from_each_answer_s_arrival():
    # the submit answered 0.5 s after it was sent; the polls' answers took 0.25 s
    seen = rows(
        ("submit", 100.0, "PENDING", 201, 0.5),
        ("poll", 103.0, "PENDING", 200, 0.25),
        ("poll", 106.0, "RUNNING", 200, 0.25),
        ("poll", 109.0, "SUCCEEDED", 200, 0.25),
    )
    assert done_interval(seen) == (5.75, 8.75)
    # latency only on the submit: the polls are counted at their own time
    seen = rows(
        ("submit", 100.0, "PENDING", 202, 0.5),
        ("poll", 103.0, "PENDING", 200, None),
        ("poll", 106.0, "SUCCEEDED", 200, None),
    )
    assert done_interval(seen) == (2.5, 5.5)


def test_a_job_done_at_its_first_look_was_done_between_the_answer_and_that_look():
    seen = rows(("submit", 10.0, "PENDING", 200, None), ("poll", 10.5, "SUCCEEDED", 200, None))
    assert done_interval(seen) == (0.0, 0.5)  # a 2xx answer, 200 too, starts the count
    same_time = rows(("submit", 10.0, "PENDING", 201, None), ("poll", 10.0, "SUCCEEDED", 200, None))
    assert done_interval(same_time) is None  # done no later than the answer: says nothing


def test_only_a_2xx_answered_submit_starts_the_count():
    for status in (None, 300, 503):
        seen = rows(
            ("submit", 0.0, "PENDING", status, None),
            ("poll", 4.0, "RUNNING", 200, None),
            ("poll", 6.0, "SUCCEEDED", 200, None),
        )
        assert done_interval(seen) is None, status
    retried = rows(
        ("submit", 0.0, "PENDING", 503, None),
        ("submit", 1.0, "PENDING", 299, None),
        ("poll", 4.0, "RUNNING", 200, None),
        ("poll", 6.0, "SUCCEEDED", 200, None),
    )
    assert done_interval(retried) == (3.0, 5.0)


def test_other_steps_and_rows_without_a_time_are_not_looks():
    seen = rows(
        ("submit", 0.0, "PENDING", 201, None),
        ("poll", 3.0, "RUNNING", 200, None),
        ("fetch", 4.0, "SUCCEEDED", 200, None),  # not a look at the job's state
        ("poll", None, "RUNNING", 200, None),  # no time: it says nothing
        ("poll", 5.0, "SUCCEEDED", 200, None),
    )
    assert done_interval(seen) == (3.0, 5.0)


def test_a_submit_answered_again_after_a_restart_counts_from_that_answer():
    seen = rows(
        ("submit", 0.0, "PENDING", 201, None),
        ("resumed", 2.0, None, None, None),
        ("poll", 3.0, "RUNNING", 200, None),  # nobody knows what happened before it
        ("submit", 10.0, "PENDING", 201, None),
        ("poll", 12.0, "RUNNING", 200, None),
        ("poll", 15.0, "SUCCEEDED", 200, None),
    )
    assert done_interval(seen) == (2.0, 5.0)
