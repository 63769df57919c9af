"""The live view of one job: what a `Job` shows when it is the last line of a cell.

The view only observes the job (`job.observe`) and a shared ticker; both call `refresh()` from
background threads, which sets `widgets.HTML.value` and `Button.disabled` — trait values only,
the one thing that works in JupyterLab, Notebook 7, Voila and nbclient alike.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from ..kernel import in_kernel
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
                border="1px solid #ddd", padding="6px 10px", margin="4px 0", width="auto"
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
    if job.raw_status:
        parts.append(f"status {job.raw_status!r}")
    if job.next_poll_at is not None and not job.state.terminal:
        wait = max(0.0, job.next_poll_at - job._clock.wall())
        parts.append(f"next poll in {wait:.1f} s")
    return f"{_html.badge(job.state)} <span>{_html.esc(' · '.join(parts))}</span>"


def _result(job: Any) -> str:
    if job.error is not None:
        return _html.error_box(str(job.error))
    if job.clip is None:
        return _html.error_box(f"{job.state.value}: polling stopped; nothing was fetched.")
    clips = job.clip if isinstance(job.clip, list) else [job.clip]
    blocks = []
    for clip in clips:
        said = ""
        if clip.text and clip.text != job.request.get("text"):
            said = f'<div style="color:#333">“{_html.esc(clip.text)}”</div>'
        name = clip.meta.get("voice_id")
        name = f"<div><b>voice {_html.esc(name)}</b></div>" if name is not None else ""
        blocks.append(f"<div>{name}{said}{_html.player(clip)}{_html.figures(job, clip)}</div>")
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


def job_mimebundle(job: Any) -> dict[str, Any]:
    """The live view in Jupyter, the one-line status as text everywhere (and beside it)."""
    if not in_kernel():
        return {"text/plain": job.status_line()}
    bundle = view_for(job)._repr_mimebundle_()
    bundle["text/plain"] = job.status_line()
    return bundle
