"""Markers in a request's text make rare outcomes happen on demand, deterministically.

Write ``[[sim:NAME]]`` anywhere in the text; the marker is removed before the text is spoken.

============================  ===============================================================
``[[sim:fail]]``              the job ends failed (``failed``, ``ERROR``, ``Error``)
``[[sim:unknown-status]]``    the job reports a status string the provider never documented, forever
``[[sim:slow]]``              the job takes 30 times longer
``[[sim:empty-audio]]``       the job succeeds but its audio is empty (0 bytes)
``[[sim:not-audio]]``         the job succeeds but its "audio" is a JSON error document
``[[sim:timeout]]``           the job ends with the provider's own timeout status (CAMB ``TIMEOUT``)
``[[sim:payment-required]]``  the job ends needing payment (CAMB ``PAYMENT_REQUIRED``)
``[[sim:not-exist]]``         the job's result is gone (Aspose ``NotExist``)
``[[sim:garbled]]``           the job succeeds but its inline audio is garbled (Aspose: not base64)
``[[sim:broken-stream]]``     a streamed answer breaks off mid-body (CAMB ``/tts-stream``)
============================  ===============================================================
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MARKER = re.compile(r"\[\[sim:([a-z-]+)\]\]")
KNOWN = {
    "fail",
    "unknown-status",
    "slow",
    "empty-audio",
    "not-audio",
    "timeout",
    "payment-required",
    "not-exist",
    "garbled",
    "broken-stream",
}


@dataclass(frozen=True)
class Markers:
    fail: bool = False
    unknown_status: bool = False
    slow: bool = False
    empty_audio: bool = False
    not_audio: bool = False
    timeout: bool = False
    payment_required: bool = False
    not_exist: bool = False
    garbled: bool = False
    broken_stream: bool = False


def parse_markers(text: str) -> tuple[Markers, str]:
    """The markers found in `text`, and the text without them (what gets spoken)."""
    names = {name for name in MARKER.findall(text) if name in KNOWN}
    spoken = " ".join(MARKER.sub(" ", text).split())
    return Markers(**{name.replace("-", "_"): True for name in names}), spoken
