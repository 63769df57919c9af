"""ipywidgets views and panels. Widgets only observe jobs; background threads set values only.

Imported on first use (`tn.SpeakPanel`, a job shown in a cell), never by `import tts_nb`.
"""

from .compare import ABView, CompareView
from .design import VoiceDesignPanel
from .jobs import JobsPanel
from .speak import SpeakPanel
from .translate import TranslatePanel
from .view import JobView

__all__ = [
    "ABView",
    "CompareView",
    "JobView",
    "JobsPanel",
    "SpeakPanel",
    "TranslatePanel",
    "VoiceDesignPanel",
]
