"""`TranslatePanel`: CAMB translated-tts — the translation as text and as speech."""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from ..adapters import adapter_for
from ..errors import TTSError
from . import _html
from ._clients import provider_class
from .view import JobView


class TranslatePanel(widgets.VBox):
    """Source and target languages from CAMB's catalogue, a voice, a text → translation + audio.

    Example:
        >>> panel = tn.TranslatePanel()
        >>> panel.target.value = ...          # a language id from camb.languages()
        >>> panel.translate_button.click(); panel.wait(60)
    """

    def __init__(self, camb: Any = None, text: str = "Good morning, how are you today?") -> None:
        self.camb = camb if camb is not None else provider_class("camb")()
        adapter = adapter_for(self.camb)
        languages = adapter.languages(self.camb)
        self.source = widgets.Dropdown(options=languages, description="From")
        self.target = widgets.Dropdown(options=languages, description="To")
        self.source.value = adapter.default_language
        others = [value for _label, value in languages if value != adapter.default_language]
        if others:
            self.target.value = others[0]
        self.voice = widgets.Dropdown(
            options=adapter.voice_options(self.camb),
            description="Voice",
            layout=widgets.Layout(width="380px"),
        )
        self.text = widgets.Textarea(
            value=text, description="Text", layout=widgets.Layout(width="100%")
        )
        self.translate_button = widgets.Button(
            description="Translate and speak",
            icon="language",
            button_style="primary",
            layout=widgets.Layout(width="auto"),
        )
        self.message = widgets.HTML()
        self.job_area = widgets.VBox()
        self.job: Any = None
        self._view: JobView | None = None
        self.translate_button.on_click(lambda _b: self.translate())
        super().__init__(
            [
                widgets.HBox([self.source, self.target, self.voice]),
                self.text,
                widgets.HBox([self.translate_button, self.message]),
                self.job_area,
            ]
        )
        self.add_class("tts-nb-translate")

    def translate(self) -> Any:
        """Start translated-tts; the view shows the translation above the player."""
        try:
            job = self.camb.translated_tts(
                self.text.value,
                voice_id=self.voice.value,
                source_language=self.source.value,
                target_language=self.target.value,
            )
        except TTSError as error:
            self.message.value = _html.error_box(str(error))
            return None
        self.message.value = ""
        self.job = job
        self._view = JobView(job)
        self.job_area.children = (self._view,)
        return job

    def wait(self, timeout: float | None = None) -> bool:
        return self._view is not None and self._view.wait(timeout)

    def __repr__(self) -> str:
        return "TranslatePanel: " + (self.job.status_line() if self.job else "no job yet")
