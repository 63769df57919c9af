"""Where keys come from, and how they are kept out of sight.

Keys come from an argument, `tn.login()` (asked with getpass, kept in this process's memory
only), the environment, or a `.env` file in the working directory (read with python-dotenv,
never exported to the process environment). They never come from widget values, which
notebooks save to disk. A `Secret` hides its value from every repr.
"""

from __future__ import annotations

import getpass
import os
import threading
from pathlib import Path

# What each provider's client reads, in the order `login()` asks for it.
PROVIDER_KEYS = {
    "typecast": ("TYPECAST_API_KEY",),
    "camb": ("CAMB_API_KEY",),
    "aspose": ("ASPOSE_CLIENT_ID", "ASPOSE_CLIENT_SECRET"),
}
_session: dict[str, Secret] = {}
_session_lock = threading.Lock()


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
    if not given:
        with _session_lock:
            remembered = _session.get(env_name)
        if remembered:
            return remembered
    value = given or os.environ.get(env_name) or _dotenv_value(env_name)
    return Secret(value) if value and value.strip() else None


def login(provider: str) -> None:
    """Ask for a provider's key with `getpass` and keep it in memory for this kernel only.

    Nothing is echoed, printed, written to disk or stored in the notebook: clients created
    afterwards use the key, and a kernel restart forgets it.

    Example:
        >>> tn.login("typecast")     # a password prompt; then
        >>> tc = tn.Typecast()
    """
    names = PROVIDER_KEYS.get(str(provider).lower())
    if names is None:
        from .errors import InvalidInput

        raise InvalidInput(
            f"Unknown provider {provider!r}: use one of {', '.join(sorted(PROVIDER_KEYS))}."
        )
    entered = {}
    for name in names:
        value = getpass.getpass(f"{name} (hidden; kept in memory for this kernel only): ")
        if not value or not value.strip():
            from .errors import InvalidInput

            raise InvalidInput(f"No {name} entered: nothing was changed. Call login() again.")
        entered[name] = Secret(value)
    with _session_lock:
        _session.update(entered)
    print(f"tts_nb: {provider} key kept in memory for this kernel; new clients use it.")


def logout(provider: str | None = None) -> None:
    """Forget the keys `login()` kept (all of them without a provider)."""
    names = PROVIDER_KEYS.get(str(provider).lower(), ()) if provider else tuple(_session)
    with _session_lock:
        for name in names:
            _session.pop(name, None)


def find_setting(given: str | None, env_name: str) -> str | None:
    """A non-secret setting (a base URL) from the argument, the environment or `.env`."""
    return given or os.environ.get(env_name) or _dotenv_value(env_name) or None


def simulator_forced() -> bool:
    """`TTS_NB_PROVIDER=simulator` (Binder, CI) sends every client to the simulator."""
    return (os.environ.get("TTS_NB_PROVIDER") or "").strip().lower() == "simulator"
