"""`SpeakPanel`: provider, voice from the catalogue, language, text, options → a live job."""

from __future__ import annotations

import ast
from typing import Any

import ipywidgets as widgets

from ..adapters import adapter_for
from ..errors import InvalidInput, TTSError
from . import _html, _resync
from ._clients import by_provider
from .view import JobView

WIDE = widgets.Layout(width="100%")


class SpeakPanel(widgets.VBox):
    """Pick a provider and a voice, type, press Speak; the job runs while the kernel stays free.

    Args:
        clients: a client, a list of clients or {name: client}; default: every provider
            (each from its keys, or the simulator).
        text: the text to start with.

    Example:
        >>> panel = tn.SpeakPanel()
        >>> panel                     # press Speak, or: panel.speak_button.click()
        >>> panel.wait(30)            # for scripts and tests: until the result is on screen
    """

    def __init__(self, clients: Any = None, text: str = "Hello from tts_nb.") -> None:
        self.clients = by_provider(clients)
        self.jobs: list[Any] = []
        self.views: list[JobView] = []
        self.provider = widgets.Dropdown(options=list(self.clients), description="Provider")
        self.voice = widgets.Dropdown(description="Voice", layout=widgets.Layout(width="380px"))
        self.language = widgets.Dropdown(description="Language")
        self.text = widgets.Textarea(value=text, description="Text", layout=WIDE)
        self.options = widgets.Text(
            description="Options",
            placeholder="e.g. speed_x=1.2, xapi_hd=True",
            layout=WIDE,
        )
        self.speak_button = widgets.Button(description="Speak", icon="play", button_style="primary")
        self.message = widgets.HTML()
        self.job_area = widgets.VBox()
        self.history = widgets.HTML()
        self.provider.observe(lambda _change: self._load_provider(), names="value")
        self.speak_button.on_click(lambda _button: self.speak())
        super().__init__(
            [
                widgets.HBox([self.provider, self.voice, self.language]),
                self.text,
                self.options,
                widgets.HBox([self.speak_button, self.message]),
                self.job_area,
                self.history,
            ]
        )
        self.add_class("tts-nb-speak")
        self._load_provider()

    @property
    def client(self) -> Any:
        return self.clients[self.provider.value]

    def _load_provider(self) -> None:
        adapter = adapter_for(self.client)
        try:
            voices = adapter.voice_options(self.client)
            languages = adapter.languages(self.client)
        except TTSError as error:
            self.message.value = _html.error_box(str(error))
            return
        self.options.value = ""  # options are per provider
        self.voice.options = voices
        self.voice.value = voices[0][1] if voices else None
        self.voice.disabled = not voices
        self.language.options = languages
        values = [value for _label, value in languages]
        if values:
            default = adapter.default_language
            self.language.value = default if default in values else values[0]
        self.message.value = ""

    def speak(self) -> Any:
        """Start a job from the current inputs and show its live view; returns the job."""
        adapter = adapter_for(self.client)
        try:
            options = parse_options(self.options.value)
            job = adapter.speak(
                self.client, self.text.value, self.voice.value, self.language.value, options
            )
        except TTSError as error:
            self.message.value = _html.error_box(str(error))
            return None
        except TypeError as error:  # an option this provider's call does not take
            self.message.value = _html.error_box(
                f"{adapter.provider}: {error}. Remove it from Options."
            )
            return None
        self.message.value = ""
        self.jobs.append(job)
        self._show_history()
        view = JobView(job, on_final=lambda _job: self._show_history())
        self.views.append(view)
        self.job_area.children = (view,)
        _resync.resend_when(view._final.is_set, lambda: [self.history])
        return job

    def _show_history(self) -> None:
        from ..tables import jobs_frame

        frame = jobs_frame(self.jobs)[
            ["job", "provider", "voice", "state", "polls", "elapsed_s", "audio_s", "bytes"]
        ]
        self.history.value = "<b>this panel's jobs</b>" + _html.table(frame.iloc[::-1])

    def wait(self, timeout: float | None = None) -> bool:
        """Until the latest job's final state is on screen; True if it is."""
        return all(view.wait(timeout) for view in self.views[-1:])

    def __repr__(self) -> str:
        last = self.jobs[-1].status_line() if self.jobs else "no job yet"
        return f"SpeakPanel({', '.join(self.clients)}): {last}"


def parse_options(text: str) -> dict[str, Any]:
    """`speed_x=1.2, xapi_hd=True` → {"speed_x": 1.2, "xapi_hd": True} (Python literals)."""
    options: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        if not sep or not name.strip().isidentifier():
            raise InvalidInput(f"Options: {part!r} is not name=value, e.g. speed_x=1.2.")
        try:
            options[name.strip()] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            options[name.strip()] = value.strip()
    return options
