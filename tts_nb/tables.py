"""DataFrames with consistent columns and dtypes: one job's history, every job in the kernel.

pandas is imported here only, when a table is asked for, so `import tts_nb` stays light.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

HISTORY_COLUMNS = [
    "job",
    "provider",
    "n",
    "time",
    "elapsed_s",
    "step",
    "attempt",
    "method",
    "url",
    "http_status",
    "latency_s",
    "raw_status",
    "state",
    "next_poll_in_s",
    "note",
]
JOB_COLUMNS = [
    "job",
    "provider",
    "kind",
    "voice",
    "text",
    "state",
    "raw_status",
    "polls",
    "submitted",
    "finished",
    "elapsed_s",
    "audio_s",
    "bytes",
    "error",
]


def history_frame(rows: Iterable[dict[str, Any]]):
    """History rows as a DataFrame: `time` as UTC datetimes, numbers as nullable numbers."""
    import pandas as pd

    frame = pd.DataFrame(list(rows), columns=HISTORY_COLUMNS)
    frame["time"] = pd.to_datetime(frame["time"], unit="s", utc=True)
    frame["n"] = frame["n"].astype("Int64")
    frame["attempt"] = frame["attempt"].astype("Int64")
    frame["http_status"] = frame["http_status"].astype("Int64")
    for column in ("elapsed_s", "latency_s", "next_poll_in_s"):
        frame[column] = frame[column].astype("Float64")
    return frame


def job_row(job) -> dict[str, Any]:
    """One job as a table row (no credentials: only the request summary the client kept)."""
    clip = job.clip
    return {
        "job": job.id,
        "provider": job.provider,
        "kind": job.kind,
        "voice": job.request.get("voice"),
        "text": job.request.get("text"),
        "state": job.state.value,
        "raw_status": job.raw_status,
        "polls": job.polls,
        "submitted": job.created_at,
        "finished": job.finished_at,
        "elapsed_s": job.elapsed_s,
        "audio_s": getattr(clip, "duration_s", None),
        "bytes": getattr(clip, "size", None),
        "error": str(job.error) if job.error else None,
    }


def jobs_frame(jobs: Iterable[Any]):
    """Every given job as one row each."""
    import pandas as pd

    frame = pd.DataFrame([job_row(job) for job in jobs], columns=JOB_COLUMNS)
    for column in ("submitted", "finished"):
        frame[column] = pd.to_datetime(frame[column], unit="s", utc=True)
    frame["polls"] = frame["polls"].astype("Int64")
    frame["bytes"] = frame["bytes"].astype("Int64")
    for column in ("elapsed_s", "audio_s"):
        frame[column] = frame[column].astype("Float64")
    return frame
