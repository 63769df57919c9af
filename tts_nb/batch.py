"""`tn.batch()`: many texts and voices as jobs on any executor, picking up where it stopped.

Each unit of work sent to the executor is a `Unit` (provider, text, voice, output folder and,
for a job left running, its continuation token) and the module-level function `run_unit`: both
pickle, so a `ProcessPoolExecutor` or a Dask cluster (`distributed.Client().get_executor()`)
runs them as well as threads do. A worker builds its own client from its environment (key
variables and ``TTS_NB_*_URL``): no key ever travels inside a pickle.

Re-running the same batch submits nothing twice: a unit whose job succeeded is answered by the
ledger's stored result (identical-request reuse), and a unit whose job was left running (its
process killed) is resumed from the token the worker wrote to ``<out>/.tokens/`` as soon as
the provider gave the job its ids.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import TTSError
from .policy import PollPolicy

TOKENS = ".tokens"
COLUMNS = [
    "unit",
    "text",
    "voice",
    "job",
    "state",
    "audio",
    "duration_s",
    "polls",
    "elapsed_s",
    "resumed",
    "error",
    "worker_pid",
]


@dataclass(frozen=True)
class Unit:
    """One text in one voice: what a worker needs, and nothing secret."""

    provider: str
    text: str
    voice: Any
    out: str
    token: str | None = None
    timeout: float = 300.0
    policy: PollPolicy | None = None  # frozen and picklable: the worker polls with it

    @property
    def key(self) -> str:
        """A stable name for this unit's files, the same on every re-run."""
        raw = f"{self.provider}\x00{self.voice}\x00{self.text}".encode()
        return hashlib.sha256(raw).hexdigest()[:16]


def batch(
    texts: Any,
    voices: Any = None,
    *,
    provider: str = "typecast",
    executor: concurrent.futures.Executor | None = None,
    out: str | os.PathLike = "tts_batch",
    timeout: float = 300.0,
    policy: PollPolicy | None = None,
):
    """Speak every text in every voice, on `executor`; return one row per unit.

    Args:
        texts: a list of texts, or a DataFrame with a ``text`` column (and optionally a
            ``voice`` column, which then pairs each text with its own voice).
        voices: a voice or a list of voices (each text is spoken in each), in the provider's
            own ids (Typecast actor ids, CAMB voice ids); None: the provider's default.
        provider: ``"typecast"``, ``"camb"`` or ``"aspose"``.
        executor: any `concurrent.futures.Executor`; a pickling one (processes, Dask) works,
            each worker reading its key from its own environment. None: 4 threads here.
        out: the folder for the audio files (and the tokens that make re-runs resume).
        timeout: seconds each worker waits for its job.
        policy: how workers poll new jobs (default: the provider's).

    Returns:
        A DataFrame (`COLUMNS`): job id, state, audio path, duration, polls, elapsed time,
        whether the job was resumed, the error if any, and the worker's process id.
    """
    import pandas as pd

    folder = Path(out).expanduser()
    (folder / TOKENS).mkdir(parents=True, exist_ok=True)
    units = [
        Unit(provider, text, voice, str(folder), timeout=timeout, policy=policy)
        for text, voice in _pairs(texts, voices)
    ]
    units = [_with_token(unit, folder) for unit in units]
    own = executor is None
    pool = concurrent.futures.ThreadPoolExecutor(4) if own else executor
    try:
        futures = [pool.submit(run_unit, unit) for unit in units]
        rows = [future.result() for future in futures]
    finally:
        if own:
            pool.shutdown()
    return pd.DataFrame(rows, columns=COLUMNS)


def _pairs(texts: Any, voices: Any) -> list[tuple[str, Any]]:
    columns = getattr(texts, "columns", None)
    if columns is not None:
        if "voice" in columns:
            return [(str(t), _plain(v)) for t, v in zip(texts["text"], texts["voice"])]
        texts = list(texts["text"])
    if isinstance(texts, str):
        texts = [texts]
    if voices is None or isinstance(voices, (str, int)):
        voices = [voices]
    return [(str(text), _plain(voice)) for text in texts for voice in voices]


def _plain(value: Any) -> Any:
    """numpy scalars from a DataFrame become plain Python (pickles, JSON bodies)."""
    return value.item() if hasattr(value, "item") else value


def _with_token(unit: Unit, folder: Path) -> Unit:
    """The unit with the token of its job left running, when a run before was cut short."""
    token_file = folder / TOKENS / f"{unit.key}.token"
    audio = list(folder.glob(f"{unit.key}.*"))
    if token_file.is_file() and not audio:
        return dataclasses.replace(unit, token=token_file.read_text())
    return unit


def run_unit(unit: Unit) -> dict[str, Any]:
    """Run one unit in this process (a worker): its job, its audio file and its row."""
    from .adapters import adapter_for
    from .client import Client
    from .resume import resume

    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    row.update(unit=unit.key, text=unit.text, voice=unit.voice, resumed=unit.token is not None)
    row["worker_pid"] = os.getpid()
    job = None
    try:
        if unit.token is not None:
            (job,) = resume(unit.token)
        else:
            client = Client.clients[unit.provider]()  # the key from this process's environment
            adapter = adapter_for(client)
            voice = unit.voice if unit.voice is not None else _first_voice(adapter, client)
            options = {} if unit.policy is None else {"policy": unit.policy}
            job = adapter.speak(client, unit.text, voice, adapter.default_language, options)
            _keep_token(job, Path(unit.out) / TOKENS / f"{unit.key}.token")
        row.update(job=job.id)
        clip = job.wait(unit.timeout)
        path = clip.save(Path(unit.out) / f"{unit.key}.{clip.format}")
        row.update(audio=str(path), duration_s=clip.duration_s)
    except TTSError as error:
        row["error"] = str(error)
    if job is not None:
        row.update(job=job.id, state=job.state.value, polls=job.polls, elapsed_s=job.elapsed_s)
    return row


def _first_voice(adapter: Any, client: Any) -> Any:
    options = adapter.voice_options(client)
    return options[0][1] if options else None


def _keep_token(job: Any, path: Path) -> None:
    """Write the job's token to `path` once the provider gave it ids, so a re-run after a
    crash resumes it instead of submitting again."""

    def write(changed: Any) -> None:
        if changed.provider_ids and not path.exists():
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(changed.continuation_token())
            tmp.replace(path)

    job.observe(write)
    write(job)


__all__ = ["COLUMNS", "Unit", "batch", "run_unit"]
