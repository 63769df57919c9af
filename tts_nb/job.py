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

from . import runtime
from .errors import (
    ExpiredResult,
    InternalError,
    JobCancelled,
    JobFailed,
    JobTimeout,
    NotFound,
    ProviderError,
    QuotaError,
    TTSError,
)
from .history import History
from .policy import DurationModel, Pacer, PollPolicy
from .runtime import all_jobs, forget  # noqa: F401  (the registry is the runtime's)
from .scheduler import Scheduler, Timer
from .state import State
from .transport import Exchange, Transport

log = logging.getLogger("tts_nb")


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

    # Optional: `cancel(call, ids) -> str` asks the provider to drop a submitted job (Aspose's
    # DELETE) and returns what it answered, in words, for the history. Without it a cancel
    # only stops polling.


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


def _crash_message(provider: str, exc: BaseException, scrub: Callable[[str], str]) -> str:
    """What a step that raised `exc` says (secrets masked before the text is cut, so no
    fragment of a key survives)."""
    if isinstance(exc, (KeyboardInterrupt, SystemExit)):
        return f"{provider}: interrupted ({type(exc).__name__}) during this step."
    try:
        detail = scrub(str(exc))[:500]
    except BaseException:  # even an exception whose str() fails must end the job
        detail = "(no description)"
    return (
        f"{provider}: unexpected problem while handling the answer: "
        f"{type(exc).__name__}: {detail}. Please report it."
    )


def _unconfirmed_advice(provider: str) -> str:
    return (
        f"The submit request may have reached {provider}, but no usable answer came "
        "back, so tts_nb does not know the job's id and did NOT send it again (a second "
        "submit could be charged twice). Check the provider's dashboard; to submit again "
        "deliberately, run the request again with force=True."
    )


class Job(concurrent.futures.Future):
    """A text-to-speech request running in the background.

    State changes happen under the job's lock; observers, then the Future's waiters and done
    callbacks, hear of each change once, after the lock is released, so an observer may read
    the job (or take its lock) freely. Observers see the final state before anyone waiting on
    the job does: once `wait()` returns, the ledger has the result on disk.

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
        self.submit_started_at: float | None = None  # a submit may be on the wire from here
        self.submit_unconfirmed = False  # sent, but no usable answer: never re-sent silently
        # The client's labels for the ledger; the engine only carries them.
        self.fingerprint: str | None = None  # identical requests share it
        self.reused_from: str | None = None  # the ledger job whose stored result this is
        # Where an expired result can still be found (the client's or the ledger's search):
        # returns (result, where it came from) or None.
        self.recover: Callable[[], tuple[Any, str] | None] | None = None
        self._op = operation
        self._transport = transport
        self._scheduler = scheduler
        self._clock = scheduler.clock
        self._duration_model = duration_model
        self._text_length = text_length
        self._lock = threading.RLock()
        self._log = History(self, self._lock, transport.scrub)
        self._observers: list[Callable[[Job], None]] = []
        self._timer: Timer | None = None
        self._pacer: Pacer | None = None
        self._t0 = self._clock.now()
        self._last_running_at: float | None = None
        self._started = False  # its submit was scheduled, or it was resumed
        self._resumed = False  # polled again from the ledger's ids (see resume)
        self._fetch_attempts = 0
        self._outcome: Any = None
        self._registered = False

    # ----------------------------------------------------------------- public
    @property
    def clip(self) -> Any:
        """The result once the job has one, else None (never blocks).

        A job has a result when it SUCCEEDED, or when it EXPIRED but a stored copy was used.
        `job.result(timeout)` is the `Future` spelling of `job.wait(timeout)`.
        """
        return self._outcome

    def running(self) -> bool:
        """True from the start (its submit scheduled, or a resume) until the job ends.

        The Future underneath stays PENDING until then, because a stdlib Future that is
        RUNNING can no longer be cancelled, and `cancel()` must work while a job polls.
        """
        with self._lock:
            return self._started and not self.state.terminal

    def result(self, timeout: float | None = None) -> Any:
        """The Future's `result`, with a cancel reported as `JobCancelled` (a `TTSError` and
        still a `concurrent.futures.CancelledError`)."""
        try:
            return super().result(timeout)
        except concurrent.futures.CancelledError:
            raise JobCancelled(
                f"{self.provider} job {self.id} was cancelled, so it has no result; "
                "job.history shows what reached the provider.",
                provider=self.provider,
            ) from None

    def wait(self, timeout: float | None = None) -> Any:
        """Block until the job ends and return its result, or raise its error.

        Raises:
            JobTimeout: `still_running=True` when only this wait timed out (the job goes on);
                otherwise the job's own deadline passed.
            JobFailed, QuotaError, AuthError, NotFound, ExpiredResult, ...: the job's error.
            JobCancelled: the job was cancelled.
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
        """Stop polling, and ask the provider to drop the job where its API can (Aspose).

        That request goes out on a worker, not in the caller's thread; its answer is a history
        row (step "cancel"). A cancel while the submit is on the wire cannot reach the
        provider: if the submit is accepted after all, its ids are still recorded (history
        and ledger), so `tn.resume(job.id)` can fetch the result that was charged.
        """
        with self._lock:
            if self.state.terminal:
                return False
            if self._timer is not None:
                self._timer.cancel()
            self.state = State.CANCELLED
            self.finished_at = self._clock.wall()
            ids = dict(self.provider_ids)
            remote = getattr(self._op, "cancel", None) if ids else None
            self._log.note(self._cancel_note(ids, remote is not None))
        self._changed()
        super().cancel()
        self.set_running_or_notify_cancel()
        if remote is not None:
            self._send_cancel(remote, ids)
        return True

    def _cancel_note(self, ids: Mapping[str, Any], remote: bool) -> str:
        if remote:
            return f"cancelled: polling stopped; asking {self.provider} to delete the job"
        if not ids and self.submit_started_at is not None:
            return (
                "cancelled while the submit was on the wire: if the provider accepts it, its "
                f"ids are still recorded, and tn.resume({self.id!r}) fetches the result"
            )
        return "cancelled: polling stopped; the provider may still finish the job"

    def _send_cancel(self, remote: Callable[[Call, Mapping[str, Any]], str], ids) -> None:
        """Send the provider's cancel request off the caller's thread (a learner's step-by-step
        job sends it at once, in the cell, like its other steps) and note its answer."""

        def send() -> None:
            try:
                said = remote(self._call("cancel"), ids)
            except TTSError as error:
                said = f"{self.provider} was not told to delete the job: {error}"
            except Exception as exc:  # a parser bug must not be lost on a worker
                log.exception("tts_nb: cancelling job %s at the provider failed", self.id)
                said = f"{self.provider} was not told to delete the job: {type(exc).__name__}"
            self._note(said)

        if self.manual:
            send()
        else:
            self._scheduler.call_soon(send)

    @property
    def elapsed_s(self) -> float:
        """Seconds since the job was created (until it finished, once it has)."""
        end = self.finished_at if self.finished_at is not None else self._clock.wall()
        return max(0.0, end - self.created_at)

    @property
    def exchanges(self) -> list[Exchange]:
        """The HTTP exchanges of this job, oldest first (secrets masked)."""
        return self._log.exchanges

    @property
    def rows(self) -> list[dict[str, Any]]:
        """History rows as plain dicts (the DataFrame's source)."""
        return self._log.rows()

    @property
    def history(self):
        """One row per HTTP exchange, for reading: local time, step, HTTP status, the provider's
        status, the state it meant, the next poll and the note (`tables.HISTORY_VIEW`).

        `history_full` has every column (job, provider, method, URL, attempt, latency, UTC
        time), for code and CSV files.
        """
        return self._log.frame()

    @property
    def history_full(self):
        """The history with every column (`tables.HISTORY_COLUMNS`), times in UTC."""
        return self._log.frame(full=True)

    def observe(self, callback: Callable[[Job], None]) -> None:
        """Call `callback(job)` once after every change, with the job's lock released (from
        worker threads; keep it quick)."""
        with self._lock:
            self._observers.append(callback)

    def event(self, step: str, note: str, state: State | None = None) -> None:
        """Add a history row that is not an HTTP exchange: queued, resumed, reused, rerun."""
        self._log.event(self._clock.wall(), step, note, state.value if state else None)
        self._changed()

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

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict[str, Any]:
        """In Jupyter: the live view (`tts_nb.widgets.JobView`) with a static HTML copy beside
        it (what a saved notebook shows without its widgets); as text: the status line."""
        from .widgets.view import job_mimebundle

        return job_mimebundle(self)

    def _ipython_display_(self) -> None:
        """Show the view under a display id, so it can be replaced by its final static copy
        once the job ends (`tts_nb.widgets.view.show`)."""
        from .widgets.view import show

        show(self)

    # -------------------------------------------------- step by step (teaching)
    @property
    def manual(self) -> bool:
        """True for a step-by-step job (`tn.teach.steps`): nothing happens until `step()`."""
        return getattr(self._scheduler, "manual", False)

    def step(self):
        """Run this job's next step now: `tts_nb.teaching.Stepper(job).step()`."""
        from .teaching import Stepper

        return Stepper(self).step()

    def take_pending(self) -> Timer | None:
        """Remove and return the call scheduled next, for a driver that runs it itself (the
        teaching `Stepper`, whose `ManualScheduler` only hands calls back)."""
        with self._lock:
            timer, self._timer = self._timer, None
        return timer

    # ------------------------------------------------- starting and rebuilding
    def start(self) -> Job:
        """Register the job and schedule its submit (called by clients)."""
        self._register()
        with self._lock:
            if self.state.terminal:  # cancelled while it waited for a slot
                return self
            self._started = True
            self._timer = self._scheduler.call_soon(self._guarded(self._submit_step))
        return self

    def _register(self) -> None:
        """List the job in `all_jobs()` (once), e.g. while it waits for a concurrency slot."""
        if not self._registered:  # once: a job the registry let go of stays gone
            self._registered = runtime.register(self)

    def resume(self, ids: Mapping[str, Any], rows: list[dict[str, Any]], note: str) -> Job:
        """Continue polling a job submitted earlier (e.g. by a kernel that has restarted).

        The provider ids are all it needs: nothing is submitted again. The earlier history
        rows are kept. Its looks follow the plan counted from its submit
        (`submit_started_at`, when known), so a look missed while no kernel was polling
        happens at once, and a job resumed early is not looked at before its time; the
        deadline counts from now.
        """
        self._register()
        with self._lock:
            self.provider_ids.update(ids)
            self.state = State.RUNNING
            self._log.replace(rows)
            self._resumed = self._started = True
        self.event("resume", note, State.RUNNING)
        since = self.submit_started_at
        self._make_pacer(0.0 if since is None else max(0.0, self._clock.wall() - since))
        self._schedule_poll()
        return self

    def restore_finished(
        self,
        state: State,
        *,
        result: Any = None,
        error: TTSError | None = None,
        rows: list[dict[str, Any]] | None = None,
    ) -> Job:
        """End this job with an outcome known without sending anything: the stored result of
        an identical request (the client's reuse), or the finished job a ledger recorded (so
        `tn.resume()` hands back earlier kernels' jobs as `Job` objects). `result` for a
        success (or an expired job with a stored copy), else `error`; `rows` replace the
        history when given."""
        if rows is not None:
            self._log.replace(rows)
        self._register()
        if result is not None and state in (State.SUCCEEDED, State.EXPIRED):
            self._finish_success(result, state)
        elif state is State.CANCELLED:
            with self._lock:
                self.state = State.CANCELLED
                self.error = error
            super().cancel()
            self.set_running_or_notify_cancel()
        else:
            self._finish_error(error or TTSError("failed", provider=self.provider), state)
        return self

    def continuation_token(self) -> str:
        """This job as a string another process can resume (`tn.resume(token)`), like
        azure-core's `continuation_token()`: provider, API, kind, endpoint, provider ids and
        the request, never a key (`tts_nb.tokens`). Taken once the job has its provider ids,
        it lets a new kernel, a worker or another machine poll on without submitting again."""
        from .tokens import make

        with self._lock:
            token = make(
                getattr(self._transport, "scrub", str),
                provider=self.provider,
                api=getattr(self._op, "api", None),
                kind=self.kind,
                endpoint=getattr(self._transport, "base_url", ""),
                job=self.id,
                created_at=self.created_at,
                ids=dict(self.provider_ids),
                request=self.request,
                body=getattr(self._op, "body", None),
                submitted_at=self.submit_started_at,
            )
        return token.encode()

    # ----------------------------------------------------------------- engine
    def _guarded(self, step: Callable[[], None]) -> Callable[[], None]:
        """A step that can never kill a worker: any surprise ends the job with a clear error.

        Ctrl-C and `sys.exit()` (a learner's `job.step()` runs in the kernel's own thread)
        end the job too, then propagate: swallowing them would leave the cell unstoppable.
        """

        def run() -> None:
            try:
                step()
            except BaseException as exc:  # a parser bug or a broken answer we did not foresee
                self._finish_error(self._crash_error(exc), State.FAILED)
                if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                    raise

        return run

    def _crash_error(self, exc: BaseException) -> InternalError:
        """The error a step that raised `exc` ends the job with."""
        if not isinstance(exc, (KeyboardInterrupt, SystemExit)):
            log.error("tts_nb: job %s crashed: %s", self.id, type(exc).__name__)
        message = _crash_message(self.provider, exc, self._transport.scrub)
        if self.submit_started_at is not None and not self.provider_ids:
            self.submit_unconfirmed = True
            message += f" {_unconfirmed_advice(self.provider)}"
        return InternalError(message, provider=self.provider)

    def _call(self, step: str) -> Call:
        return Call(self._transport, self._record, step)

    def _submit_step(self) -> None:
        if self.state.terminal:
            return
        if self._pacer is None:
            self._make_pacer()
        if self.submit_started_at is None:
            with self._lock:
                self.submit_started_at = self._clock.wall()
            self._changed()  # the ledger notes "a submit may be on the wire" before it is
        try:
            seen = self._op.submit(self._call("submit"))
        except TTSError as error:
            if self._resubmit_allowed(error):
                return
            answered = self._log.submit_answered()
            if isinstance(error, ProviderError) and (error.maybe_sent or answered):
                self.submit_unconfirmed = True
                error = ProviderError(
                    f"{error} {_unconfirmed_advice(self.provider)}",
                    provider=self.provider,
                    maybe_sent=True,
                )
            self._finish_error(error, state_for_error(error))
            return
        self._observe(seen)
        self._continue(seen)

    def _make_pacer(self, elapsed: float = 0.0) -> None:
        """Plan the looks of a job submitted `elapsed` seconds ago (0: now). The deadline
        counts from now either way: a resumed job gets its full time again."""
        now = self._clock.now()
        self._t0 = now - elapsed
        expected = None
        if self._duration_model is not None:
            expected = self._duration_model.predict(self._text_length)
        self._pacer = Pacer(
            self.policy,
            min_interval=self.min_interval,
            deadline=now + self.timeout,
            expected=expected,
            elapsed=elapsed,
        )

    def _resubmit_allowed(self, error: TTSError) -> bool:
        """429, or 503 with Retry-After, on submit means "not accepted, come back later":
        sending again then costs nothing. It goes again as the server asks, within the job's
        deadline and the client's `retry.timeout` (counted from the submit), not `attempts`:
        nothing failed."""
        if error.status_code not in (429, 503) or error.retry_after is None:
            return False  # no hint that it was refused and when to come back: let the user decide
        retry = self._transport.retry
        if not retry.retryable(error):
            return False
        wait = max(error.retry_after, self.min_interval)
        now = self._clock.now()
        if now + wait > self._pacer.deadline:
            return False
        if retry.timeout is not None and now + wait - self._t0 > retry.timeout:
            return False
        self._note(
            f"not accepted ({error.status_code}); submitting again in {wait:g} s, nothing was "
            "charged"
        )
        self._timer = self._scheduler.call_at(now + wait, self._guarded(self._submit_step))
        return True

    def _poll_step(self) -> None:
        if self.state.terminal:
            return
        self.polls += 1
        try:
            seen = self._op.poll(self._call("poll"), self.provider_ids)
        except TTSError as error:
            # Worth polling again: a server hiccup or a rate limit, not a verdict on the job.
            if self._transport.retry.retryable(error):
                self._note(f"transient: {error} — polling again")
                self._schedule_poll(retry_after=error.retry_after)
                return
            self._finish_error(error, state_for_error(error))
            return
        self._observe(seen)
        self._continue(seen)

    def _continue(self, seen: Observation) -> None:
        if seen.state is State.SUCCEEDED:
            # Downloads run in a lane of their own, so a stalled one never holds up other
            # jobs' polls; a learner's job downloads in a cell of its own.
            self._timer = self._scheduler.call_soon(
                self._guarded(lambda: self._fetch_step(seen)), download=True
            )
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
            if when is not None:
                self.next_poll_at = self._clock.wall() + (when - now)
                self._log.annotate(next_poll_in_s=round(when - now, 3))
                self._timer = self._scheduler.call_at(when, self._guarded(self._poll_step))
        if when is None:
            self._give_up(retry_after)  # after the lock: ending notifies and wakes waiters
        else:
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
            # A broken download is fetched again too (BadAudio is retryable): GETs are free,
            # and CDNs hiccup. Paced like polls: min_interval, and Retry-After wins.
            retry = self._transport.retry
            if retry.retryable(error) and self._fetch_attempts < retry.attempts:
                self._note(f"transient: {error} — fetching again")
                when = self._clock.now() + max(self.min_interval, error.retry_after or 0.0)
                self._timer = self._scheduler.call_at(
                    when, self._guarded(lambda: self._fetch_step(seen)), download=True
                )
                return
            self._finish_error(error, state_for_error(error))
            return
        self._learn_duration()
        self._finish_success(result)

    def _learn_duration(self) -> None:
        """Feed the provider's duration model: the job ended between the last two looks
        (the model fits that interval; its middle would bias it)."""
        if self._duration_model is None or (self._resumed and self._last_running_at is None):
            return  # it finished while no kernel looked: when is unknown
        now = self._clock.now()
        before = self._last_running_at if self._last_running_at is not None else self._t0
        self._duration_model.observe_interval(self._text_length, before - self._t0, now - self._t0)

    # ------------------------------------------------------------- recording
    def _record(self, exchange: Exchange) -> None:
        self._log.record(exchange)
        self._changed()

    def _note(self, text: str) -> None:
        self._log.note(text)
        self._changed()

    def _observe(self, seen: Observation) -> None:
        raw_status = self._log.scrub(seen.raw_status)
        with self._lock:
            late = self.state is State.CANCELLED and bool(seen.ids) and not self.provider_ids
            self.provider_ids.update(seen.ids)
            self.raw_status = raw_status
            if not self.state.terminal and not seen.state.terminal:
                self.state = seen.state
            self._log.annotate(raw_status=raw_status, state=seen.state.value)
            # A failure's message becomes the error's (noted once, at the end); a success's
            # (e.g. Typecast v1's X-Audio-Duration) belongs to the row that brought it.
            if seen.message and (not seen.state.terminal or seen.state is State.SUCCEEDED):
                self._log.note(seen.message)
            if late:
                self._log.note(
                    f"the submit was accepted after the cancel (ids {sorted(seen.ids)} kept): "
                    f"the result is probably charged; tn.resume({self.id!r}) fetches it"
                )
        self._changed()

    def _end(self, state: State) -> None:
        """The job's last change of state (hold the lock)."""
        self.state = state
        self.finished_at = self._clock.wall()
        self.next_poll_at = None
        self._log.annotate(state=state.value)

    def _finish_success(
        self, result: Any, state: State = State.SUCCEEDED, note: str | None = None
    ) -> None:
        with self._lock:
            if self.state.terminal:
                return
            self._end(state)
            self._outcome = result
            if note:
                self._log.note(note)
        self._changed()
        self.set_result(result)

    def _finish_error(self, error: TTSError, state: State) -> None:
        if state is State.EXPIRED and self._recover_expired():
            return
        error.message = self._log.scrub(error.message)
        error.args = (error.message,)  # repr() and tracebacks show args, not str()
        if isinstance(error, JobFailed):
            error.raw_status = self._log.scrub(error.raw_status)
        with self._lock:
            if self.state.terminal:
                return
            if state is State.EXPIRED and self.recover is not None:
                # the provider's message already says how to get it back (and what it costs)
                error.message += " tts_nb's ledger holds no copy of this result either."
            error.job = self
            self.error = error
            self._end(state)
            self._log.note(str(error))
        self._changed()
        self.set_exception(error)

    def _recover_expired(self) -> bool:
        """An expired result that the ledger still holds: use the stored copy (state EXPIRED)."""
        if self.recover is None:
            return False
        try:
            found = self.recover()
        except Exception:  # a broken ledger must not hide the real outcome
            log.exception("tts_nb: looking for a stored copy of job %s failed", self.id)
            return False
        if found is None:
            return False
        result, source = found
        self._finish_success(
            result,
            State.EXPIRED,
            note=f"the provider's copy has expired; the stored copy of {source} is used "
            "(no request was charged)",
        )
        return True

    def _changed(self) -> None:
        """Tell the observers (call with the lock released: they may read the job)."""
        for callback in list(self._observers):
            try:
                callback(self)
            except Exception:  # an observer (a widget) must never break the job
                log.exception("tts_nb: job observer failed")

    def __getstate__(self):
        raise TypeError("a Job is bound to live threads and cannot be pickled; use job.rows")
