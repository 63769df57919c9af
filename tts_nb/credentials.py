"""Where keys come from, and how they are kept out of sight.

Keys come from an argument, the environment, or a `.env` file in the working directory (read
with python-dotenv, never exported to the process environment). They never come from widget
values, which notebooks save to disk. A `Secret` hides its value from every repr.
"""

from __future__ import annotations

import os
from pathlib import Path


class Secret:
    """A credential whose repr and str never show the value; `reveal()` is explicit."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value.strip()

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('••••')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self):
        raise TypeError("a Secret cannot be pickled")


def _dotenv_value(name: str) -> str | None:
    path = Path.cwd() / ".env"
    if not path.is_file():
        return None
    from dotenv import dotenv_values

    return dotenv_values(path).get(name)


def find_secret(given: str | Secret | None, env_name: str) -> Secret | None:
    """The credential from the argument, else `env_name` in the environment, else `.env`."""
    if isinstance(given, Secret):
        return given if given else None
    value = given or os.environ.get(env_name) or _dotenv_value(env_name)
    return Secret(value) if value and value.strip() else None


def find_setting(given: str | None, env_name: str) -> str | None:
    """A non-secret setting (a base URL) from the argument, the environment or `.env`."""
    return given or os.environ.get(env_name) or _dotenv_value(env_name) or None


def simulator_forced() -> bool:
    """`TTS_NB_PROVIDER=simulator` (Binder, CI) sends every client to the simulator."""
    return (os.environ.get("TTS_NB_PROVIDER") or "").strip().lower() == "simulator"
