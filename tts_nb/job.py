"""`Job`: one request's life, submit → poll → fetch, driven by the scheduler.

A job is a `concurrent.futures.Future` (done callbacks, `concurrent.futures.wait`,
`as_completed`), like google-api-core's polling future. Its provider-specific half is an
`Operation` that translates the protocol and nothing else; the job owns time: it asks its
`Pacer` when to look again, and records one history row per HTTP exchange.

The class holds only that life cycle. Around it: `operation` (the adapters' types),
`history` (the rows), `job_messages` (every error and note it writes), `job_hooks` (the
provider's cancel request, the duration model, a stored copy of an expired result),
`tokens` (`continuation_token()`), `teaching.Stepper` (step by step) and `widgets.view`
(what a notebook shows). The steps themselves (submit, poll, fetch, resubmit, pacing) run in
`lifecycle.Driver`, like azure-core's `PollingMethod` beside its `LROPoller`: the job holds the
state and is what callers wait on; the driver holds the time and changes the job only through
`_observe`, `_record`/`_note` and `_finish_success`/`_finish_error` (see `lifecycle`).
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from . import runtime, tokens
from .errors import JobFailed, TTSError
from .history import History
from .job_hooks import stored_copy
from .job_messages import (
    accepted_after_cancel_note,
    cancel_note,
    cancelled_error,
    state_for_error,  # noqa: F401  (tests import it from here)
    status_line,
    wait_timeout_error,
)
from .lifecycle import Driver
from .operation import Call, Observation, Operation  # noqa: F401  (the adapters' half, also here)
from .policy import DurationModel, PollPolicy
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
        self._clock = scheduler.clock
        self._lock = threading.RLock()
        self._log = History(self, self._lock, transport.scrub)
        self._observers: list[Callable[[Job], None]] = []
        self._started = False  # its submit was scheduled, or it was resumed
        self._outcome: Any = None
        self._registered = False
        self._driver = Driver(self, operation, transport, scheduler, duration_model, text_length)

    # The driver's pacing and pending call, for tests and tools that look inside.
    _pacer = property(lambda self: self._driver.pacer)
    _timer = property(lambda self: self._driver.timer)

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
            self._driver.stop()
            self.state = State.CANCELLED
            self.finished_at = self._clock.wall()
            ids = dict(self.provider_ids)
            remote = getattr(self._op, "cancel", None) if ids else None
            self._log.note(cancel_note(self, ids, remote is not None))
        self._changed()
        super().cancel()
        self.set_running_or_notify_cancel()
        if remote is not None:
            self._driver.cancel_remotely(remote, ids)
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
        return self._driver.manual

    def step(self):
        """Run this job's next step now: `tts_nb.teaching.Stepper(job).step()`."""
        from .teaching import Stepper

        return Stepper(self).step()

    def take_pending(self) -> Timer | None:
        """Remove and return the call scheduled next, for a driver that runs it itself."""
        return self._driver.take_pending()

    # ----------------------------------------------- starting, resuming, restoring
    def start(self) -> Job:
        """Register the job and schedule its submit (called by clients)."""
        self._register()
        with self._lock:
            if self.state.terminal:  # cancelled while it waited for a slot
                return self
            self._started = True
            self._driver.schedule_submit()
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
            self._driver.resumed = self._started = True
        self.event("resume", note, State.RUNNING)
        self._driver.poll_on(self.submit_started_at)
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

    # ------------------------------------- what the driver calls (tts_nb.lifecycle)
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
        if not self._log.rows():  # ended before any request went out (one could not be
            self._log.append(self.finished_at, "ended")  # built): its state and notes need a row
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
