"""`Driver`: the steps of one job's life (submit → poll → fetch) and their pacing.

Like azure-core's split of `LROPoller` (the Future callers hold) from its `PollingMethod`
(the algorithm), a `Job` is what callers hold and wait on, and its `Driver` is what runs: it
asks the provider's `Operation`, asks its `Pacer` when to look again, schedules the next
step on the scheduler, and keeps the one pending call (`timer`).

The driver changes the job only through a small interface of the job's:

- ``job._lock``: held for any change to the job's fields (state, ids, the pending call);
- ``job._observe(seen)``: an answer read (ids, raw status, running state);
- ``job._record(exchange)`` / ``job._note(text)``: a history row, or a note on the last one;
- ``job._finish_success(result)`` / ``job._finish_error(error, state)``: the end, once;
- ``job._changed()``: notify the observers (always with the lock released).

Each of these notifies once, outside the lock; the driver never calls the observers itself
while it holds the lock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .errors import ProviderError, TTSError
from .job_hooks import ask_provider_to_cancel, learn_duration
from .job_messages import (
    crash_error,
    error_for_verdict,
    give_up_error,
    state_for_error,
    unconfirmed_error,
)
from .operation import Call, Observation, Operation
from .policy import DurationModel, Pacer
from .scheduler import Scheduler, Timer
from .state import State
from .transport import Transport

if TYPE_CHECKING:
    from .job import Job

log = logging.getLogger("tts_nb")


class Driver:
    """Runs one job's steps on its scheduler; the job holds the state, the driver the time."""

    def __init__(
        self,
        job: Job,
        operation: Operation,
        transport: Transport,
        scheduler: Scheduler,
        duration_model: DurationModel | None = None,
        text_length: int = 0,
    ) -> None:
        self.job = job
        self.op = operation
        self.transport = transport
        self.scheduler = scheduler
        self.clock = scheduler.clock
        self.duration_model = duration_model
        self.text_length = text_length
        self.timer: Timer | None = None  # the one call scheduled next
        self.pacer: Pacer | None = None
        self.t0 = self.clock.now()
        self.last_running_at: float | None = None
        self.resumed = False  # polled again from the ledger's ids (see Job.resume)
        self.fetch_attempts = 0

    # ------------------------------------------------------ what the job asks
    @property
    def manual(self) -> bool:
        return getattr(self.scheduler, "manual", False)

    def schedule_submit(self) -> None:
        """Schedule the submit (hold the job's lock)."""
        self.timer = self.scheduler.call_soon(self.guarded(self.submit_step))

    def poll_on(self, since: float | None) -> None:
        """Poll a job submitted at wall time `since` (None: unknown) from its ids."""
        self.make_pacer(0.0 if since is None else max(0.0, self.clock.wall() - since))
        self.schedule_poll()

    def stop(self) -> None:
        """Cancel the pending call (hold the job's lock)."""
        if self.timer is not None:
            self.timer.cancel()

    def take_pending(self) -> Timer | None:
        """Remove and return the call scheduled next, for a driver that runs it itself."""
        with self.job._lock:
            timer, self.timer = self.timer, None
        return timer

    def cancel_remotely(self, remote: Callable[..., Any], ids: Mapping[str, Any]) -> None:
        """Ask the provider to drop the job, on a worker (a learner's job: at once, in the cell)."""
        job = self.job

        def send() -> None:
            said = ask_provider_to_cancel(
                remote, self.call("cancel"), ids, provider=job.provider, job_id=job.id
            )
            job._note(said)

        if self.manual:
            send()
        else:
            self.scheduler.call_soon(send)

    # ----------------------------------------------------------------- steps
    def guarded(self, step: Callable[[], None]) -> Callable[[], None]:
        """A step that can never kill a worker: any surprise ends the job with an
        `InternalError`. Ctrl-C and `sys.exit()` (a learner's `job.step()` runs in the
        kernel's thread) end it too, then propagate, so the cell stays stoppable."""
        job = self.job

        def run() -> None:
            try:
                step()
            except BaseException as exc:  # a parser bug or a broken answer we did not foresee
                if not isinstance(exc, (KeyboardInterrupt, SystemExit)):
                    log.error("tts_nb: job %s crashed: %s", job.id, type(exc).__name__)
                unconfirmed = job.submit_started_at is not None and not job.provider_ids
                if unconfirmed:  # the submit may have been charged: never re-sent silently
                    job.submit_unconfirmed = True
                scrub = self.transport.scrub
                error = crash_error(job.provider, exc, scrub, unconfirmed=unconfirmed)
                job._finish_error(error, State.FAILED)
                if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                    raise

        return run

    def call(self, step: str) -> Call:
        return Call(self.transport, self.job._record, step)

    def submit_step(self) -> None:
        job = self.job
        if job.state.terminal:
            return
        if self.pacer is None:
            self.make_pacer()
        if job.submit_started_at is None:
            with job._lock:
                job.submit_started_at = self.clock.wall()
            job._changed()  # the ledger notes "a submit may be on the wire" before it is
        try:
            seen = self.op.submit(self.call("submit"))
        except TTSError as error:
            if self.resubmit_allowed(error):
                return
            answered = job._log.submit_answered()
            if isinstance(error, ProviderError) and (error.maybe_sent or answered):
                job.submit_unconfirmed = True
                error = unconfirmed_error(error, job.provider)
            job._finish_error(error, state_for_error(error))
            return
        job._observe(seen)
        self.continue_(seen)

    def make_pacer(self, elapsed: float = 0.0) -> None:
        """Plan the looks of a job submitted `elapsed` seconds ago (0: now). The deadline
        counts from now either way: a resumed job gets its full time again."""
        job = self.job
        now = self.clock.now()
        self.t0 = now - elapsed
        model = self.duration_model
        self.pacer = Pacer(
            job.policy,
            min_interval=job.min_interval,
            deadline=now + job.timeout,
            expected=None if model is None else model.predict(self.text_length),
            elapsed=elapsed,
        )

    def resubmit_allowed(self, error: TTSError) -> bool:
        """429, or 503 with Retry-After, on submit means "not accepted, come back later", so
        sending again costs nothing: it goes again as asked, within the job's deadline and
        `retry.timeout` (from the submit), not `attempts`, since nothing failed."""
        if error.status_code not in (429, 503) or error.retry_after is None:
            return False  # no hint that it was refused and when to come back: let the user decide
        retry = self.transport.retry
        wait = max(error.retry_after, self.job.min_interval)
        now = self.clock.now()
        if not retry.retryable(error) or now + wait > self.pacer.deadline:
            return False
        if retry.timeout is not None and now + wait - self.t0 > retry.timeout:
            return False
        self.job._note(
            f"not accepted ({error.status_code}); submitting again in {wait:g} s, nothing was "
            "charged"
        )
        self.timer = self.scheduler.call_at(now + wait, self.guarded(self.submit_step))
        return True

    def poll_step(self) -> None:
        job = self.job
        if job.state.terminal:
            return
        job.polls += 1
        try:
            seen = self.op.poll(self.call("poll"), job.provider_ids)
        except TTSError as error:
            # Worth polling again: a server hiccup or a rate limit, not a verdict on the job.
            if self.transport.retry.retryable(error):
                job._note(f"transient: {error} — polling again")
                self.schedule_poll(retry_after=error.retry_after)
                return
            job._finish_error(error, state_for_error(error))
            return
        job._observe(seen)
        self.continue_(seen)

    def continue_(self, seen: Observation) -> None:
        if seen.state is State.SUCCEEDED:
            # Downloads run in a lane of their own, so a stalled one never holds up other
            # jobs' polls; a learner's job downloads in a cell of its own.
            self.timer = self.scheduler.call_soon(
                self.guarded(lambda: self.fetch_step(seen)), download=True
            )
        elif seen.state.terminal:
            self.job._finish_error(error_for_verdict(seen, self.job.provider), seen.state)
        else:
            self.last_running_at = self.clock.now()
            self.schedule_poll(retry_after=seen.retry_after)

    def schedule_poll(self, retry_after: float | None = None) -> None:
        job = self.job
        with job._lock:
            if job.state.terminal:
                return
            now = self.clock.now()
            when = self.pacer.next_poll(now, retry_after)
            if when is not None:
                job.next_poll_at = self.clock.wall() + (when - now)
                job._log.annotate(next_poll_in_s=round(when - now, 3))
                self.timer = self.scheduler.call_at(when, self.guarded(self.poll_step))
        if when is None:  # after the lock: ending notifies and wakes waiters
            error = give_up_error(job, self.clock.now() - self.t0, retry_after)
            job._finish_error(error, State.TIMED_OUT)
        else:
            job._changed()

    def fetch_step(self, seen: Observation) -> None:
        job = self.job
        if job.state.terminal:
            return
        self.fetch_attempts += 1
        try:
            result = self.op.fetch(self.call("fetch"), job.provider_ids, seen)
        except TTSError as error:
            # A broken download is fetched again too (BadAudio is retryable): GETs are free,
            # and CDNs hiccup. Paced like polls: min_interval, and Retry-After wins.
            retry = self.transport.retry
            if retry.retryable(error) and self.fetch_attempts < retry.attempts:
                job._note(f"transient: {error} — fetching again")
                when = self.clock.now() + max(job.min_interval, error.retry_after or 0.0)
                self.timer = self.scheduler.call_at(
                    when, self.guarded(lambda: self.fetch_step(seen)), download=True
                )
                return
            job._finish_error(error, state_for_error(error))
            return
        learn_duration(
            self.duration_model,
            self.text_length,
            t0=self.t0,
            last_running_at=self.last_running_at,
            now=self.clock.now(),
            resumed=self.resumed,
        )
        job._finish_success(result)
