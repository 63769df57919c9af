"""Where keys come from, and how they are kept out of sight.

Keys come from an argument, `tn.login()` (asked with getpass, kept in this process's memory
only), the environment, or a `.env` file in the working directory (read with python-dotenv,
never exported to the process environment). They never come from widget values, which
notebooks save to disk. A `Secret` hides its value from every repr.

A key and the endpoint it is sent to are found together (`find_credentials`): a `.env` file
may redirect only the keys it holds itself, since it sits in whatever folder the kernel was
started in (a cloned repository, a downloaded course) while the environment and `tn.login()`
are the user's own.
"""

from __future__ import annotations

import getpass
import os
import threading
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .runtime import current

_session: dict[str, Secret] = {}
_session_lock = threading.Lock()
DOTENV = ".env"  # the one source that may not redirect keys from the others
_PLACES = {"argument": "an argument", "login": "tn.login()", "environment": "the environment"}


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


def provider_keys() -> dict[str, tuple[str, ...]]:
    """provider → the key variables its client reads, in the order `login()` asks for them
    (each client's `key_variables`)."""
    from .providers import client_classes

    return {provider: cls.key_variables for provider, cls in client_classes().items()}


def __getattr__(name: str):
    """`PROVIDER_KEYS`, read from the clients when asked for (they import this module)."""
    if name == "PROVIDER_KEYS":
        return provider_keys()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _dotenv_value(name: str) -> str | None:
    path = Path.cwd() / ".env"
    if not path.is_file():
        return None
    from dotenv import dotenv_values

    return dotenv_values(path).get(name)


def find_secret(given: str | Secret | None, env_name: str) -> Secret | None:
    """The credential from the argument, else `env_name` in the environment, else `.env`."""
    return _find_secret(given, env_name)[0]


def _find_secret(given: str | Secret | None, env_name: str) -> tuple[Secret | None, str | None]:
    """The credential and where it came from: "argument", "login", "environment" or ".env"."""
    if isinstance(given, Secret):
        return (given, "argument") if given else (None, None)
    if given:
        source = "argument"
    else:
        with _session_lock:
            remembered = _session.get(env_name)
        if remembered:
            return remembered, "login"
        given, source = os.environ.get(env_name), "environment"
        if not given:
            given, source = _dotenv_value(env_name), DOTENV
    return (Secret(given), source) if given and given.strip() else (None, None)


@dataclass(frozen=True)
class Found:
    """A provider's keys and the endpoint override they may be sent to, found as a pair.

    Attributes:
        keys: each key variable's value (None when not set).
        key_source: where the keys came from ("argument", "login", "environment", ".env"),
            the most trusted one when they came from several; None without keys.
        url: the endpoint override, or None for the provider's own endpoint.
        url_source: where `url` came from ("argument", "environment", ".env").
    """

    keys: Mapping[str, Secret | None]
    key_source: str | None
    url: str | None
    url_source: str | None

    def key(self, name: str) -> Secret | None:
        return self.keys.get(name)


def find_credentials(
    given: Mapping[str, str | Secret | None], *, base_url: str | None, url_env: str
) -> Found:
    """A provider's keys (argument > `tn.login()` > environment > `.env`, each by its variable
    name in `given`) and the endpoint they may go to.

    An explicit `base_url` is the caller's own choice, and `url_env` in the environment is the
    user's; `url_env` in `.env` counts only when no key comes from a more trusted place (else
    a `.env` planted in the working folder could send the environment's key to its own
    server): it is then ignored with a warning that says how to use it.
    """
    keys, sources = {}, []
    for name, value in given.items():
        keys[name], source = _find_secret(value, name)
        if source:
            sources.append(source)
    trusted = [source for source in sources if source != DOTENV]
    key_source = trusted[0] if trusted else (DOTENV if sources else None)
    if base_url:
        return Found(keys, key_source, base_url, "argument")
    url = (os.environ.get(url_env) or "").strip()
    if url:
        return Found(keys, key_source, url, "environment")
    url = (_dotenv_value(url_env) or "").strip()
    if url and key_source in (None, DOTENV):
        return Found(keys, key_source, url, DOTENV)
    if url:
        names = " and ".join(name for name, key in keys.items() if key is not None)
        warnings.warn(
            f"tts_nb: {url_env} in {Path.cwd() / DOTENV} is ignored, because {names} comes "
            f"from {_PLACES[key_source]}, not from that file: a .env file may only redirect the "
            f"keys it holds. If that endpoint is yours, set {url_env} in the environment or "
            "pass base_url=.",
            stacklevel=4,
        )
    return Found(keys, key_source, None, None)


def login(provider: str) -> None:
    """Ask for a provider's key with `getpass` and keep it in memory for this kernel only.

    Nothing is echoed, printed, written to disk or stored in the notebook: clients created
    afterwards use the key, and a kernel restart forgets it.

    Example:
        >>> tn.login("typecast")     # a password prompt; then
        >>> tc = tn.Typecast()
    """
    known = provider_keys()
    names = known.get(str(provider).lower())
    if names is None:
        from .errors import InvalidInput

        raise InvalidInput(f"Unknown provider {provider!r}: use one of {', '.join(sorted(known))}.")
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
    names = provider_keys().get(str(provider).lower(), ()) if provider else tuple(_session)
    with _session_lock:
        for name in names:
            _session.pop(name, None)


def simulator_forced() -> bool:
    """`TTS_NB_PROVIDER=simulator` (Binder, CI) or `tn.use_simulator()` (this runtime, until
    `tn.reset()`) sends every client to the simulator."""
    return forced_by() is not None


def forced_by() -> str | None:
    """What sends every client to the simulator, in the words notices use; None: nothing."""
    if (os.environ.get("TTS_NB_PROVIDER") or "").strip().lower() == "simulator":
        return "TTS_NB_PROVIDER=simulator"
    return "tn.use_simulator()" if current().simulator_forced else None
