"""`Job`: one request's life, submit → poll → fetch, driven by the scheduler.

A job is a `concurrent.futures.Future` (done callbacks, `concurrent.futures.wait`,
`as_completed`), like google-api-core's polling future. Its provider-specific half is an
`Operation` that translates the protocol and nothing else; the job owns time: it asks its
`Pacer` when to look again, and records one history row per HTTP exchange.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from .errors import (
    BadAudio,
    ExpiredResult,
    JobFailed,
    JobTimeout,
    NotFound,
    ProviderError,
    QuotaError,
    TTSError,
)
from .policy import DurationModel, Pacer, PollPolicy
from .scheduler import Scheduler, Timer
from .state import State
from .transport import Exchange, Transport

log = logging.getLogger("tts_nb")

FETCH_ATTEMPTS = 3


@dataclass(frozen=True)
class Observation:
    """What one answer from the provider told us.

    Attributes:
        state: the canonical state the provider's status maps to.
        raw_status: the provider's own status string, always kept.
        ids: provider ids learned from this answer (task_id, run_id, poll URL…).
        message: the provider's detail, or our advice for this state.
        retry_after: seconds the server asked us to wait before the next request.
        payload: anything the fetch step needs from this answer (e.g. inline audio).
    """

    state: State
    raw_status: str | None = None
    ids: Mapping[str, Any] = field(default_factory=dict)
    message: str | None = None
    retry_after: float | None = None
    payload: Any = None


class Call:
    """A provider's handle on the transport for one step of one job (records its exchanges)."""

    def __init__(self, transport: Transport, recorder: Callable[[Exchange], None], step: str):
        self.transport = transport
        self.step = step
        self._recorder = recorder

    def request(self, method: str, url: str, **kwargs):
        return self.transport.request(
            method, url, step=self.step, recorder=self._recorder, **kwargs
        )

    def request_json(self, method: str, url: str, **kwargs):
        """Send a request and return its JSON body (ProviderError when it is not JSON)."""
        return self.transport.json_of(self.request(method, url, **kwargs))


class Operation(Protocol):
    """The protocol half of a job. No sleeping, no threads: one method per step."""

    provider: str
    kind: str

    def submit(self, call: Call) -> Observation: ...

    def poll(self, call: Call, ids: Mapping[str, Any]) -> Observation: ...

    def fetch(self, call: Call, ids: Mapping[str, Any], seen: Observation) -> Any: ...


_STATE_ERRORS: dict[State, type[TTSError]] = {
    State.FAILED: JobFailed,
    State.TIMED_OUT: JobTimeout,
    State.PAYMENT_REQUIRED: QuotaError,
    State.NOT_FOUND: NotFound,
    State.EXPIRED: ExpiredResult,
}


def state_for_error(error: TTSError) -> State:
    """The terminal state a job ends in when `error` stops it."""
    if isinstance(error, ExpiredResult):
        return State.EXPIRED
    if isinstance(error, NotFound):
        return State.NOT_FOUND
    if isinstance(error, JobTimeout):
        return State.TIMED_OUT
    if isinstance(error, QuotaError) and error.status_code in (None, 402):
        return State.PAYMENT_REQUIRED
    return State.FAILED


def _is_transient(error: TTSError) -> bool:
    """Worth polling again: a server hiccup or a rate limit, not a verdict on the job."""
    if isinstance(error, BadAudio):
        return False
    if isinstance(error, QuotaError):
        return error.status_code == 429
    return isinstance(error, ProviderError)


_registry: list[Job] = []
_registry_lock = threading.Lock()


def all_jobs() -> list[Job]:
    """Every job started in this process, oldest first."""
    with _registry_lock:
        return list(_registry)


class Job(concurrent.futures.Future):
    """A text-to-speech request running in the background.

    Example:
        >>> job = tc.speak("Hello", actor_id="…")   # returns at once
        >>> clip = job.wait(timeout=60)             # blocks only when asked
        >>> job.history                             # one row per HTTP exchange
    """

    def __init__(
        self,
        operation: Operation,
        *,
        transport: Transport,
        scheduler: Scheduler,
        policy: PollPolicy,
        min_interval: float,
        timeout: float,
        request: Mapping[str, Any],
        duration_model: DurationModel | None = None,
        text_length: int = 0,
    ) -> None:
        super().__init__()
        self.id = uuid.uuid4().hex[:12]
        self.provider = operation.provider
        self.kind = operation.kind
        self.request = dict(request)
        self.policy = policy
        self.min_interval = min_interval
        self.timeout = timeout
        self.provider_ids: dict[str, Any] = {}
        self.state = State.PENDING
        self.raw_status: str | None = None
        self.polls = 0
        self.error: TTSError | None = None
        self.created_at = scheduler.clock.wall()
        self.finished_at: float | None = None
        self.next_poll_at: float | None = None
        self.exchanges: list[Exchange] = []
        self._rows: list[dict[str, Any]] = []
        self._op = operation
        self._transport = transport
        self._scheduler = scheduler
        self._clock = scheduler.clock
        self._duration_model = duration_model
        self._text_length = text_length
        self._lock = threading.RLock()
        self._observers: list[Callable[[Job], None]] = []
        self._timer: Timer | None = None
        self._pacer: Pacer | None = None
        self._t0 = self._clock.now()
        self._last_running_at: float | None = None
        self._fetch_attempts = 0

    # ----------------------------------------------------------------- public
    @property
    def clip(self) -> Any:
        """The result once the job succeeded, else None (never blocks).

        `job.result(timeout)` is the `Future` spelling of `job.wait(timeout)`.
        """
        if self.state is State.SUCCEEDED:
            return super().result(0)
        return None

    def wait(self, timeout: float | None = None) -> Any:
        """Block until the job ends and return its result, or raise its error.

        Raises:
            JobTimeout: `still_running=True` when only this wait timed out (the job goes on);
                otherwise the job's own deadline passed.
            JobFailed, QuotaError, AuthError, NotFound, ExpiredResult, ...: the job's error.
            concurrent.futures.CancelledError: the job was cancelled.
        """
        try:
            return self.result(timeout)
        except TimeoutError:
            if self.done():
                raise
            raise JobTimeout(
                f"{self.provider} job {self.id} is still {self.state.value} after waiting "
                f"{timeout:g} s. It goes on in the background: call wait() again, or look at "
                "job.state and job.history.",
                provider=self.provider,
                still_running=True,
            ) from None

    def cancel(self) -> bool:
        """Stop polling. The provider may still finish (and charge) the job; nothing is fetched."""
        with self._lock:
            if self.state.terminal:
                return False
            if self._timer is not None:
                self._timer.cancel()
            self.state = State.CANCELLED
            self.finished_at = self._clock.wall()
            self._note("cancelled: polling stopped; the provider may still finish the job")
        super().cancel()
        self.set_running_or_notify_cancel()
        self._changed()
        return True

    @property
    def elapsed_s(self) -> float:
        """Seconds since the job was created (until it finished, once it has)."""
        end = self.finished_at if self.finished_at is not None else self._clock.wall()
        return max(0.0, end - self.created_at)

    @property
    def rows(self) -> list[dict[str, Any]]:
        """History rows as plain dicts (the DataFrame's source)."""
        with self._lock:
            return [dict(row) for row in self._rows]

    @property
    def history(self):
        """A DataFrame with one row per HTTP exchange: time, step, HTTP status, raw status…"""
        from .tables import history_frame

        return history_frame(self.rows)

    def observe(self, callback: Callable[[Job], None]) -> None:
        """Call `callback(job)` after every change (from worker threads; keep it quick)."""
        with self._lock:
            self._observers.append(callback)

    def __repr__(self) -> str:
        polls = f" polls={self.polls}" if self.polls else ""
        return f"<Job {self.provider}:{self.id} [{self.state.value}]{polls} {self.elapsed_s:.1f}s>"

    def status_line(self) -> str:
        """One line of plain text: what a terminal or CI log shows."""
        raw = f" ({self.raw_status})" if self.raw_status else ""
        line = f"{self.provider} {self.kind} {self.id}: {self.state.value}{raw}, "
        line += f"{self.polls} polls, {self.elapsed_s:.1f} s"
        if self.error is not None:
            line += f" — {self.error}"
        return line

    # ----------------------------------------------------------------- engine
    def start(self) -> Job:
        """Register the job and schedule its submit (called by clients)."""
        with _registry_lock:
            _registry.append(self)
        self._timer = self._scheduler.call_soon(self._guarded(self._submit_step))
        return self

    def _guarded(self, step: Callable[[], None]) -> Callable[[], None]:
        """A step that can never kill a worker: any surprise ends the job with a clear error."""

        def run() -> None:
            try:
                step()
            except Exception as exc:  # a parser bug or a broken answer we did not foresee
                log.exception("tts_nb: job %s crashed", self.id)
                error = ProviderError(
                    f"{self.provider}: unexpected problem while handling the answer: "
                    f"{type(exc).__name__}: {self._transport.scrub(str(exc))}",
                    provider=self.provider,
                )
                self._finish_error(error, State.FAILED)

        return run

    def _call(self, step: str) -> Call:
        return Call(self._transport, self._record, step)

    def _submit_step(self) -> None:
        if self.state.terminal:
            return
        if self._pacer is None:
            self._t0 = self._clock.now()
            expected = None
            if self._duration_model is not None:
                expected = self._duration_model.predict(self._text_length)
            self._pacer = Pacer(
                self.policy,
                min_interval=self.min_interval,
                deadline=self._t0 + self.timeout,
                expected=expected,
            )
        try:
            seen = self._op.submit(self._call("submit"))
        except TTSError as error:
            if self._resubmit_allowed(error):
                return
            if isinstance(error, ProviderError) and error.maybe_sent:
                error = ProviderError(
                    f"{error} The submit request may have reached {self.provider}, but no answer "
                    "came back, so tts_nb does not know the job's id and did NOT send it again "
                    "(a second submit could be charged twice). Check the provider's dashboard; "
                    "to submit again deliberately, run the request again.",
                    provider=self.provider,
                    maybe_sent=True,
                )
            self._finish_error(error, state_for_error(error))
            return
        self._observe(seen)
        self._continue(seen)

    def _resubmit_allowed(self, error: TTSError) -> bool:
        """A 429 on submit means "not accepted": sending again later costs nothing."""
        if not (isinstance(error, QuotaError) and error.status_code == 429):
            return False
        if error.retry_after is None:  # no hint when it will be accepted: let the user decide
            return False
        wait = max(error.retry_after, self.min_interval)
        now = self._clock.now()
        if now + wait > self._pacer.deadline:
            return False
        self._note(f"not accepted (429); submitting again in {wait:g} s, nothing was charged")
        self._timer = self._scheduler.call_at(now + wait, self._guarded(self._submit_step))
        return True

    def _poll_step(self) -> None:
        if self.state.terminal:
            return
        self.polls += 1
        try:
            seen = self._op.poll(self._call("poll"), self.provider_ids)
        except TTSError as error:
            if _is_transient(error):
                self._note(f"transient: {error} — polling again")
                self._schedule_poll(retry_after=error.retry_after)
                return
            self._finish_error(error, state_for_error(error))
            return
        self._observe(seen)
        self._continue(seen)

    def _continue(self, seen: Observation) -> None:
        if seen.state is State.SUCCEEDED:
            self._fetch_step(seen)
        elif seen.state.terminal:
            error_type = _STATE_ERRORS.get(seen.state, JobFailed)
            message = seen.message or f"{self.provider} reported {seen.raw_status!r}."
            kwargs = {"raw_status": seen.raw_status} if error_type is JobFailed else {}
            self._finish_error(error_type(message, provider=self.provider, **kwargs), seen.state)
        else:
            self._last_running_at = self._clock.now()
            self._schedule_poll(retry_after=seen.retry_after)

    def _schedule_poll(self, retry_after: float | None = None) -> None:
        with self._lock:
            if self.state.terminal:
                return
            now = self._clock.now()
            when = self._pacer.next_poll(now, retry_after)
            if when is None:
                self._give_up(retry_after)
                return
            self.next_poll_at = self._clock.wall() + (when - now)
            self._annotate(next_poll_in_s=round(when - now, 3))
            self._timer = self._scheduler.call_at(when, self._guarded(self._poll_step))
        self._changed()

    def _give_up(self, retry_after: float | None) -> None:
        elapsed = self._clock.now() - self._t0
        if retry_after is not None and elapsed < self.timeout:
            why = f"the server asked to wait {retry_after:g} s, past the deadline"
        elif self.policy.max_polls is not None and self.polls >= self.policy.max_polls:
            why = f"the policy allows {self.policy.max_polls} polls"
        else:
            why = f"the deadline of {self.timeout:g} s passed"
        last = f" (last status {self.raw_status!r})" if self.raw_status else ""
        error = JobTimeout(
            f"{self.provider} job {self.id} still not finished after {elapsed:.0f} s and "
            f"{self.polls} polls{last}: {why}, so polling stopped. The job may still finish on "
            "the provider's side; to wait longer pass a policy with a larger timeout, e.g. "
            "policy=tn.Fixed(5, timeout=1800). Shorter texts finish sooner.",
            provider=self.provider,
        )
        self._finish_error(error, State.TIMED_OUT)

    def _fetch_step(self, seen: Observation) -> None:
        if self.state.terminal:
            return
        self._fetch_attempts += 1
        try:
            result = self._op.fetch(self._call("fetch"), self.provider_ids, seen)
        except TTSError as error:
            if _is_transient(error) and self._fetch_attempts < FETCH_ATTEMPTS:
                self._note(f"transient: {error} — fetching again")
                when = self._clock.now() + max(self.min_interval, error.retry_after or 0.0)
                self._timer = self._scheduler.call_at(
                    when, self._guarded(lambda: self._fetch_step(seen))
                )
                return
            self._finish_error(error, state_for_error(error))
            return
        self._learn_duration()
        self._finish_success(result)

    def _learn_duration(self) -> None:
        """Feed the provider's duration model: the job ended between the last two looks."""
        if self._duration_model is None:
            return
        now = self._clock.now()
        before = self._last_running_at if self._last_running_at is not None else self._t0
        self._duration_model.observe(self._text_length, (before + now) / 2 - self._t0)

    # ------------------------------------------------------------- recording
    def _record(self, exchange: Exchange) -> None:
        with self._lock:
            self.exchanges.append(exchange)
            self._rows.append(
                {
                    "job": self.id,
                    "provider": self.provider,
                    "n": len(self._rows) + 1,
                    "time": exchange.started,
                    "elapsed_s": round(exchange.started - self.created_at, 3),
                    "step": exchange.step,
                    "attempt": exchange.attempt,
                    "method": exchange.method,
                    "url": exchange.url,
                    "http_status": exchange.status,
                    "latency_s": exchange.latency_s,
                    "raw_status": None,
                    "state": None,
                    "next_poll_in_s": None,
                    "note": exchange.error,
                }
            )
        self._changed()

    def _annotate(self, **values: Any) -> None:
        with self._lock:
            if self._rows:
                self._rows[-1].update(values)

    def _note(self, text: str) -> None:
        with self._lock:
            if self._rows:
                row = self._rows[-1]
                row["note"] = f"{row['note']}; {text}" if row["note"] else text
        self._changed()

    def _observe(self, seen: Observation) -> None:
        with self._lock:
            self.provider_ids.update(seen.ids)
            self.raw_status = seen.raw_status
            if not self.state.terminal and not seen.state.terminal:
                self.state = seen.state
            self._annotate(raw_status=seen.raw_status, state=seen.state.value)
            if seen.message and not seen.state.terminal:
                self._note(seen.message)
        self._changed()

    def _finish_success(self, result: Any) -> None:
        with self._lock:
            if self.state.terminal:
                return
            self.state = State.SUCCEEDED
            self.finished_at = self._clock.wall()
            self.next_poll_at = None
            self._annotate(state=State.SUCCEEDED.value)
            self.set_result(result)
        self._changed()

    def _finish_error(self, error: TTSError, state: State) -> None:
        with self._lock:
            if self.state.terminal:
                return
            error.job = self
            self.error = error
            self.state = state
            self.finished_at = self._clock.wall()
            self.next_poll_at = None
            self._annotate(state=state.value)
            self._note(str(error))
            self.set_exception(error)
        self._changed()

    def _changed(self) -> None:
        for callback in list(self._observers):
            try:
                callback(self)
            except Exception:  # an observer (a widget) must never break the job
                log.exception("tts_nb: job observer failed")

    def __getstate__(self):
        raise TypeError("a Job is bound to live threads and cannot be pickled; use job.rows")
