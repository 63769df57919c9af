"""DataFrames with consistent columns and dtypes: one job's history, every job in the kernel.

Two sizes of each: the full frame (every column, UTC times: for code, CSV files and the ledger)
and a compact one for people (local times, no column that repeats on every row, blanks for
missing values, whole notes), which is what `job.history`, `tn.jobs()` and `tn.history()` show.
pandas is imported here only, when a table is asked for, so `import tts_nb` stays light.
"""

from __future__ import annotations

import functools
import html
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from .state import State

# Badge backgrounds under white text: each has a contrast of at least 4.5 with white (WCAG
# AA), so a badge reads the same on light and dark themes.
STATE_COLOURS = {
    State.PENDING: "#6c757d",
    State.RUNNING: "#0d6efd",
    State.SUCCEEDED: "#198754",
    State.FAILED: "#dc3545",
    State.TIMED_OUT: "#b35309",
    State.PAYMENT_REQUIRED: "#d63384",
    State.NOT_FOUND: "#6f42c1",
    State.CANCELLED: "#495057",
    State.EXPIRED: "#8a6508",
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
# What a person reads in one job's history: which step, what HTTP and the provider said, what
# tts_nb made of it and when it looks again. The job and provider are the same on every row;
# method, URL, attempt and latency are in the full frame (`job.history_full`).
HISTORY_VIEW = [
    "time",
    "elapsed_s",
    "step",
    "http_status",
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


def table_class():
    """`Table`: a DataFrame that shows itself through `styled` in notebooks.

    pandas' own HTML cuts long notes with "…", prints NaN beside None and shows the index; a
    `Table` shows whole notes, blanks and state badges instead. Its data, dtypes and text repr
    are pandas' own, and what is derived from it (filters, column picks) stays a `Table`.
    Built on first use, so `import tts_nb` does not import pandas.
    """
    return _table_class()


@functools.cache
def _table_class():
    import pandas as pd

    class Table(pd.DataFrame):
        __doc__ = table_class.__doc__
        _metadata: list[str] = []

        @property
        def _constructor(self):
            return Table

        def _repr_html_(self) -> str:
            return styled(self).to_html(max_rows=pd.get_option("display.max_rows"))

    Table.__module__, Table.__qualname__ = __name__, "Table"
    return Table


def _local_times(seconds: Iterable[float | None]):
    """Epoch seconds as local wall-clock times to the millisecond (what a person's clock says);
    `datetime.fromtimestamp` applies the daylight-saving offset of each moment."""
    import pandas as pd

    times = [None if t is None or t != t else datetime.fromtimestamp(t) for t in seconds]
    return pd.Series(times, dtype="datetime64[ms]")


def _people(frame):
    """Text columns as pandas' "string" dtype, so every missing value reads <NA> (never NaN in
    one column and None in the next), as the nullable number columns already do."""
    for column in frame.columns:
        if frame[column].dtype == object or str(frame[column].dtype) == "str":
            frame[column] = frame[column].astype("string")
    return table_class()(frame)


def history_frame(rows: Iterable[dict[str, Any]], full: bool = True, by_job: bool = False):
    """History rows as a DataFrame.

    `full`: every column, `time` as UTC datetimes, numbers as nullable numbers. Otherwise the
    compact view (`HISTORY_VIEW`, after `job` if `by_job`), with local times, numbered from 1
    in the index `n`.
    """
    import pandas as pd

    rows = list(rows)
    if not full:
        frame = history_frame(rows)
        view = frame[(["job"] if by_job else []) + HISTORY_VIEW].copy()
        view["time"] = _local_times(row["time"] for row in rows).to_numpy()
        view.index = pd.Index(frame["n"].to_numpy(), name="n")
        return _people(view)
    frame = pd.DataFrame(rows, columns=HISTORY_COLUMNS)
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


def jobs_frame(jobs: Iterable[Any], records: Iterable[dict[str, Any]] = (), people: bool = False):
    """Every given job as one row each, then the ledger's `records` (sorted by submit time).

    `people`: the table `tn.jobs()` shows: local times, seconds rounded to 0.01, blanks for
    missing values, and no `live` column unless ledger records are in it.
    """
    import pandas as pd

    records = list(records)
    rows = [job_row(job) for job in jobs] + [record_row(record) for record in records]
    rows.sort(key=lambda row: row["submitted"])
    frame = pd.DataFrame(rows, columns=JOB_COLUMNS)
    for column in ("submitted", "finished"):
        if people:
            frame[column] = _local_times(row[column] for row in rows).to_numpy()
        else:
            frame[column] = pd.to_datetime(frame[column], unit="s", utc=True)
    frame["state"] = frame["state"].astype(_state_dtype())
    frame["polls"] = frame["polls"].astype("Int64")
    frame["bytes"] = frame["bytes"].astype("Int64")
    for column in ("elapsed_s", "audio_s"):
        frame[column] = frame[column].astype("Float64")
    if not people:
        return frame
    for column in ("elapsed_s", "audio_s"):
        frame[column] = frame[column].round(2)
    if not records:
        frame = frame.drop(columns="live")  # every row is this kernel's
    return _people(frame)


# JupyterLab's theme variables with light-theme fallbacks (GitHub, nbviewer, Voila).
TABLE_STYLES = [
    {"selector": "", "props": "border-collapse: collapse; font-size: 0.9em; margin: 4px 0"},
    {
        "selector": "th",
        "props": "padding: 3px 10px; border-bottom: 1px solid var(--jp-border-color1, #bbb);"
        " text-align: left",
    },
    {
        "selector": "td",
        "props": "padding: 3px 10px; border-bottom: 1px solid var(--jp-border-color2, #eee);"
        " white-space: nowrap",
    },
]
# Long prose columns wrap inside a readable width instead of being cut or stretching the table.
PROSE = {"note", "error", "text"}
PROSE_STYLE = "white-space: normal; min-width: 16em; max-width: 40em"


def styled(frame):
    """A notebook view of a jobs or history table: state colours, rounded seconds, no index.

    The frame itself is left as is (`tn.jobs()` stays plain data); this is for looking at it.
    Every cell and label is HTML-escaped: voice names, status strings, errors and job ids come
    from providers or the ledger, and widgets put this HTML into the page unsanitised.
    """

    from .clip import _human_size as human_size  # the one size format of every view

    def badge(value: Any) -> str:  # white on the state's colour: readable on any theme
        try:
            colour = STATE_COLOURS[State(value)]
        except ValueError:
            return html.escape(str(value))
        return (
            f'<span style="background:{colour};color:white;font-weight:600;'
            f'border-radius:9px;padding:1px 8px">{html.escape(str(value))}</span>'
        )

    seconds = [c for c in frame.columns if c.endswith("_s")]
    times = [c for c in frame.columns if str(frame[c].dtype).startswith("datetime64")]
    sizes = [c for c in frame.columns if c == "bytes"]
    if frame.index.name is not None:  # a named index (`n`) says something: a column of it
        frame = frame.reset_index()
    styler = frame.style.hide(axis="index")
    styler = (
        styler.set_table_styles(TABLE_STYLES)
        .format(precision=2, subset=seconds, na_rep="", escape="html")
        .format_index(escape="html", axis="index")
        .format_index(lambda c: "size" if c in sizes else c, escape="html", axis="columns")
    )
    for column in times:
        styler = styler.format(_clock(frame[column]), subset=[column], na_rep="")
    styler = styler.format(human_size, subset=sizes, na_rep="")
    states = [c for c in frame.columns if c == "state"]
    styler = styler.format(badge, subset=states, na_rep="")  # badge() escapes
    others = [c for c in frame.columns if c not in {*seconds, *times, *sizes, *states}]
    styler = styler.format(na_rep="", subset=others, escape="html")
    # other measures (LUFS, win %) arrive rounded: show their digits, not 6 decimals of zeros
    decimals = [c for c in others if getattr(frame[c].dtype, "kind", "") == "f"]
    styler = styler.format(lambda v: f"{v:.6g}", subset=decimals, na_rep="")
    prose = [c for c in frame.columns if c in PROSE]
    if prose:
        styler = styler.map(lambda _value: PROSE_STYLE, subset=prose)
    return styler


def _clock(column):
    """Local clock time to the millisecond, the date too only when the column spans several
    days. UTC times (the full frames) are shown in local time as well."""
    values = [t.to_pydatetime() for t in column.dropna()]
    local = [t.astimezone() if t.tzinfo else t for t in values]
    pattern = "%Y-%m-%d %H:%M:%S.%f" if len({t.date() for t in local}) > 1 else "%H:%M:%S.%f"

    def show(t) -> str:
        t = t.to_pydatetime()
        return (t.astimezone() if t.tzinfo else t).strftime(pattern)[:-3]

    return show
