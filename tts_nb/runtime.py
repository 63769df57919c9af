"""Everything this process shares, in one object, so `tn.reset()` can start it afresh.

A kernel holds one `Runtime`: the jobs `tn.jobs()` lists, the default scheduler clients poll
on, the per-account gates, the ledger chosen with `tn.use_ledger()`, the shared simulator,
whether `tn.use_simulator()` forced it, whether the simulator notice was given, and which API
each Typecast key belongs to. The modules that own these ideas keep their public functions
(`all_jobs`, `default_scheduler`, `gate_for`, `ledger.current`, `simulator.shared`…) as reads
of `current()`, so a reset reaches all of them at once and a test can start from nothing.

Left out on purpose, because a reset must not lose them or they hold nothing to reset:
- keys from `tn.login()` (credentials.py): who you are is not run state; `tn.logout()` forgets
  them.
- `TTS_NB_KEEP_FINISHED`/`KEEP_FINISHED`: a setting, not state.
- open ledger connections and the ledger's warn-once sets (ledger.py): a pool keyed by
  directory, as valid after a reset as before, and closing it would break jobs still writing.
- rating stores (rating.py): mirrors of CSV files in the ledger folder.
- the widgets' ticker thread and views (widgets/): they hold jobs weakly and stop refreshing
  once their jobs end, which a reset brings about.
- `Client.clients`: the provider classes, fixed at import.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .gate import Gate
    from .job import Job
    from .ledger import Ledger
    from .scheduler import Scheduler
    from .simulator import Simulator

# Finished jobs this process keeps in memory (with their audio and exchanges): the newest
# KEEP_FINISHED; older ones live on in the ledger (`tn.jobs()`, `tn.resume(id)`). Running
# jobs are always kept. Set `tts_nb.runtime.KEEP_FINISHED` or TTS_NB_KEEP_FINISHED to change it.
_keep = os.environ.get("TTS_NB_KEEP_FINISHED", "").strip()
KEEP_FINISHED = int(_keep) if _keep.isdigit() else 200


class Runtime:
    """The state one kernel shares between its clients and jobs (see the module docstring).

    Each piece has its own lock, as each had as a module global: a job registering must not
    wait for a simulator to start.
    """

    def __init__(self) -> None:
        self.jobs: list[Job] = []  # oldest first; see `all_jobs`
        self.jobs_lock = threading.Lock()
        self.gates: dict[tuple[str, str, str], Gate] = {}
        self.gates_lock = threading.Lock()
        # What `tn.use_ledger()` chose: False not chosen (the environment decides), None off.
        self.ledger: Ledger | None | bool = False
        self.notice_given = False  # the simulator notice was shown in this runtime
        self.notice_lock = threading.Lock()
        self.simulator_forced = False  # `tn.use_simulator()` was called
        self.typecast_apis: dict[str, str] = {}  # sha256 of (key, URL) → "v1" | "legacy"
        self.typecast_apis_lock = threading.Lock()
        self._scheduler: Scheduler | None = None
        self._scheduler_lock = threading.Lock()
        self._simulator: Simulator | None = None
        self._simulator_lock = threading.Lock()

    def scheduler(self) -> Scheduler:
        """The default scheduler, started on first use."""
        from .scheduler import Scheduler

        with self._scheduler_lock:
            if self._scheduler is None:
                self._scheduler = Scheduler()
            return self._scheduler

    def simulator(self, **options: Any) -> Simulator:
        """The shared simulator, started on first use with `options` (later ones are ignored)."""
        from .simulator import SHARED_SPEED, serve

        with self._simulator_lock:
            if self._simulator is None:
                self._simulator = serve(**{"speed": SHARED_SPEED, **options})
            return self._simulator

    def stop_simulator(self) -> None:
        """Stop the shared simulator; the next `simulator()` starts a fresh one."""
        with self._simulator_lock:
            simulator, self._simulator = self._simulator, None
        if simulator is not None:
            simulator.stop()

    def close(self) -> None:
        """Cancel every unfinished job, then stop the scheduler and the simulator.

        Cancelling first matters: a job left running would poll a stopped simulator, and one
        queued behind a gate would wait forever for a slot no job of this runtime gives back.
        """
        with self.jobs_lock:
            jobs, self.jobs = self.jobs, []
        for job in jobs:
            job.cancel()
        with self.gates_lock:
            self.gates.clear()
        with self._scheduler_lock:
            scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None:
            scheduler.shutdown(wait=False)  # a request on the wire must not hold up a reset
        self.stop_simulator()


_current = Runtime()
_current_lock = threading.Lock()


def current() -> Runtime:
    """This process's runtime."""
    return _current


def reset() -> None:
    """Start afresh, as a new kernel would: see `tts_nb.reset`."""
    global _current
    with _current_lock:
        old, _current = _current, Runtime()
    old.close()


# ---------------------------------------------------------------- the job registry
def register(job: Job) -> bool:
    """List `job` in `all_jobs()`; False if it already was (a job registers once)."""
    runtime = current()
    with runtime.jobs_lock:
        if any(listed is job for listed in runtime.jobs):
            return False
        runtime.jobs.append(job)
        _trim(runtime)
        return True


def all_jobs() -> list[Job]:
    """This process's jobs, oldest first: every running one and the newest finished ones."""
    runtime = current()
    with runtime.jobs_lock:
        _trim(runtime)  # jobs that finished since the last registration count now
        return list(runtime.jobs)


def _trim(runtime: Runtime) -> None:
    """Drop the oldest finished jobs beyond KEEP_FINISHED (called with the lock held)."""
    finished = [job for job in runtime.jobs if job.done()]
    excess = len(finished) - max(0, KEEP_FINISHED)
    if excess > 0:
        dropped = {id(job) for job in finished[:excess]}
        runtime.jobs[:] = [job for job in runtime.jobs if id(job) not in dropped]


def forget(*jobs: Job | str, ledger: bool = False) -> int:
    """Let go of finished jobs, so their audio and history no longer stay in memory.

    Args:
        *jobs: jobs or job ids; none: every finished job of this kernel. Running jobs are
            never forgotten (cancel them first).
        ledger: also delete their ledger records and stored audio, so `tn.jobs()`,
            `tn.resume()` and identical requests no longer find them; ids of jobs only the
            ledger knows (earlier kernels) are accepted then too.

    Returns:
        How many jobs were forgotten.

    Example:
        >>> tn.forget()                     # this kernel's finished jobs, out of memory
        >>> tn.forget(job.id, ledger=True)  # and off the disk
    """
    wanted = {job if isinstance(job, str) else job.id for job in jobs}
    runtime = current()
    with runtime.jobs_lock:
        gone = [job for job in runtime.jobs if job.done() and (not wanted or job.id in wanted)]
        running = {job.id for job in runtime.jobs if not job.done()}
        dropped = {id(job) for job in gone}
        runtime.jobs[:] = [job for job in runtime.jobs if id(job) not in dropped]
    ids = {job.id for job in gone}
    if ledger:
        from . import ledger as ledgers

        store = ledgers.current()
        if store is not None:
            ids |= set(_forget_recorded(store, (ids | wanted) - running))
    return len(ids)


def _forget_recorded(store: Ledger, ids: set[str]) -> list[str]:
    """Delete these finished jobs from the ledger; the ids it held (running ones stay)."""
    from .ledger import TERMINAL

    held = [r["id"] for r in map(store.get, sorted(ids)) if r and r["state"] in TERMINAL]
    store.forget(held)
    return held
