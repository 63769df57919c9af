"""The job engine as a provider and a user see it: which requests go out when (on a virtual
clock), the history rows, the final state and the error's words; and the scheduler under it
(what runs when, in which lane, what is dropped).

A scripted HTTP adapter answers the transport's requests in order (no sockets), so the real
Transport and Job code run end to end and every request's virtual time is logged. Written
against mutmut's survivors (pyproject.toml [tool.mutmut], tests/mutation-equivalents.md).
"""

from __future__ import annotations

import io
import json
import threading
import time
from concurrent.futures import Executor, ThreadPoolExecutor

import pytest
import requests
from requests.structures import CaseInsensitiveDict

import tts_nb as tn
from tts_nb import runtime as runtime_module
from tts_nb import scheduler as scheduler_module
from tts_nb.errors import BadAudio
from tts_nb.job import Job, Observation, state_for_error
from tts_nb.scheduler import Scheduler
from tts_nb.state import State
from tts_nb.transport import Transport

from .conftest import wait_until

API = "http://api.test/v1/"
KEY = "sk-contract-secret-0123"
STATES = {
    "queued": State.PENDING,
    "running": State.RUNNING,
    "done": State.SUCCEEDED,
    "failed": State.FAILED,
    "unpaid": State.PAYMENT_REQUIRED,
    "gone": State.NOT_FOUND,
    "expired": State.EXPIRED,
    "timeout": State.TIMED_OUT,
}


def answer(status=200, body=None, headers=None):
    """One scripted HTTP answer: JSON for dicts, raw bytes otherwise."""
    if isinstance(body, dict):
        return status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(body)
    return status, {"Content-Type": "audio/wav", **(headers or {})}, body or b""


class Script(requests.adapters.BaseAdapter):
    """Answers requests in order; logs (virtual time, method, path) of each."""

    def __init__(self, clock, answers):
        super().__init__()
        self.clock = clock
        self.t0 = clock.now()  # times are logged from here: the clock does not start at 0
        self.answers = list(answers)
        self.log: list[tuple[float, str, str]] = []

    def send(self, request, **kwargs):
        self.log.append((self.clock.now() - self.t0, request.method, request.path_url))
        if not self.answers:
            raise AssertionError(f"unexpected request {request.method} {request.path_url}")
        given = self.answers.pop(0)
        status, headers, body = given() if callable(given) else given  # a callable may stall
        response = requests.Response()
        response.status_code = status
        response.headers = CaseInsensitiveDict(headers)
        response.raw = io.BytesIO(body.encode() if isinstance(body, str) else body)
        response.url = request.url
        response.request = request
        return response

    def close(self):
        pass


class Operation:
    """A minimal provider protocol: POST jobs, GET jobs/<id>, GET audio/<id>."""

    provider = "acme"
    kind = "speak"

    def submit(self, call):
        data = call.request_json("POST", "jobs", json_body={"text": "hi", "key": KEY})
        return self.observe(data)

    def poll(self, call, ids):
        return self.observe(call.request_json("GET", f"jobs/{ids['id']}"))

    def fetch(self, call, ids, seen):
        body = call.request("GET", f"audio/{ids['id']}").content
        if body == b"broken":
            raise BadAudio("acme: the audio is broken", provider="acme")
        return body

    def observe(self, data):
        if "crash" in data:
            raise ValueError(f"parser bug near {data['crash']}")
        return Observation(
            STATES[data["status"]],
            raw_status=data["status"],
            ids={"id": data["id"]} if "id" in data else {},
            message=data.get("message"),
        )


class Cancelling(Operation):
    def cancel(self, call, ids):
        call.request("DELETE", f"jobs/{ids['id']}")
        return "acme deleted the job"


def make_job(
    answers,
    *,
    policy=None,
    min_interval=1.0,
    timeout=100.0,
    operation=None,
    model=None,
    start=True,
    retry=None,
):
    clock = tn.VirtualClock(start=1000.0)
    scheduler = Scheduler(clock)
    options = {} if retry is None else {"retry": retry}
    transport = Transport(API, provider="acme", secrets=lambda: [KEY], retries=0, **options)
    script = Script(clock, answers)
    transport.session.mount("http://", script)
    job = Job(
        operation or Operation(),
        transport=transport,
        scheduler=scheduler,
        policy=policy or tn.Fixed(5),
        min_interval=min_interval,
        timeout=timeout,
        request={"text": "hi"},
        duration_model=model,
        text_length=2,
    )
    if start:
        job.start()
    return job, scheduler, script


def run(answers, **kwargs):
    job, scheduler, script = make_job(answers, **kwargs)
    scheduler.run_virtual()
    return job, script


def times(script, method=None):
    return [t for t, m, _ in script.log if method is None or m == method]


def notes(job):
    return [row["note"] for row in job.rows if row["note"]]


SUBMITTED = answer(200, {"id": "j1", "status": "queued"})
RUNNING = answer(200, {"id": "j1", "status": "running"})
DONE = answer(200, {"id": "j1", "status": "done"})
AUDIO = answer(200, b"RIFF-audio")


# ------------------------------------------------------------------ the happy path
def test_a_job_submits_polls_and_fetches_with_one_history_row_per_exchange():
    job, script = run([SUBMITTED, RUNNING, DONE, AUDIO])
    assert job.state is State.SUCCEEDED and job.wait(0) == b"RIFF-audio"
    assert [(m, p) for _, m, p in script.log] == [
        ("POST", "/v1/jobs"),
        ("GET", "/v1/jobs/j1"),
        ("GET", "/v1/jobs/j1"),
        ("GET", "/v1/audio/j1"),
    ]
    assert times(script) == [0, 5, 10, 10]
    rows = job.rows
    assert [r["n"] for r in rows] == [1, 2, 3, 4]
    assert [r["step"] for r in rows] == ["submit", "poll", "poll", "fetch"]
    assert [r["raw_status"] for r in rows] == ["queued", "running", "done", None]
    assert [r["state"] for r in rows] == ["PENDING", "RUNNING", "SUCCEEDED", "SUCCEEDED"]
    assert [r["next_poll_in_s"] for r in rows] == [5, 5, None, None]
    assert [r["http_status"] for r in rows] == [200, 200, 200, 200]
    assert all(r["job"] == job.id and r["provider"] == "acme" for r in rows)
    assert job.polls == 2 and job.provider_ids == {"id": "j1"}
    assert job.clip == b"RIFF-audio" and job.finished_at is not None
    assert job.next_poll_at is None
    assert KEY not in json.dumps(job.rows, default=str)


def test_the_status_line_and_repr_say_what_the_job_did():
    job, _ = run([SUBMITTED, RUNNING, DONE, AUDIO])
    assert job.status_line() == f"acme speak {job.id}: SUCCEEDED (done), 2 polls, 10.0 s"
    assert repr(job) == f"<Job acme:{job.id} [SUCCEEDED] polls=2 10.0s>"
    fresh, _, _ = make_job([], start=False)
    assert repr(fresh) == f"<Job acme:{fresh.id} [PENDING] 0.0s>"
    assert fresh.status_line() == f"acme speak {fresh.id}: PENDING, 0 polls, 0.0 s"


def test_the_status_line_ends_with_the_error():
    job, _ = run([SUBMITTED, answer(200, {"id": "j1", "status": "failed", "message": "no"})])
    assert job.status_line().endswith("FAILED (failed), 1 polls, 5.0 s — no")


class IntervalModel:
    """Records what a job teaches its duration model."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, float, float]] = []

    def predict(self, characters: int) -> None:
        return None

    def observe_interval(self, characters: int, low: float, high: float) -> None:
        self.seen.append((characters, low, high))


def test_a_job_teaches_the_interval_between_the_last_two_looks():
    model = IntervalModel()
    run([SUBMITTED, RUNNING, RUNNING, DONE, AUDIO], model=model)
    # last seen running at 10 s, done at 15 s: the model gets the interval, not its middle
    assert model.seen == [(2, pytest.approx(10.0), pytest.approx(15.0))]


def test_a_job_done_at_its_first_look_teaches_from_the_submit_to_that_look():
    model = IntervalModel()
    run([SUBMITTED, DONE, AUDIO], model=model)
    assert model.seen == [(2, pytest.approx(0.0), pytest.approx(5.0))]


# ------------------------------------------------------------------ polls and Retry-After
def test_a_429_on_a_poll_waits_as_long_as_asked_then_polls_again():
    job, script = run(
        [SUBMITTED, answer(429, {"error": "slow down"}, {"Retry-After": "12"}), DONE, AUDIO]
    )
    assert job.state is State.SUCCEEDED
    assert times(script, "GET") == [5, 17, 17]
    row = job.rows[1]
    assert row["http_status"] == 429 and row["next_poll_in_s"] == 12
    assert row["note"].startswith("transient: acme answered 429 to GET")
    assert row["note"].endswith("— polling again")
    assert job.polls == 2


def test_a_5xx_on_a_poll_is_polled_again_on_the_plan():
    job, script = run([SUBMITTED, answer(502, {"error": "bad gateway"}), DONE, AUDIO])
    assert job.state is State.SUCCEEDED
    assert times(script, "GET") == [5, 10, 10]
    # the exchange's own error is on its row, then what the engine did about it
    assert job.rows[1]["note"] == (
        'transient: acme answered 502 to GET http://api.test/v1/jobs/j1: {"error": "bad '
        'gateway"}. acme failed on its side. Try again in a minute; if it keeps failing, check '
        "acme's status page. — polling again"
    )


def test_every_row_is_stamped_with_the_wall_time_of_its_exchange():
    before = time.time()
    job, _ = run([SUBMITTED, RUNNING, DONE, AUDIO])
    stamps = [row["time"] for row in job.rows]
    assert len(stamps) == 4 and all(before - 1 <= t <= time.time() + 1 for t in stamps), stamps
    assert stamps == sorted(stamps)


@pytest.mark.parametrize(
    "status, state, error",
    [
        (404, State.NOT_FOUND, tn.NotFound),
        (401, State.FAILED, tn.AuthError),
        (402, State.PAYMENT_REQUIRED, tn.QuotaError),
        (400, State.FAILED, tn.InvalidInput),
    ],
)
def test_a_verdict_on_a_poll_ends_the_job(status, state, error):
    job, script = run([SUBMITTED, answer(status, {"error": "verdict"})])
    assert job.state is state
    assert len(script.log) == 2
    with pytest.raises(error, match="verdict"):
        job.wait(0)
    assert job.rows[-1]["state"] == state.value


def test_retry_after_past_the_deadline_gives_up_and_says_why():
    job, script = run(
        [SUBMITTED, answer(429, {"error": "later"}, {"Retry-After": "500"})], timeout=60
    )
    assert job.state is State.TIMED_OUT and len(script.log) == 2
    with pytest.raises(tn.JobTimeout) as caught:
        job.wait(0)
    text = str(caught.value)
    assert f"acme job {job.id} still not finished after 5 s and 1 polls" in text
    assert "the server asked to wait 500 s, past the deadline" in text
    assert "policy=tn.Fixed(5, timeout=1800)" in text


def test_the_deadline_message_names_the_deadline_and_the_last_status():
    job, script = run([SUBMITTED, RUNNING, RUNNING, RUNNING], timeout=12)
    assert times(script, "GET") == [5, 10, 12]
    with pytest.raises(tn.JobTimeout) as caught:
        job.wait(0)
    text = str(caught.value)
    assert "still not finished after 12 s and 3 polls (last status 'running')" in text
    assert "the deadline of 12 s passed" in text
    assert job.rows[-1]["state"] == "TIMED_OUT"


def test_max_polls_message_names_the_policy_limit():
    job, _ = run([SUBMITTED, RUNNING, RUNNING], policy=tn.Fixed(5, max_polls=2))
    with pytest.raises(tn.JobTimeout, match="the policy allows 2 polls"):
        job.wait(0)


@pytest.mark.parametrize(
    "status, state, error",
    [
        ("failed", State.FAILED, tn.JobFailed),
        ("unpaid", State.PAYMENT_REQUIRED, tn.QuotaError),
        ("gone", State.NOT_FOUND, tn.NotFound),
        ("timeout", State.TIMED_OUT, tn.JobTimeout),
    ],
)
def test_a_terminal_status_ends_the_job_with_its_error(status, state, error):
    job, _ = run([SUBMITTED, answer(200, {"id": "j1", "status": status})])
    assert job.state is state
    with pytest.raises(error, match=f"acme reported '{status}'"):
        job.wait(0)
    assert job.rows[-1]["note"] == f"acme reported '{status}'."


def test_a_failure_keeps_the_providers_message_and_raw_status():
    job, _ = run([SUBMITTED, answer(200, {"id": "j1", "status": "failed", "message": "bad"})])
    with pytest.raises(tn.JobFailed) as caught:
        job.wait(0)
    assert caught.value.message == "bad" and caught.value.raw_status == "failed"
    assert caught.value.job is job and job.error is caught.value
    assert caught.value.args == ("bad",)
    assert notes(job) == ["bad"]  # noted once, at the end


def test_a_running_message_is_noted_on_its_row():
    job, _ = run(
        [SUBMITTED, answer(200, {"id": "j1", "status": "running", "message": "40 %"}), DONE, AUDIO]
    )
    assert job.rows[1]["note"] == "40 %"


def test_secrets_in_statuses_and_errors_are_masked():
    job, _ = run([SUBMITTED, answer(200, {"id": "j1", "status": "failed", "message": KEY})])
    with pytest.raises(tn.JobFailed) as caught:
        job.wait(0)
    assert KEY not in caught.value.message and KEY not in repr(caught.value)
    assert KEY not in json.dumps(job.rows, default=str)


# ------------------------------------------------------------------ submit
def test_a_refused_submit_is_sent_again_after_retry_after_and_says_nothing_was_charged():
    refused = answer(429, {"error": "busy"}, {"Retry-After": "7"})
    job, script = run([refused, SUBMITTED, DONE, AUDIO])
    assert job.state is State.SUCCEEDED
    assert times(script, "POST") == [0, 7]
    assert job.rows[0]["note"].endswith(
        "not accepted (429); submitting again in 7 s, nothing was charged"
    )


def test_a_refused_submit_waits_at_least_the_minimum_interval():
    refused = answer(503, {"error": "busy"}, {"Retry-After": "1"})
    job, script = run([refused, SUBMITTED, DONE, AUDIO], min_interval=4)
    assert times(script, "POST") == [0, 4]
    assert "not accepted (503); submitting again in 4 s" in job.rows[0]["note"]


@pytest.mark.parametrize(
    "refused",
    [
        answer(429, {"error": "busy"}),  # no Retry-After: no hint when to come back
        answer(500, {"error": "oops"}, {"Retry-After": "1"}),  # not a refusal
    ],
)
def test_a_submit_is_not_sent_again_without_a_refusal_and_a_retry_after(refused):
    job, script = run([refused])
    assert times(script, "POST") == [0]
    assert job.state is State.FAILED


def test_a_refused_submit_whose_retry_after_passes_the_deadline_is_not_resent():
    refused = answer(429, {"error": "busy"}, {"Retry-After": "30"})
    job, script = run([refused], timeout=20)
    assert times(script, "POST") == [0]
    assert job.state is State.FAILED
    boundary, script = run([refused, SUBMITTED, DONE, AUDIO], timeout=30)
    assert times(script, "POST") == [0, 30]


def test_a_submit_answered_2xx_but_unreadable_is_unconfirmed_and_not_resent():
    job, script = run([answer(200, b"not json")])
    assert len(script.log) == 1 and job.state is State.FAILED
    assert job.submit_unconfirmed
    with pytest.raises(tn.ProviderError) as caught:
        job.wait(0)
    assert caught.value.maybe_sent
    assert "did NOT send it again" in caught.value.message
    assert "force=True" in caught.value.message


def test_a_submit_refused_outright_is_not_unconfirmed():
    job, _ = run([answer(400, {"error": "text too long"})])
    assert job.state is State.FAILED and not job.submit_unconfirmed
    with pytest.raises(tn.InvalidInput) as caught:
        job.wait(0)
    assert "did NOT send" not in caught.value.message


def test_a_5xx_submit_is_not_unconfirmed_but_fails():
    job, _ = run([answer(500, {"error": "oops"})])
    assert not job.submit_unconfirmed
    with pytest.raises(tn.ProviderError, match="did not send the request again"):
        job.wait(0)


def test_a_parser_crash_on_submit_ends_the_job_with_a_clear_unconfirmed_error():
    job, _ = run([answer(200, {"crash": KEY})])
    assert job.state is State.FAILED and job.submit_unconfirmed
    with pytest.raises(tn.InternalError) as caught:
        job.wait(0)
    text = caught.value.message
    assert text.startswith(
        "acme: unexpected problem while handling the answer: ValueError: parser bug near ••••."
    )
    assert text.endswith(". Please report it. " + ADVICE)  # ADVICE names the provider
    assert KEY not in text


class Unbuildable(Operation):
    def submit(self, call):
        return self.observe(call.request_json("POST", "jobs", json_body={"speed": float("nan")}))


def test_a_submit_that_cannot_be_built_still_leaves_a_row_with_its_state_and_error():
    job, script = run([], operation=Unbuildable())
    assert script.log == []  # nothing went out
    assert job.state is State.FAILED
    [row] = job.rows
    assert (row["step"], row["state"], row["http_status"]) == ("ended", "FAILED", None)
    assert "NaN" in row["note"] and "Nothing was sent." in row["note"]


def test_a_parser_crash_on_a_poll_is_not_called_unconfirmed():
    job, _ = run([SUBMITTED, answer(200, {"crash": "x"})])
    assert job.state is State.FAILED and not job.submit_unconfirmed
    with pytest.raises(tn.InternalError) as caught:
        job.wait(0)
    assert "did NOT send" not in caught.value.message
    assert caught.value.message.endswith("Please report it.")


def test_the_ledger_sees_the_submit_start_before_the_request_goes_out():
    job, scheduler, script = make_job([SUBMITTED, DONE, AUDIO], start=False)
    seen = []
    job.observe(lambda j: seen.append((j.submit_started_at is not None, len(script.log))))
    job.start()
    scheduler.run_virtual()
    assert seen[0] == (True, 0)


# ------------------------------------------------------------------ fetch
def test_a_broken_download_is_fetched_again_up_to_three_times():
    broken = answer(200, b"broken")
    job, script = run([SUBMITTED, DONE, broken, broken, AUDIO], min_interval=2)
    assert job.state is State.SUCCEEDED and job.wait(0) == b"RIFF-audio"
    assert times(script, "GET")[1:] == [5, 7, 9]
    assert notes(job)[0] == "transient: acme: the audio is broken — fetching again"


def test_a_download_broken_three_times_fails():
    broken = answer(200, b"broken")
    job, script = run([SUBMITTED, DONE, broken, broken, broken])
    assert job.state is State.FAILED and len(script.log) == 5
    with pytest.raises(BadAudio):
        job.wait(0)


def test_a_refused_download_waits_its_retry_after():
    refused = answer(503, {"error": "later"}, {"Retry-After": "6"})
    job, script = run([SUBMITTED, DONE, refused, AUDIO])
    assert job.state is State.SUCCEEDED
    assert times(script, "GET")[1:] == [5, 11]


def test_an_expired_download_is_not_fetched_again():
    job, script = run([SUBMITTED, DONE, answer(410, {"error": "expired"})])
    assert job.state is State.NOT_FOUND and len(script.log) == 3


# ------------------------------------------------------------------ cancel and wait
def test_cancel_stops_polling_and_notes_it():
    job, scheduler, script = make_job([SUBMITTED, RUNNING, RUNNING])
    scheduler.run_virtual(until=1006)
    assert job.cancel() is True
    scheduler.run_virtual()
    assert len(script.log) == 2 and job.state is State.CANCELLED
    assert (
        job.rows[-1]["note"] == "cancelled: polling stopped; the provider may still finish the job"
    )
    assert job.finished_at is not None and job.cancelled()
    assert job.cancel() is False  # already over


def test_cancel_asks_a_provider_that_can_delete_the_job():
    job, scheduler, script = make_job(
        [SUBMITTED, RUNNING, answer(204, b"")], operation=Cancelling()
    )
    scheduler.run_virtual(until=1006)
    job.cancel()
    scheduler.run_virtual()
    assert [m for _, m, _ in script.log] == ["POST", "GET", "DELETE"]
    assert notes(job)[-2:] == [
        "cancelled: polling stopped; asking acme to delete the job",
        "acme deleted the job",
    ]


def test_a_failed_remote_cancel_is_noted_in_the_providers_name():
    job, scheduler, _ = make_job(
        [SUBMITTED, RUNNING, answer(500, {"error": "no"})], operation=Cancelling()
    )
    scheduler.run_virtual(until=1006)
    job.cancel()
    scheduler.run_virtual()
    assert notes(job)[-1].startswith("acme was not told to delete the job: acme answered 500")


def test_a_cancel_before_the_submit_sends_nothing():
    job, scheduler, script = make_job([], start=False)
    job.cancel()
    job.start()
    scheduler.run_virtual()
    assert script.log == [] and job.state is State.CANCELLED


def test_a_late_accept_after_a_cancel_keeps_the_ids_and_says_so():
    class Slow(Operation):
        def submit(self, call):
            seen = super().submit(call)
            job.cancel()  # the user cancels while the submit is on the wire
            return seen

    job, scheduler, script = make_job([SUBMITTED], operation=Slow(), start=False)
    job.start()
    scheduler.run_virtual()
    assert job.state is State.CANCELLED and job.provider_ids == {"id": "j1"}
    assert len(script.log) == 1
    said = (
        "the submit was accepted after the cancel (ids ['id'] kept): the result is probably "
        f"charged; tn.resume({job.id!r}) fetches it"
    )
    assert any(n.endswith(said) for n in notes(job))


def test_waiting_too_short_leaves_the_job_running_and_says_so():
    job, scheduler, _ = make_job([SUBMITTED, RUNNING])
    scheduler.run_virtual(until=1006)
    with pytest.raises(tn.JobTimeout) as caught:
        job.wait(0.01)
    assert caught.value.still_running
    assert f"acme job {job.id} is still RUNNING after waiting 0.01 s" in str(caught.value)
    assert not job.done()


# ------------------------------------------------------------------ errors and states
@pytest.mark.parametrize(
    "error, state",
    [
        (tn.QuotaError("q", status_code=402), State.PAYMENT_REQUIRED),
        (tn.QuotaError("q"), State.PAYMENT_REQUIRED),
        (tn.QuotaError("q", status_code=429), State.FAILED),
        (tn.QuotaError("q", status_code=403), State.FAILED),
        (tn.ExpiredResult("e"), State.EXPIRED),
        (tn.NotFound("n"), State.NOT_FOUND),
        (tn.JobTimeout("t"), State.TIMED_OUT),
        (tn.AuthError("a"), State.FAILED),
    ],
)
def test_each_error_ends_a_job_in_its_state(error, state):
    assert state_for_error(error) is state


# ------------------------------------------------------------------ the registry
def test_finished_jobs_beyond_the_limit_are_let_go_running_ones_kept(monkeypatch):
    monkeypatch.setattr(runtime_module, "_current", runtime_module.Runtime())
    monkeypatch.setattr(runtime_module, "KEEP_FINISHED", 2)
    done = [run([SUBMITTED, DONE, AUDIO])[0] for _ in range(3)]
    running, scheduler, _ = make_job([SUBMITTED, RUNNING])
    scheduler.run_virtual(until=1006)
    assert tn.all_jobs() == [done[1], done[2], running]
    monkeypatch.setattr(runtime_module, "KEEP_FINISHED", 0)
    assert tn.all_jobs() == [running]


def test_forget_lets_go_of_finished_jobs_only(monkeypatch):
    monkeypatch.setattr(runtime_module, "_current", runtime_module.Runtime())
    first, second = (run([SUBMITTED, DONE, AUDIO])[0] for _ in range(2))
    running, scheduler, _ = make_job([SUBMITTED, RUNNING])
    scheduler.run_virtual(until=1006)
    assert tn.forget(first.id) == 1
    assert tn.all_jobs() == [second, running]
    assert tn.forget(running) == 0
    assert tn.forget() == 1
    assert tn.all_jobs() == [running]


# ------------------------------------------------------------------ the scheduler


def test_virtual_calls_run_in_time_order_with_the_clock_at_their_time():
    clock = tn.VirtualClock()
    scheduler = Scheduler(clock)
    ran = []
    for when, name in ((3.0, "c"), (1.0, "a"), (2.0, "b"), (1.0, "a2")):
        scheduler.call_at(when, lambda n=name: ran.append((n, clock.now())))
    assert scheduler.pending() == 4 and ran == []
    scheduler.run_virtual()
    assert ran == [("a", 1.0), ("a2", 1.0), ("b", 2.0), ("c", 3.0)]
    assert scheduler.pending() == 0


def test_run_virtual_until_stops_there_and_sets_the_clock():
    clock = tn.VirtualClock()
    scheduler = Scheduler(clock)
    ran = []
    scheduler.call_at(5.0, lambda: ran.append(5))
    scheduler.call_at(10.0, lambda: ran.append(10))
    scheduler.run_virtual(until=5.0)
    assert ran == [5] and clock.now() == 5.0
    scheduler.run_virtual(until=7.5)
    assert ran == [5] and clock.now() == 7.5 and scheduler.pending() == 1
    scheduler.run_virtual()
    assert ran == [5, 10] and clock.now() == 10.0


def test_cancelled_calls_are_dropped_and_not_counted():
    scheduler = Scheduler(tn.VirtualClock())
    ran = []
    timer = scheduler.call_at(1.0, lambda: ran.append("x"))
    scheduler.call_at(2.0, lambda: ran.append("y"))
    timer.cancel()
    assert timer.cancelled and scheduler.pending() == 1
    scheduler.run_virtual()
    assert ran == ["y"]


def test_call_soon_runs_at_the_current_time_and_calls_scheduled_while_running_run_too():
    clock = tn.VirtualClock(start=4.0)
    scheduler = Scheduler(clock)
    ran = []

    def first():
        ran.append(("first", clock.now()))
        scheduler.call_at(clock.now() + 2, lambda: ran.append(("second", clock.now())))

    timer = scheduler.call_soon(first, download=True)
    assert timer.when == 4.0 and timer.download is True
    scheduler.run_virtual()
    assert ran == [("first", 4.0), ("second", 6.0)]


def test_run_virtual_needs_a_virtual_clock():
    scheduler = Scheduler(max_workers=1, download_workers=1)
    try:
        assert not scheduler.virtual
        with pytest.raises(RuntimeError) as caught:
            scheduler.run_virtual()
        assert str(caught.value) == "run_virtual() needs a VirtualClock"
    finally:
        scheduler.shutdown()


def test_a_real_scheduler_runs_due_calls_on_worker_threads_in_their_lanes():
    scheduler = Scheduler(max_workers=1, download_workers=1)
    seen: dict[str, str] = {}
    try:
        now = scheduler.clock.now()
        scheduler.call_at(
            now + 0.05, lambda: seen.setdefault("poll", threading.current_thread().name)
        )
        scheduler.call_soon(
            lambda: seen.setdefault("fetch", threading.current_thread().name), download=True
        )
        wait_until(lambda: len(seen) == 2, "both calls ran")
        assert seen["poll"].startswith("tts_nb-worker")
        assert seen["fetch"].startswith("tts_nb-download")
    finally:
        scheduler.shutdown()


def test_a_stalled_download_never_holds_up_a_poll():
    scheduler = Scheduler(max_workers=1, download_workers=1)
    release = threading.Event()
    polled = threading.Event()
    try:
        scheduler.call_soon(lambda: release.wait(10), download=True)
        scheduler.call_soon(polled.set)
        assert polled.wait(5)
    finally:
        release.set()
        scheduler.shutdown()


def test_a_later_call_waits_for_its_time_and_an_earlier_one_jumps_ahead():
    scheduler = Scheduler(max_workers=1, download_workers=1)
    order = []
    try:
        now = scheduler.clock.now()
        scheduler.call_at(now + 0.4, lambda: order.append("late"))
        scheduler.call_at(now + 0.1, lambda: order.append("early"))
        wait_until(lambda: len(order) == 2, "both ran")
        assert order == ["early", "late"]
        assert scheduler.clock.now() - now >= 0.4
    finally:
        scheduler.shutdown()


def test_a_given_executor_takes_both_kinds_of_work():
    pool = ThreadPoolExecutor(1, thread_name_prefix="mine")
    scheduler = Scheduler(executor=pool)
    names = []
    try:
        assert scheduler.executor is pool and scheduler.downloads is pool
        scheduler.call_soon(lambda: names.append(threading.current_thread().name), download=True)
        wait_until(lambda: names, "the download ran")
        assert names[0].startswith("mine")
    finally:
        scheduler.shutdown()
    assert pool._shutdown


def test_after_shutdown_nothing_more_is_accepted_and_waiting_calls_are_dropped():
    scheduler = Scheduler(max_workers=1, download_workers=1)
    ran = []
    scheduler.call_at(scheduler.clock.now() + 0.2, lambda: ran.append(1))
    scheduler.shutdown()
    assert scheduler.pending() == 0
    with pytest.raises(RuntimeError) as caught:
        scheduler.call_soon(lambda: ran.append(2))
    assert str(caught.value) == "the scheduler was shut down"
    assert ran == []
    assert scheduler.executor._shutdown and scheduler.downloads._shutdown


def test_there_is_one_default_scheduler_per_process(monkeypatch):
    monkeypatch.setattr(runtime_module, "_current", runtime_module.Runtime())
    first = scheduler_module.default_scheduler()
    try:
        assert scheduler_module.default_scheduler() is first
        assert not first.virtual
    finally:
        first.shutdown()


# ------------------------------------------------------------------ the words users read
ADVICE = (
    "The submit request may have reached acme, but no usable answer came back, so tts_nb "
    "does not know the job's id and did NOT send it again (a second submit could be charged "
    "twice). Check the provider's dashboard; to submit again deliberately, run the request "
    "again with force=True."
)


def test_an_unconfirmed_submit_gives_the_whole_advice():
    job, _ = run([answer(200, b"not json")])
    with pytest.raises(tn.ProviderError) as caught:
        job.wait(0)
    assert caught.value.message == (
        "acme: expected JSON from POST http://api.test/v1/jobs, got 'not json' (audio/wav). "
        + ADVICE
    )
    assert caught.value.provider == "acme"


def test_a_crash_message_names_the_exception_and_cuts_its_text():
    class Long(Operation):
        def poll(self, call, ids):
            raise RuntimeError("x" * 600)

    job, _ = run([SUBMITTED], operation=Long())
    with pytest.raises(tn.TTSError) as caught:
        job.wait(0)
    assert caught.value.message == (
        "acme: unexpected problem while handling the answer: RuntimeError: "
        + "x" * 500
        + ". Please report it."
    )
    assert caught.value.provider == "acme"


def test_a_crash_whose_text_cannot_be_read_still_ends_the_job():
    class Unprintable(Exception):
        def __str__(self):
            raise ValueError("no text")

    class Broken(Operation):
        def poll(self, call, ids):
            raise Unprintable()

    job, _ = run([SUBMITTED], operation=Broken())
    assert job.state is State.FAILED
    with pytest.raises(tn.TTSError) as caught:
        job.wait(0)
    assert caught.value.message == (
        "acme: unexpected problem while handling the answer: Unprintable: (no description). "
        "Please report it."
    )


def test_ctrl_c_in_a_step_ends_the_job_and_propagates():
    class Interrupted(Operation):
        def poll(self, call, ids):
            raise KeyboardInterrupt

    job, scheduler, _ = make_job([SUBMITTED], operation=Interrupted())
    with pytest.raises(KeyboardInterrupt):
        scheduler.run_virtual()
    with pytest.raises(tn.TTSError) as caught:
        job.wait(0)
    assert caught.value.message == "acme: interrupted (KeyboardInterrupt) during this step."


def test_a_cancelled_job_says_it_has_no_result():
    job, scheduler, _ = make_job([SUBMITTED, RUNNING])
    scheduler.run_virtual(until=1006)
    job.cancel()
    with pytest.raises(tn.TTSError) as caught:
        job.wait(0)
    assert caught.value.message == (
        f"acme job {job.id} was cancelled, so it has no result; job.history shows what "
        "reached the provider."
    )
    assert caught.value.provider == "acme"


def test_a_short_wait_says_the_job_goes_on():
    job, scheduler, _ = make_job([SUBMITTED, RUNNING])
    scheduler.run_virtual(until=1006)
    with pytest.raises(tn.JobTimeout) as caught:
        job.wait(0.01)
    assert caught.value.message == (
        f"acme job {job.id} is still RUNNING after waiting 0.01 s. It goes on in the "
        "background: call wait() again, or look at job.state and job.history."
    )
    assert caught.value.provider == "acme"


def test_a_cancel_while_the_submit_is_on_the_wire_says_the_ids_will_be_kept():
    class Refused(Operation):
        tries = 0

        def submit(self, call):
            self.tries += 1
            if self.tries == 2:  # the first was refused (a history row): now it is sent again
                job.cancel()
            return super().submit(call)

    refused = answer(429, {"error": "busy"}, {"Retry-After": "2"})
    answers = [refused, answer(500, {"error": "no"})]
    job, scheduler, _ = make_job(answers, operation=Refused(), start=False)
    job.start()
    scheduler.run_virtual()
    said = (
        "cancelled while the submit was on the wire: if the provider accepts it, its ids are "
        f"still recorded, and tn.resume({job.id!r}) fetches the result"
    )
    assert notes(job)[-1].endswith("; " + said)


def test_a_cancel_during_the_very_first_submit_is_noted_on_its_row():
    class Cancelled(Operation):
        def submit(self, call):
            job.cancel()  # before the first answer, so before the job has any history row
            return super().submit(call)

    job, scheduler, _ = make_job([SUBMITTED], operation=Cancelled(), start=False)
    job.start()
    scheduler.run_virtual()
    first = job.history_full.iloc[0]
    assert first.step == "submit" and "cancelled while the submit was on the wire" in first.note
    assert job.provider_ids == {"id": "j1"}


def test_a_remote_cancel_that_crashes_is_noted_by_its_type_and_sent_as_a_cancel_step(caplog):
    class Crashing(Operation):
        def cancel(self, call, ids):
            call.request("DELETE", f"jobs/{ids['id']}")
            raise RuntimeError("parser bug")

    job, scheduler, script = make_job([SUBMITTED, RUNNING, answer(204, b"")], operation=Crashing())
    scheduler.run_virtual(until=1006)
    job.cancel()
    scheduler.run_virtual()
    assert job.rows[-1]["step"] == "cancel" and script.log[-1][1] == "DELETE"
    assert notes(job)[-1] == "acme was not told to delete the job: RuntimeError"
    logged = [r.getMessage() for r in caplog.records if r.name == "tts_nb"]
    assert f"tts_nb: cancelling job {job.id} at the provider failed" in logged


def test_the_give_up_message_in_full_without_a_status():
    class Silent(Operation):
        def observe(self, data):
            seen = super().observe(data)
            return Observation(seen.state, ids=seen.ids)

    job, _ = run([SUBMITTED, RUNNING, RUNNING], operation=Silent(), timeout=8)
    with pytest.raises(tn.JobTimeout) as caught:
        job.wait(0)
    assert caught.value.message == (
        f"acme job {job.id} still not finished after 8 s and 2 polls: the deadline of 8 s "
        "passed, so polling stopped. The job may still finish on the provider's side; to wait "
        "longer pass a policy with a larger timeout, e.g. policy=tn.Fixed(5, timeout=1800). "
        "Shorter texts finish sooner."
    )
    assert caught.value.provider == "acme"


def test_a_retry_after_that_ends_at_the_deadline_is_the_deadline_passing():
    # asked at 5 s to wait 5 s more with a 10 s deadline: the last look is at the deadline
    job, script = run(
        [SUBMITTED, answer(429, {"error": "later"}, {"Retry-After": "5"}), RUNNING], timeout=10
    )
    assert times(script, "GET") == [5, 10]
    with pytest.raises(tn.JobTimeout, match="the deadline of 10 s passed"):
        job.wait(0)


def test_an_expired_result_uses_the_stored_copy_when_there_is_one():
    job, scheduler, _ = make_job(
        [SUBMITTED, answer(200, {"id": "j1", "status": "expired"})], start=False
    )
    job.recover = lambda: ("stored audio", "job abc")
    job.start()
    scheduler.run_virtual()
    assert job.state is State.EXPIRED and job.wait(0) == "stored audio"
    assert notes(job)[-1] == (
        "the provider's copy has expired; the stored copy of job abc is used (no request was "
        "charged)"
    )


@pytest.mark.parametrize("recover", [lambda: None, lambda: 1 / 0])
def test_an_expired_result_with_no_stored_copy_says_so(recover):
    job, scheduler, _ = make_job(
        [SUBMITTED, answer(200, {"id": "j1", "status": "expired", "message": "Gone."})],
        start=False,
    )
    job.recover = recover
    job.start()
    scheduler.run_virtual()
    assert job.state is State.EXPIRED
    with pytest.raises(tn.ExpiredResult) as caught:
        job.wait(0)
    assert caught.value.message == "Gone. tts_nb's ledger holds no copy of this result either."


def test_a_broken_ledger_lookup_is_logged_and_the_provider_error_stands(caplog):
    job, scheduler, _ = make_job(
        [SUBMITTED, answer(200, {"id": "j1", "status": "expired", "message": "Gone."})],
        start=False,
    )
    job.recover = lambda: 1 / 0
    job.start()
    scheduler.run_virtual()
    assert job.state is State.EXPIRED and isinstance(job.error, tn.ExpiredResult)
    logged = [r.getMessage() for r in caplog.records if r.name == "tts_nb"]
    assert f"tts_nb: looking for a stored copy of job {job.id} failed" in logged


def test_an_expired_result_without_a_ledger_keeps_the_providers_words():
    job, _ = run([SUBMITTED, answer(200, {"id": "j1", "status": "expired", "message": "Gone."})])
    with pytest.raises(tn.ExpiredResult) as caught:
        job.wait(0)
    assert caught.value.message == "Gone."


def test_a_failure_is_not_rescued_by_a_stored_copy():
    job, scheduler, _ = make_job([SUBMITTED, answer(200, {"id": "j1", "status": "failed"})])
    job.recover = lambda: ("stored audio", "job abc")
    scheduler.run_virtual()
    assert job.state is State.FAILED
    assert "ledger holds no copy" not in job.error.message


@pytest.mark.parametrize("limit, posts", [(8, [0, 5]), (10, [0, 5, 10])])
def test_a_refused_submit_is_resent_only_within_the_retry_timeout(limit, posts):
    refused = answer(429, {"error": "busy"}, {"Retry-After": "5"})
    job, script = run([refused, refused, refused], retry=tn.Retry(timeout=limit))
    assert times(script, "POST") == posts
    assert job.state is State.FAILED


# ------------------------------------------------------------------ finished without sending
def test_a_job_restored_as_succeeded_hands_back_its_result_and_rows():
    job, _, script = make_job([], start=False)
    rows = [{"job": "old", "n": 1, "step": "submit", "note": "from the ledger"}]
    job.restore_finished(State.SUCCEEDED, result="stored audio", rows=rows)
    assert job.state is State.SUCCEEDED and job.wait(0) == "stored audio"
    assert [r["note"] for r in job.rows] == ["from the ledger"] and script.log == []


def test_a_job_restored_as_expired_with_a_copy_keeps_its_state():
    job, _, _ = make_job([], start=False)
    job.restore_finished(State.EXPIRED, result="stored audio")
    assert job.state is State.EXPIRED and job.wait(0) == "stored audio"


def test_a_job_restored_as_failed_raises_its_error_or_a_plain_failure():
    job, _, _ = make_job([], start=False)
    job.restore_finished(State.NOT_FOUND, error=tn.NotFound("gone", provider="acme"))
    assert job.state is State.NOT_FOUND
    with pytest.raises(tn.NotFound, match="gone"):
        job.wait(0)
    plain, _, _ = make_job([], start=False)
    plain.restore_finished(State.FAILED, result="ignored")
    assert plain.state is State.FAILED and plain.clip is None
    with pytest.raises(tn.TTSError) as caught:
        plain.wait(0)
    assert caught.value.message == "failed" and caught.value.provider == "acme"


def test_a_job_restored_as_cancelled_is_cancelled_with_its_error():
    job, _, _ = make_job([], start=False)
    error = tn.TTSError("stopped", provider="acme")
    job.restore_finished(State.CANCELLED, error=error)
    assert job.state is State.CANCELLED and job.cancelled() and job.error is error


def test_a_job_cannot_be_pickled_and_says_what_to_keep_instead():
    import pickle

    job, _, _ = make_job([], start=False)
    with pytest.raises(TypeError) as caught:
        pickle.dumps(job)
    assert str(caught.value) == "a Job is bound to live threads and cannot be pickled; use job.rows"


def test_a_virtual_scheduler_runs_submitted_work_at_once_with_its_arguments():
    scheduler = Scheduler(tn.VirtualClock())
    got = []
    scheduler.executor.submit(lambda *a, **k: got.append((a, k)), 1, 2, key="v")
    assert got == [((1, 2), {"key": "v"})]


def test_a_resumed_job_polls_from_its_ids_with_a_resume_row_and_sends_no_submit():
    model = IntervalModel()
    job, scheduler, script = make_job([DONE, AUDIO], start=False, model=model)
    earlier = [{"job": "old", "n": 1, "step": "submit", "note": "before the restart"}]
    job.resume({"id": "j1"}, earlier, "resumed after a restart")
    assert job.running()
    scheduler.run_virtual()
    assert [m for _, m, _ in script.log] == ["GET", "GET"]
    rows = job.rows
    assert [r["step"] for r in rows] == ["submit", "resume", "poll", "fetch"]
    assert (rows[1]["state"], rows[1]["note"]) == ("RUNNING", "resumed after a restart")
    assert job.state is State.SUCCEEDED
    assert model.seen == []  # it finished while no kernel looked: when is unknown


def test_a_broken_download_is_fetched_again_after_the_minimum_interval_when_short():
    broken = answer(200, b"broken")
    job, script = run([SUBMITTED, DONE, broken, AUDIO], min_interval=0.5)
    assert job.state is State.SUCCEEDED
    assert times(script, "GET")[1:] == [5, 5.5]


# ------------------------------------------------------------------ found by later mutation runs
class CancellingProvider(Operation):
    """A provider whose own status vocabulary has a cancelled job (our adapters have none)."""

    def observe(self, data):
        if data.get("status") == "cancelled":
            return Observation(State.CANCELLED, raw_status="cancelled", ids={"id": "j1"})
        return super().observe(data)


def test_a_job_the_provider_reports_cancelled_ends_with_a_failure_naming_its_status():
    cancelled = answer(200, {"id": "j1", "status": "cancelled"})
    job, script = run([SUBMITTED, cancelled], operation=CancellingProvider())
    assert job.state is State.CANCELLED and len(script.log) == 2
    with pytest.raises(tn.JobFailed) as caught:
        job.wait(0)
    error = caught.value
    assert (error.message, error.raw_status, error.provider) == (
        "acme reported 'cancelled'.",
        "cancelled",
        "acme",
    )
    assert job.rows[-1]["note"] == "acme reported 'cancelled'."


@pytest.mark.parametrize(
    "status, error",
    [
        ("failed", tn.JobFailed),
        ("unpaid", tn.QuotaError),
        ("gone", tn.NotFound),
        ("timeout", tn.JobTimeout),
        ("expired", tn.ExpiredResult),
    ],
)
def test_a_terminal_status_error_names_the_provider(status, error):
    job, _ = run([SUBMITTED, answer(200, {"id": "j1", "status": status, "message": "said"})])
    with pytest.raises(error) as caught:
        job.wait(0)
    assert caught.value.provider == "acme" and caught.value.message == "said"


@pytest.mark.parametrize(
    "submitted_ago, first_look",
    [
        (None, 5.0),  # the submit time is unknown: the plan starts now
        (0.0, 5.0),  # submitted just now
        (-3.0, 5.0),  # a submit time ahead of this clock (another machine's) counts as now
        (0.5, 4.5),
        (3.0, 2.0),
        (7.0, 0.0),  # a look missed meanwhile happens at once
    ],
)
def test_a_resumed_job_looks_on_the_plan_counted_from_its_submit(submitted_ago, first_look):
    job, scheduler, script = make_job([DONE, AUDIO], start=False)
    if submitted_ago is not None:
        job.submit_started_at = scheduler.clock.wall() - submitted_ago
    job.resume({"id": "j1"}, [], "resumed")
    scheduler.run_virtual()
    assert times(script) == [first_look, first_look]
    assert job.state is State.SUCCEEDED


def test_a_job_displayed_in_ipython_shows_its_status_line(monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(
        IPython.display, "display", lambda *objs, **kwargs: shown.append((objs, kwargs))
    )
    job, _ = run([SUBMITTED, RUNNING, DONE, AUDIO])
    job._ipython_display_()  # what IPython calls for a job left last in a cell
    assert shown == [
        (
            ({"text/plain": f"acme speak {job.id}: SUCCEEDED (done), 2 polls, 10.0 s"},),
            {"raw": True},
        )
    ]


def test_a_zero_retry_timeout_never_sends_a_refused_submit_again():
    refused = answer(429, {"error": "busy"}, {"Retry-After": "1"})
    job, script = run([refused, SUBMITTED], retry=tn.Retry(timeout=0))
    assert times(script, "POST") == [0]
    assert job.state is State.FAILED
    with pytest.raises(tn.QuotaError):
        job.wait(0)


def real_job(scheduler, answers):
    """A job on a real clock, on `scheduler`, answered by a script."""
    transport = Transport(API, provider="acme", secrets=lambda: [KEY], retries=0)
    script = Script(scheduler.clock, answers)
    transport.session.mount("http://", script)
    job = Job(
        Operation(),
        transport=transport,
        scheduler=scheduler,
        policy=tn.Fixed(0.01),
        min_interval=0.01,
        timeout=30.0,
        request={"text": "hi"},
    )
    return job, script


def test_a_download_fetched_again_stalls_only_the_download_lane():
    scheduler = Scheduler(max_workers=1, download_workers=1)
    stalled, release = threading.Event(), threading.Event()

    def stall():
        stalled.set()
        release.wait(10)
        return AUDIO

    try:
        first, _ = real_job(scheduler, [SUBMITTED, DONE, answer(200, b"broken"), stall])
        first.start()
        assert stalled.wait(5), "the broken download was not fetched again"
        # the second fetch of `first` hangs: another job's submit and poll still go out
        other, _ = real_job(scheduler, [SUBMITTED, DONE, AUDIO])
        other.start()
        wait_until(
            lambda: (
                [(r["step"], r["raw_status"]) for r in other.rows]
                == [("submit", "queued"), ("poll", "done")]
            ),
            "the other job submitted and polled",
            timeout=3,
        )
        assert not other.done()  # its download waits for the download lane
        release.set()
        assert first.wait(5) == b"RIFF-audio" and other.wait(5) == b"RIFF-audio"
    finally:
        release.set()
        scheduler.shutdown()


def test_the_history_reads_compactly_and_the_full_history_has_every_column():
    job, _ = run([SUBMITTED, DONE, AUDIO])
    compact, full = job.history, job.history_full
    assert list(compact.columns) == [
        "time",
        "elapsed_s",
        "step",
        "http_status",
        "raw_status",
        "state",
        "next_poll_in_s",
        "note",
    ]
    assert list(compact.index) == [1, 2, 3] and compact.index.name == "n"
    assert {"job", "provider", "n", "attempt", "method", "url", "latency_s"} <= set(full.columns)
    assert str(full["time"].dt.tz) == "UTC"
    assert list(full["url"]) == [API + "jobs", API + "jobs/j1", API + "audio/j1"]


def test_a_resumed_job_relabels_its_earlier_rows_as_its_own():
    job, scheduler, _ = make_job([DONE, AUDIO], start=False)
    earlier = [
        {"job": "old", "n": 1, "step": "submit", "note": "before the restart"},
        {"job": "old", "n": 2, "step": "poll", "note": None},
    ]
    job.resume({"id": "j1"}, earlier, "resumed after a restart")
    scheduler.run_virtual()
    assert [(r["job"], r["step"]) for r in job.rows] == [
        (job.id, "submit"),
        (job.id, "poll"),
        (job.id, "resume"),
        (job.id, "poll"),
        (job.id, "fetch"),
    ]
    assert earlier[0]["job"] == "old"  # the ledger's rows are copied, not changed


def test_notes_said_before_the_first_row_all_land_on_it_in_order():
    from tts_nb.history import History

    class Owner:
        id, provider, created_at = "j-1", "acme", 100.0

    history = History(Owner(), threading.RLock(), lambda text: text.replace(KEY, "••••"))
    history.note("cancelled")
    history.note(f"accepted with {KEY}")
    assert history.rows() == []
    history.append(101.5, "submit", note="202 accepted")
    history.append(102.0, "poll")
    rows = history.rows()
    assert rows[0]["note"] == "cancelled; accepted with ••••; 202 accepted"
    assert (rows[0]["n"], rows[0]["elapsed_s"], rows[1]["note"]) == (1, 1.5, None)
    history.note("later")
    assert history.rows()[1]["note"] == "later"


def test_a_submit_answered_with_a_3xx_and_no_json_was_not_accepted_so_not_unconfirmed():
    job, script = run([answer(300, b"<html>choose</html>")])
    assert len(script.log) == 1 and job.state is State.FAILED
    assert not job.submit_unconfirmed
    with pytest.raises(tn.ProviderError) as caught:
        job.wait(0)
    assert not caught.value.maybe_sent
    assert caught.value.message.startswith("acme: expected JSON from POST")
    assert "did NOT send it again" not in caught.value.message


def test_a_submit_answered_299_is_an_acceptance_even_without_json():
    job, _ = run([answer(299, b"<html>ok</html>")])
    assert job.submit_unconfirmed
    with pytest.raises(tn.ProviderError, match="did NOT send it again"):
        job.wait(0)


def test_a_retry_after_asked_at_the_deadline_is_the_deadline_passing():
    # the last look, at the 10 s deadline, is refused with Retry-After: the deadline passed
    later = answer(429, {"error": "later"}, {"Retry-After": "2"})
    job, script = run([SUBMITTED, RUNNING, later], timeout=10)
    assert times(script, "GET") == [5, 10]
    with pytest.raises(tn.JobTimeout) as caught:
        job.wait(0)
    assert "after 10 s and 2 polls (last status 'running'): the deadline of 10 s passed" in str(
        caught.value
    )


def test_a_resumed_job_seen_running_teaches_the_interval_counted_from_its_submit():
    model = IntervalModel()
    job, scheduler, script = make_job([RUNNING, DONE, AUDIO], start=False, model=model)
    job.submit_started_at = scheduler.clock.wall() - 3  # submitted 3 s before the resume
    job.resume({"id": "j1"}, [], "resumed after a restart")
    scheduler.run_virtual()
    assert times(script) == [2, 7, 7]  # looks at 5 and 10 s after the submit
    assert model.seen == [(2, pytest.approx(5.0), pytest.approx(10.0))]


@pytest.mark.parametrize("download", [False, True])
def test_shutdown_waits_for_the_work_already_running(download):
    scheduler = Scheduler(max_workers=1, download_workers=1)
    started, go, finished = threading.Event(), threading.Event(), threading.Event()

    def work():
        started.set()
        go.wait(10)
        finished.set()

    scheduler.call_soon(work, download=download)
    assert started.wait(5)
    threading.Timer(0.3, go.set).start()
    try:
        scheduler.shutdown()
        assert finished.is_set()  # shutdown() returned only after the running call ended
    finally:
        go.set()


def test_a_crash_is_logged_as_an_error_naming_the_job_and_the_exception(caplog):
    job, _ = run([SUBMITTED, answer(200, {"crash": "x"})])
    logged = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "tts_nb"]
    assert logged == [("ERROR", f"tts_nb: job {job.id} crashed: ValueError")]


def test_ctrl_c_in_a_step_is_not_logged_as_a_crash(caplog):
    class Interrupted(Operation):
        def poll(self, call, ids):
            raise KeyboardInterrupt

    _, scheduler, _ = make_job([SUBMITTED], operation=Interrupted())
    with pytest.raises(KeyboardInterrupt):
        scheduler.run_virtual()
    assert [r for r in caplog.records if r.name == "tts_nb"] == []


def test_a_job_done_at_its_submit_teaches_that_it_took_at_most_the_submit():
    model = IntervalModel()
    job, scheduler, script = make_job([], start=False, model=model)
    clock = scheduler.clock

    def slow_done():  # a streaming provider answers the submit with the audio's status
        clock.advance(1.5)
        return answer(200, {"id": "j1", "status": "done"})

    script.answers = [slow_done, AUDIO]
    job.start()
    scheduler.run_virtual()
    assert job.state is State.SUCCEEDED and times(script) == [0, 1.5]
    assert model.seen == [(2, pytest.approx(0.0), pytest.approx(1.5))]


class InlineExecutor(Executor):
    """A user's executor that runs work in the thread that hands it over (the scheduler's)."""

    def __init__(self) -> None:
        self.shut_down = False

    def submit(self, fn, /, *args, **kwargs):
        fn(*args, **kwargs)

    def shutdown(self, wait=True, *, cancel_futures=False):
        self.shut_down = True


def test_shutdown_waits_until_the_scheduler_thread_has_stopped():
    scheduler = Scheduler(executor=InlineExecutor())
    ran_on, started, go = [], threading.Event(), threading.Event()

    def work():
        ran_on.append(threading.current_thread())
        started.set()
        go.wait(10)

    scheduler.call_soon(work)
    assert started.wait(5)
    threading.Timer(0.3, go.set).start()
    try:
        scheduler.shutdown()
        assert ran_on[0].name == "tts_nb-scheduler" and not ran_on[0].is_alive()
    finally:
        go.set()


def test_a_call_can_shut_down_its_own_scheduler():
    pool = InlineExecutor()
    scheduler = Scheduler(executor=pool)
    done = threading.Event()

    def stop():
        scheduler.shutdown()  # on the scheduler's own thread: it must not wait for itself
        done.set()

    scheduler.call_soon(stop)
    assert done.wait(5) and pool.shut_down
    with pytest.raises(RuntimeError, match="the scheduler was shut down"):
        scheduler.call_soon(lambda: None)


class Expected(tn.Fixed):
    """Looks first when the duration model expects the job to be done, then every 5 s."""

    def delays(self, expected=None):
        if expected is not None:
            yield expected
        yield from super().delays(expected)


class Predicting(IntervalModel):
    def predict(self, characters: int):
        return {2: 12.0}.get(characters)  # the job's text has 2 characters


def test_the_first_look_follows_the_duration_models_prediction_for_the_text():
    job, script = run([SUBMITTED, DONE, AUDIO], model=Predicting(), policy=Expected(5))
    assert times(script) == [0, 12, 12]


def test_without_a_duration_model_the_policy_plans_without_a_prediction():
    job, script = run([SUBMITTED, DONE, AUDIO], policy=Expected(5))
    assert times(script) == [0, 5, 5]


@pytest.mark.parametrize(
    "status, state, error",
    [
        (402, State.PAYMENT_REQUIRED, tn.QuotaError),
        (404, State.NOT_FOUND, tn.NotFound),
        (400, State.FAILED, tn.InvalidInput),
    ],
)
def test_a_submit_refused_with_a_verdict_ends_the_job_in_its_state(status, state, error):
    job, script = run([answer(status, {"error": "verdict"})])
    assert job.state is state and len(script.log) == 1
    with pytest.raises(error, match="verdict"):
        job.wait(0)
    assert job.rows[-1]["state"] == state.value


class Linking(Operation):
    """A provider whose final status names the audio's link and may ask for a later look."""

    def fetch(self, call, ids, seen):
        return call.request("GET", seen.payload).content

    def observe(self, data):
        seen = super().observe(data)
        return Observation(
            seen.state,
            raw_status=seen.raw_status,
            ids=seen.ids,
            retry_after=data.get("retry_after"),
            payload=data.get("link"),
        )


def test_the_fetch_follows_the_link_the_final_status_gave():
    done = answer(200, {"id": "j1", "status": "done", "link": "files/j1.wav"})
    job, script = run([SUBMITTED, done, AUDIO], operation=Linking())
    assert job.wait(0) == b"RIFF-audio"
    assert script.log[-1][1:] == ("GET", "/v1/files/j1.wav")


def test_a_running_status_that_asks_for_a_later_look_gets_it():
    later = answer(200, {"id": "j1", "status": "running", "retry_after": 12})
    done = answer(200, {"id": "j1", "status": "done", "link": "files/j1.wav"})
    job, script = run([SUBMITTED, later, done, AUDIO], operation=Linking())
    assert times(script, "GET") == [5, 17, 17] and job.state is State.SUCCEEDED
    assert job.rows[1]["next_poll_in_s"] == 12


def test_a_running_job_says_when_it_looks_next_in_wall_time():
    job, scheduler, _ = make_job([SUBMITTED, RUNNING, DONE, AUDIO])
    wall0 = scheduler.clock.wall()
    scheduler.run_virtual(until=1000)  # the submit, answered at once
    assert job.next_poll_at == wall0 + 5
    scheduler.run_virtual(until=1005)  # the first look: still running
    assert job.next_poll_at == wall0 + 10
    scheduler.run_virtual()
    assert job.next_poll_at is None


def test_the_wait_before_the_next_look_is_noted_to_the_millisecond():
    job, script = run([SUBMITTED, DONE, AUDIO], policy=tn.Fixed(1.23456))
    assert job.rows[0]["next_poll_in_s"] == 1.235
    assert times(script, "GET") == [pytest.approx(1.23456)] * 2


def test_the_scheduler_thread_never_keeps_the_process_alive():
    scheduler = Scheduler(executor=InlineExecutor())
    ran_on = []
    try:
        scheduler.call_soon(lambda: ran_on.append(threading.current_thread()))
        thread = wait_until(lambda: ran_on and ran_on[0], "the call ran")
        assert thread.name == "tts_nb-scheduler" and thread.daemon  # a script may just exit
    finally:
        scheduler.shutdown()


def test_one_scheduler_hands_out_its_calls_from_one_thread():
    scheduler = Scheduler(executor=InlineExecutor())
    ran_on, started, go = [], threading.Event(), threading.Event()

    def first():
        ran_on.append(threading.current_thread())
        started.set()
        go.wait(10)

    try:
        scheduler.call_soon(first)
        assert started.wait(5)
        scheduler.call_soon(lambda: ran_on.append(threading.current_thread()))
        threading.Timer(0.2, go.set).start()  # the second waits until the first is done
        wait_until(lambda: len(ran_on) == 2, "both calls ran")
        assert ran_on[0] is ran_on[1]
    finally:
        go.set()
        scheduler.shutdown()


def test_a_poll_answered_after_a_cancel_is_not_called_a_late_accept():
    class CancelledMidPoll(Operation):
        def poll(self, call, ids):
            seen = super().poll(call, ids)
            job.cancel()  # the user cancels while this poll is on the wire
            return seen

    job, scheduler, script = make_job([SUBMITTED, RUNNING], operation=CancelledMidPoll())
    scheduler.run_virtual()
    assert job.state is State.CANCELLED and len(script.log) == 2
    assert notes(job) == ["cancelled: polling stopped; the provider may still finish the job"]


@pytest.mark.parametrize("download, workers", [(False, 8), (True, 4)])
def test_the_default_pools_run_eight_polls_and_four_downloads_at_once(download, workers):
    scheduler = Scheduler()
    running, go = [], threading.Event()
    lock = threading.Lock()

    def work():
        with lock:
            running.append(1)
        go.wait(10)

    try:
        for _ in range(workers + 1):
            scheduler.call_soon(work, download=download)
        wait_until(lambda: len(running) >= workers, f"{workers} calls ran")
        go.wait(0.3)  # one more worker would have taken the last call by now
        assert len(running) == workers
    finally:
        go.set()
        scheduler.shutdown()
    assert len(running) == workers + 1  # the last one ran once a worker was free
