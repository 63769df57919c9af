"""`VoiceDesignPanel`: CAMB text-to-voice — describe a voice, hear the previews, speak with one."""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from ..adapters import adapter_for
from ..errors import TTSError
from . import _html, _resync
from ._clients import provider_class
from .view import JobView

WIDE = widgets.Layout(width="100%")
EXAMPLE = (
    "A warm, calm middle-aged woman with a slight British accent, speaking slowly and clearly, "
    "like a late-night radio host reading poetry to a quiet audience."
)


class VoiceDesignPanel(widgets.VBox):
    """Describe → previews → pick one → speak with it, on CAMB.AI.

    Example:
        >>> panel = tn.VoiceDesignPanel()
        >>> panel.design_button.click(); panel.wait_design(60)
        >>> panel.pick.value = panel.pick.options[0][1]
        >>> panel.speak_button.click(); panel.wait(60)
    """

    def __init__(self, camb: Any = None, text: str = "Hello, this is my new voice.") -> None:
        self.camb = camb if camb is not None else provider_class("camb")()
        self.description = widgets.Textarea(
            value=EXAMPLE,
            description="Describe",
            layout=widgets.Layout(width="100%", height="70px"),
        )
        self.text = widgets.Text(value=text, description="Text", layout=WIDE)
        self.design_button = widgets.Button(
            description="Design voices", icon="magic", button_style="primary"
        )
        self.message = widgets.HTML()
        self.design_area = widgets.VBox()
        self.pick = widgets.RadioButtons(description="Use voice", options=[], disabled=True)
        self.speak_text = widgets.Text(value=text, description="Say", layout=WIDE)
        adapter = adapter_for(self.camb)
        self.language = widgets.Dropdown(
            options=adapter.languages(self.camb),
            value=adapter.default_language,
            description="Language",
        )
        self.speak_button = widgets.Button(
            description="Speak with it", icon="play", button_style="success", disabled=True
        )
        self.speak_area = widgets.VBox()
        self.design_job: Any = None
        self.speak_job: Any = None
        self._views: dict[str, JobView] = {}
        self.design_button.on_click(lambda _b: self.design())
        self.speak_button.on_click(lambda _b: self.speak())
        super().__init__(
            [
                self.description,
                self.text,
                widgets.HBox([self.design_button, self.message]),
                self.design_area,
                self.pick,
                self.speak_text,
                widgets.HBox([self.language, self.speak_button]),
                self.speak_area,
            ]
        )
        self.add_class("tts-nb-design")

    def design(self) -> Any:
        """Start text-to-voice; when it finishes, its previews become the voice choices."""
        try:
            job = self.camb.text_to_voice(self.text.value, voice_description=self.description.value)
        except TTSError as error:
            self.message.value = _html.error_box(str(error))
            return None
        self.message.value = ""
        self.design_job = job
        self.pick.options, self.pick.disabled, self.speak_button.disabled = [], True, True
        self._views["design"] = JobView(job, on_final=self._offer_previews)
        _resync.resend_when(
            self._views["design"]._final.is_set,
            lambda: [self.pick, self.speak_button, self.message],
        )
        self.design_area.children = (self._views["design"],)
        return job

    def _offer_previews(self, job: Any) -> None:
        if not job.clip:
            return
        self.pick.options = [(f"preview {i + 1}", i) for i in range(len(job.clip))]
        self.pick.value = self.pick.options[0][1]
        self.pick.disabled = self.speak_button.disabled = False

    def speak(self) -> Any:
        """Speak the text with the picked preview, kept as a voice first (CAMB's
        /create-custom-voice: a preview is no voice until kept)."""
        preview = self.design_job.clip[self.pick.value]
        try:
            voice_id = preview.meta.get("voice_id") or self.camb.keep_voice(
                preview, name=f"tts_nb preview {self.pick.value + 1}", gender="not_known"
            )
            job = self.camb.tts(
                self.speak_text.value, voice_id=voice_id, language=self.language.value
            )
        except TTSError as error:
            self.message.value = _html.error_box(str(error))
            return None
        self.speak_job = job
        self._views["speak"] = JobView(job)
        self.speak_area.children = (self._views["speak"],)
        return job

    def wait_design(self, timeout: float | None = None) -> bool:
        view = self._views.get("design")
        return view is not None and view.wait(timeout)

    def wait(self, timeout: float | None = None) -> bool:
        """Until the latest started job's final state is on screen."""
        view = self._views.get("speak") or self._views.get("design")
        return view is not None and view.wait(timeout)

    def __repr__(self) -> str:
        jobs = [j.status_line() for j in (self.design_job, self.speak_job) if j is not None]
        return "VoiceDesignPanel: " + ("; ".join(jobs) or "no job yet")
