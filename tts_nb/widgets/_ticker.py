"""One shared background thread that refreshes running views twice a second.

Elapsed time and "next poll in" change without any event from the job, so something must
tick. One daemon thread serves every view; a subscriber returns False to leave. It only
calls the views' refresh functions, which set widget values and nothing else.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger("tts_nb")

INTERVAL_S = 0.5

_subscribers: list[Callable[[], bool]] = []
_lock = threading.Lock()
_wake = threading.Condition(_lock)
_thread: threading.Thread | None = None


def subscribe(refresh: Callable[[], bool]) -> None:
    """Call `refresh()` every tick until it returns False."""
    global _thread
    with _lock:
        _subscribers.append(refresh)
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_run, name="tts_nb-ticker", daemon=True)
            _thread.start()
        _wake.notify()


def _run() -> None:
    while True:
        with _lock:
            while not _subscribers:
                _wake.wait()
            current = list(_subscribers)
        finished = []
        for refresh in current:
            try:
                keep = refresh()
            except Exception:  # a broken view must not stop the others
                log.exception("tts_nb: view refresh failed")
                keep = False
            if not keep:
                finished.append(refresh)
        with _lock:
            for refresh in finished:
                _subscribers.remove(refresh)
            _wake.wait(INTERVAL_S)
