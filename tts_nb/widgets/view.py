"""The live view of one job: what a `Job` shows when it is the last line of a cell.

The view only observes the job (`job.observe`) and a shared ticker; both call `refresh()` from
background threads, which sets `widgets.HTML.value` and `Button.disabled` — trait values only,
the one thing that works in JupyterLab, Notebook 7, Voila and nbclient alike.

A widget needs its model, which a saved notebook only has if the widget state was saved too
(JupyterLab does not by default): reopened, it says "Error displaying widget: model not
found". So a job shown as a cell's output (`show`) carries a static HTML copy, and at the end
of the first cell after the job ended, on the main thread, the output is replaced by its final
static copy: badge, figures and player, which every viewer renders and every save keeps.
"""

from __future__ import annotations

import threading
import uuid
import weakref
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from .. import waveform
from ..kernel import in_kernel
from ..state import State
from . import _html, _resync, _ticker


class JobView(widgets.VBox):
    """Provider and voice, a state badge, elapsed time, polls, next poll, Cancel, then the result.

    Example:
        >>> view = JobView(tc.speak("Hello", actor_id="Olivia"))
        >>> view.wait(30)   # returns once the final state is on screen
    """

    def __init__(
        self, job: Any, on_final: Callable[[Any], None] | None = None, **kwargs: Any
    ) -> None:
        """`on_final(job)` runs once the job ended, before `wait()` returns (panels update
        their own tables there, so a finished view never shows beside a stale table)."""
        # ipywidgets keeps every widget alive until it is closed, so the view holds its job
        # weakly: a finished job that was forgotten (`tn.forget`) can then leave memory.
        self._job = weakref.ref(job)
        self._on_final = on_final
        self.header = widgets.HTML(_header(job))
        self.status = widgets.HTML()
        self.cancel_button = widgets.Button(
            description="Cancel",
            icon="stop",
            button_style="warning",
            tooltip="Stop polling this job (the provider may still finish it)",
            layout=widgets.Layout(width="auto"),
        )
        self.result = widgets.HTML()
        self.cancel_button.on_click(lambda _: self._cancel())
        self._lock = threading.Lock()
        self._final = threading.Event()
        super().__init__(
            [widgets.HBox([self.header, self.cancel_button]), self.status, self.result],
            layout=widgets.Layout(
                border=f"1px solid {_html.BORDER}", padding="6px 10px", margin="4px 0", width="auto"
            ),
            **kwargs,
        )
        self.add_class("tts-nb-job")
        self.refresh()
        job.observe(lambda _job: self.refresh())
        if not self._final.is_set():
            _ticker.subscribe(self.refresh)
            _resync.resend_when(
                self._final.is_set,
                lambda: [self.status, self.result, self.cancel_button, self.cancel_button.layout],
            )

    @property
    def job(self) -> Any:
        """The job shown, or None once it was let go everywhere else."""
        return self._job()

    def _cancel(self) -> None:
        job = self.job
        if job is not None:
            job.cancel()

    def refresh(self) -> bool:
        """Bring the widgets up to date; False once the final state is shown."""
        with self._lock:
            job = self.job
            if job is None:  # forgotten: the last state shown stays
                self._final.set()
            if self._final.is_set():
                return False
            terminal = job.state.terminal
            self.status.value = _status(job)
            self.cancel_button.disabled = terminal
            if terminal:
                self.cancel_button.layout.display = "none"  # nothing left to cancel
                self.result.value = _result(job)
                try:
                    if self._on_final is not None:
                        self._on_final(job)
                finally:  # a failing callback must not leave wait() hanging
                    self._final.set()
            return not terminal

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job ended and its final state is on screen; True if it was."""
        return self._final.wait(timeout)

    def __repr__(self) -> str:
        job = self.job
        return job.status_line() if job is not None else "JobView of a forgotten job"


def _header(job: Any) -> str:
    voice = job.request.get("voice")
    voice = f" · {_html.esc(voice)}" if voice else ""
    job_id = f"<code>{_html.esc(job.id)}</code>"  # resumed ids come from the ledger file
    return f"<b>{_html.esc(job.provider)}</b> {_html.esc(job.kind)}{voice} · {job_id}"


def _status(job: Any) -> str:
    parts = [f"{job.elapsed_s:.1f} s", _html.polls(job.polls)]
    if job.raw_status and job.state is not State.CANCELLED:  # after a Cancel it is stale
        parts.append(f"status {job.raw_status!r}")
    if job.next_poll_at is not None and not job.state.terminal:
        wait = max(0.0, job.next_poll_at - job._clock.wall())
        parts.append(f"next poll in {wait:.1f} s")
    return f"{_html.badge(job.state)} <span>{_html.esc(' · '.join(parts))}</span>"


def _result(job: Any) -> str:
    if job.error is not None:
        return _html.error_box(str(job.error))
    if job.state is State.CANCELLED:  # the user's own Cancel: their choice, not an error
        return _html.note_box(_cancel_note(job))
    if job.clip is None:
        return _html.error_box(f"{job.state.value}: polling stopped; nothing was fetched.")
    clips = job.clip if isinstance(job.clip, list) else [job.clip]
    blocks = []
    for clip in clips:
        said = ""
        if clip.text and clip.text != job.request.get("text"):
            said = f'<div style="color:{_html.TEXT}">“{_html.esc(clip.text)}”</div>'
        name = clip.meta.get("voice_id")
        name = f"<div><b>voice {_html.esc(name)}</b></div>" if name is not None else ""
        player = _html.player(clip) + waveform.svg(clip)
        blocks.append(f"<div>{name}{said}{player}{_html.figures(job, clip)}</div>")
    return "".join(blocks)


_views: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # views hold jobs weakly
_views_lock = threading.Lock()


def view_for(job: Any) -> JobView:
    """The one live view of `job` (shown again, not rebuilt, when displayed twice)."""
    with _views_lock:
        view = _views.get(job)
        if view is None:
            view = _views[job] = JobView(job)
        return view


def _cancel_note(job: Any) -> str:
    """What the Cancel did, in the job's own words: the last note from "cancelled" on (whether
    the provider was asked to delete the job, or may still finish it)."""
    notes = [row["note"] for row in job.rows if row.get("note")]
    note = notes[-1] if notes else ""
    at = note.lower().rfind("cancelled")
    if at < 0:
        return f"Cancelled. {note}".strip()
    return note[at].upper() + note[at + 1 :]


def static_html(job: Any) -> str:
    """The view as plain HTML: header, badge and figures, and once the job ended its player
    or message. What a saved notebook, nbviewer or an HTML export shows."""
    result = _result(job) if job.state.terminal else ""
    return (
        f'<div class="tts-nb-job tts-nb-static" style="border:1px solid {_html.BORDER};'
        f'padding:6px 10px;margin:4px 0"><div>{_header(job)}</div>'
        f"<div>{_status(job)}</div>{result}</div>"
    )


def job_mimebundle(job: Any) -> dict[str, Any]:
    """The live view in Jupyter with its static copy beside it; a finished job's view is only
    the static copy (nothing in it moves); the one-line status as text everywhere."""
    if not in_kernel():
        return {"text/plain": job.status_line()}
    bundle = {"text/html": static_html(job)}
    if not job.state.terminal:
        bundle.update(view_for(job)._repr_mimebundle_())
    bundle["text/plain"] = job.status_line()
    return bundle


_display_ids: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def show(job: Any) -> None:
    """Display `job` as a cell output that turns into its final static copy once it ended.

    The replacement is an `update_display` sent from `post_run_cell` (main thread, inside a
    cell), so nbclient and Voila record it as well as browsers.
    """
    from IPython.display import display, update_display

    bundle = job_mimebundle(job)
    if job.state.terminal or "text/html" not in bundle:  # final already, or not in a kernel
        display(bundle, raw=True)
        return
    with _views_lock:
        display_id = _display_ids.get(job)
        first = display_id is None
        if first:
            display_id = _display_ids[job] = f"tts-nb-job-{uuid.uuid4().hex}"
    display(bundle, raw=True, display_id=display_id)
    if first:  # shown twice: one display id, both outputs replaced by one update
        view = view_for(job)
        ref = weakref.ref(job)

        def replace() -> None:
            shown = ref()
            if shown is not None:
                update_display(job_mimebundle(shown), raw=True, display_id=display_id)

        _resync.when(view._final.is_set, replace)
