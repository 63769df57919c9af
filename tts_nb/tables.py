"""DataFrames with consistent columns and dtypes: one job's history, every job in the kernel.

pandas is imported here only, when a table is asked for, so `import tts_nb` stays light.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .state import State

STATE_COLOURS = {
    State.PENDING: "#6c757d",
    State.RUNNING: "#0d6efd",
    State.SUCCEEDED: "#198754",
    State.FAILED: "#dc3545",
    State.TIMED_OUT: "#fd7e14",
    State.PAYMENT_REQUIRED: "#d63384",
    State.NOT_FOUND: "#6f42c1",
    State.CANCELLED: "#495057",
    State.EXPIRED: "#b8860b",
}

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
    "live",
    "note",
]


def _state_dtype():
    """`state` is a categorical in State order in every table, so sorting and plots agree."""
    import pandas as pd

    return pd.CategoricalDtype([state.value for state in State], ordered=True)


def history_frame(rows: Iterable[dict[str, Any]]):
    """History rows as a DataFrame: `time` as UTC datetimes, numbers as nullable numbers."""
    import pandas as pd

    frame = pd.DataFrame(list(rows), columns=HISTORY_COLUMNS)
    frame["time"] = pd.to_datetime(frame["time"], unit="s", utc=True)
    frame["state"] = frame["state"].astype(_state_dtype())
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
        "live": True,
        "note": _flags(job.submit_unconfirmed, job.reused_from),
    }


def record_row(record: dict[str, Any]) -> dict[str, Any]:
    """A ledger record of a job not running in this kernel (an earlier one's, or another's).

    `record` is one the ledger checked (`Ledger.records`): its stored clips come decoded under
    ``clips``, so nothing here parses or indexes the raw result.
    """
    clips = record.get("clips") or []
    request = record.get("request") or {}
    end = record["finished_at"] or record["updated_at"]
    note = _flags(record["submit_unconfirmed"], record["reused_from"])
    if record["state"] in ("PENDING", "RUNNING") and not note:
        note = (
            "ran on an earlier kernel's embedded simulator: tn.resume() closes it"
            if record["embedded"]
            else "not polled by this kernel: tn.resume() continues it"
        )
    return {
        "job": record["id"],
        "provider": record["provider"],
        "kind": record["kind"],
        "voice": request.get("voice"),
        "text": request.get("text"),
        "state": record["state"],
        "raw_status": record["raw_status"],
        "polls": record["polls"],
        "submitted": record["created_at"],
        "finished": record["finished_at"],
        "elapsed_s": max(0.0, end - record["created_at"]),
        "audio_s": sum(c.get("duration_s") or 0.0 for c in clips) if clips else None,
        "bytes": sum(c.get("bytes") or 0 for c in clips) if clips else None,
        "error": record["error"],
        "live": False,
        "note": note,
    }


def _flags(submit_unconfirmed: bool, reused_from: str | None) -> str | None:
    if submit_unconfirmed:
        return "submit unconfirmed: it may have been charged; not re-sent"
    if reused_from:
        return f"reused the stored result of job {reused_from}"
    return None


def jobs_frame(jobs: Iterable[Any], records: Iterable[dict[str, Any]] = ()):
    """Every given job as one row each, then the ledger's `records` (sorted by submit time)."""
    import pandas as pd

    rows = [job_row(job) for job in jobs] + [record_row(record) for record in records]
    rows.sort(key=lambda row: row["submitted"])
    frame = pd.DataFrame(rows, columns=JOB_COLUMNS)
    for column in ("submitted", "finished"):
        frame[column] = pd.to_datetime(frame[column], unit="s", utc=True)
    frame["state"] = frame["state"].astype(_state_dtype())
    frame["polls"] = frame["polls"].astype("Int64")
    frame["bytes"] = frame["bytes"].astype("Int64")
    for column in ("elapsed_s", "audio_s"):
        frame[column] = frame[column].astype("Float64")
    return frame


TABLE_STYLES = [
    {"selector": "", "props": "border-collapse: collapse; font-size: 0.9em; margin: 4px 0"},
    {
        "selector": "th",
        "props": "padding: 3px 10px; border-bottom: 1px solid #bbb; text-align: left",
    },
    {"selector": "td", "props": "padding: 3px 10px; border-bottom: 1px solid #eee"},
]


def styled(frame):
    """A notebook view of a jobs or history table: state colours, rounded seconds, no index.

    The frame itself is left as is (`tn.jobs()` stays plain data); this is for looking at it.
    Every cell and label is HTML-escaped: voice names, status strings, errors and job ids come
    from providers or the ledger, and widgets put this HTML into the page unsanitised.
    """

    def colour(value: Any) -> str:
        try:
            return f"color:{STATE_COLOURS[State(value)]};font-weight:600"
        except ValueError:
            return ""

    seconds = [c for c in frame.columns if c.endswith("_s")]
    styler = (
        frame.style.hide(axis="index")
        .set_table_styles(TABLE_STYLES)
        .format(precision=2, subset=seconds, na_rep="", escape="html")
        .format_index(escape="html", axis="index")
        .format_index(escape="html", axis="columns")
    )
    others = [c for c in frame.columns if c not in seconds]
    styler = styler.format(na_rep="", subset=others, escape="html")
    if "state" in frame.columns:
        styler = styler.map(colour, subset=["state"])
    return styler
