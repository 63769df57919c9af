"""`Job`: one request's life, submit → poll → fetch, driven by the scheduler.

A job is a `concurrent.futures.Future` (done callbacks, `concurrent.futures.wait`,
`as_completed`), like google-api-core's polling future. Its provider-specific half is an
`Operation` that translates the protocol and nothing else; the job owns time: it asks its
`Pacer` when to look again, and records one history row per HTTP exchange.

The class holds only that life cycle. Around it: `operation` (the adapters' types),
`history` (the rows), `job_messages` (every error and note it writes), `job_hooks` (the
provider's cancel request, the duration model, a stored copy of an expired result),
`tokens` (`continuation_token()`), `teaching.Stepper` (step by step) and `widgets.view`
(what a notebook shows).
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from . import runtime, tokens
from .errors import JobFailed, ProviderError, TTSError
from .history import History
from .job_hooks import ask_provider_to_cancel, learn_duration, stored_copy
from .job_messages import (
    accepted_after_cancel_note,
    cancel_note,
    cancelled_error,
    crash_error,
    error_for_verdict,
    give_up_error,
    state_for_error,
    status_line,
    unconfirmed_error,
    wait_timeout_error,
)
from .operation import Call, Observation, Operation  # the adapters' half; also imported from here
from .policy import DurationModel, Pacer, PollPolicy
from .runtime import all_jobs, forget  # noqa: F401  (the registry is the runtime's)
from .scheduler import Scheduler, Timer
from .state import State
from .transport import Exchange, Transport

log = logging.getLogger("tts_nb")


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
        """The result once the job has one (SUCCEEDED, or EXPIRED with a stored copy), else
        None; never blocks."""
        return self._outcome

    def running(self) -> bool:
        """True from the start (its submit scheduled, or a resume) until the job ends. The
        Future underneath stays PENDING: a RUNNING stdlib Future can no longer be cancelled."""
        with self._lock:
            return self._started and not self.state.terminal

    def result(self, timeout: float | None = None) -> Any:
        """The Future's `result`, a cancel raised as `JobCancelled` (a `TTSError`, and still
        a `concurrent.futures.CancelledError`)."""
        try:
            return super().result(timeout)
        except concurrent.futures.CancelledError:
            raise cancelled_error(self) from None

    def wait(self, timeout: float | None = None) -> Any:
        """Block until the job ends and return its result, or raise its error (`JobTimeout`
        with `still_running=True` when only this wait timed out: the job goes on)."""
        try:
            return self.result(timeout)
        except TimeoutError:
            if self.done():
                raise
            raise wait_timeout_error(self, timeout) from None

    def cancel(self) -> bool:
        """Stop polling, and ask the provider to drop the job where its API can (Aspose), on
        a worker. A cancel during the submit cannot reach the provider: if the submit is
        accepted after all, its ids are still recorded, so `tn.resume(job.id)` can fetch it."""
        with self._lock:
            if self.state.terminal:
                return False
            if self._timer is not None:
                self._timer.cancel()
            self.state = State.CANCELLED
            self.finished_at = self._clock.wall()
            ids = dict(self.provider_ids)
            remote = getattr(self._op, "cancel", None) if ids else None
            self._log.note(cancel_note(self, ids, remote is not None))
        self._changed()
        super().cancel()
        self.set_running_or_notify_cancel()
        if remote is not None:

            def send() -> None:  # a learner's job sends it at once, in the cell
                said = ask_provider_to_cancel(
                    remote, self._call("cancel"), ids, provider=self.provider, job_id=self.id
                )
                self._note(said)

            if self.manual:
                send()
            else:
                self._scheduler.call_soon(send)
        return True

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
        """History rows as plain dicts (the DataFrames' and the ledger's source)."""
        return self._log.rows()

    @property
    def history(self):
        """One row per HTTP exchange, for reading (`tables.HISTORY_VIEW`, local times)."""
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

    # ---------------------------------------------- display (tts_nb.widgets.view)
    def __repr__(self) -> str:
        polls = f" polls={self.polls}" if self.polls else ""
        return f"<Job {self.provider}:{self.id} [{self.state.value}]{polls} {self.elapsed_s:.1f}s>"

    def status_line(self) -> str:
        """One line of plain text (`job_messages.status_line`)."""
        return status_line(self)

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict[str, Any]:
        from .widgets.view import job_mimebundle

        return job_mimebundle(self)

    def _ipython_display_(self) -> None:
        from .widgets.view import show

        show(self)

    # ------------------------------------- step by step (tts_nb.teaching.Stepper)
    @property
    def manual(self) -> bool:
        """True for a step-by-step job (`tn.teach.steps`): nothing happens until `step()`."""
        return getattr(self._scheduler, "manual", False)

    def step(self):
        """Run this job's next step now: `tts_nb.teaching.Stepper(job).step()`."""
        from .teaching import Stepper

        return Stepper(self).step()

    def take_pending(self) -> Timer | None:
        """Remove and return the call scheduled next, for a driver that runs it itself."""
        with self._lock:
            timer, self._timer = self._timer, None
        return timer

    # ----------------------------------------------- starting, resuming, restoring
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
        """List the job in `all_jobs()` once (a job the registry let go of stays gone)."""
        if not self._registered:
            self._registered = runtime.register(self)

    def resume(self, ids: Mapping[str, Any], rows: list[dict[str, Any]], note: str) -> Job:
        """Poll on a job submitted earlier (e.g. by a kernel that restarted) from its provider
        ids, keeping its history rows; nothing is submitted again. Looks follow the plan
        counted from its submit, so a look missed meanwhile happens at once; the deadline
        counts from now."""
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
        """End the job with an outcome known without sending anything (a reused result, or a
        finished job from the ledger): `result` for a success or an expired job with a
        stored copy, else `error`; `rows` replace the history when given."""
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
        azure-core's: provider, API, kind, endpoint, ids and request, never a key."""
        with self._lock:
            return tokens.for_job(self, self._op, self._transport).encode()

    # ----------------------------------------------------------------- engine
    def _guarded(self, step: Callable[[], None]) -> Callable[[], None]:
        """A step that can never kill a worker: any surprise ends the job with an
        `InternalError`. Ctrl-C and `sys.exit()` (a learner's `job.step()` runs in the
        kernel's thread) end it too, then propagate, so the cell stays stoppable."""

        def run() -> None:
            try:
                step()
            except BaseException as exc:  # a parser bug or a broken answer we did not foresee
                if not isinstance(exc, (KeyboardInterrupt, SystemExit)):
                    log.error("tts_nb: job %s crashed: %s", self.id, type(exc).__name__)
                unconfirmed = self.submit_started_at is not None and not self.provider_ids
                if unconfirmed:  # the submit may have been charged: never re-sent silently
                    self.submit_unconfirmed = True
                scrub = self._transport.scrub
                error = crash_error(self.provider, exc, scrub, unconfirmed=unconfirmed)
                self._finish_error(error, State.FAILED)
                if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                    raise

        return run

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
                error = unconfirmed_error(error, self.provider)
            self._finish_error(error, state_for_error(error))
            return
        self._observe(seen)
        self._continue(seen)

    def _make_pacer(self, elapsed: float = 0.0) -> None:
        """Plan the looks of a job submitted `elapsed` seconds ago (0: now). The deadline
        counts from now either way: a resumed job gets its full time again."""
        now = self._clock.now()
        self._t0 = now - elapsed
        model = self._duration_model
        self._pacer = Pacer(
            self.policy,
            min_interval=self.min_interval,
            deadline=now + self.timeout,
            expected=None if model is None else model.predict(self._text_length),
            elapsed=elapsed,
        )

    def _resubmit_allowed(self, error: TTSError) -> bool:
        """429, or 503 with Retry-After, on submit means "not accepted, come back later", so
        sending again costs nothing: it goes again as asked, within the job's deadline and
        `retry.timeout` (from the submit), not `attempts`, since nothing failed."""
        if error.status_code not in (429, 503) or error.retry_after is None:
            return False  # no hint that it was refused and when to come back: let the user decide
        retry = self._transport.retry
        wait = max(error.retry_after, self.min_interval)
        now = self._clock.now()
        if not retry.retryable(error) or now + wait > self._pacer.deadline:
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
            self._finish_error(error_for_verdict(seen, self.provider), seen.state)
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
        if when is None:  # after the lock: ending notifies and wakes waiters
            error = give_up_error(self, self._clock.now() - self._t0, retry_after)
            self._finish_error(error, State.TIMED_OUT)
        else:
            self._changed()

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
        learn_duration(
            self._duration_model,
            self._text_length,
            t0=self._t0,
            last_running_at=self._last_running_at,
            now=self._clock.now(),
            resumed=self._resumed,
        )
        self._finish_success(result)

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
                self._log.note(accepted_after_cancel_note(self.id, seen.ids))
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
        if state is State.EXPIRED:
            found = stored_copy(self.recover, self.id)
            if found is not None:  # the ledger still holds it: used, state stays EXPIRED
                self._finish_success(found[0], State.EXPIRED, note=found[1])
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

    def _changed(self) -> None:
        """Tell the observers (call with the lock released: they may read the job)."""
        for callback in list(self._observers):
            try:
                callback(self)
            except Exception:  # an observer (a widget) must never break the job
                log.exception("tts_nb: job observer failed")

    def __getstate__(self):
        raise TypeError("a Job is bound to live threads and cannot be pickled; use job.rows")
