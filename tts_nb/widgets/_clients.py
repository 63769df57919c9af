"""Which clients a panel offers when it is given none: every provider tts_nb has."""

from __future__ import annotations

import importlib
from typing import Any

PROVIDER_CLASSES = (
    ("typecast", "tts_nb.providers.typecast", "Typecast"),
    ("camb", "tts_nb.providers.camb", "Camb"),
    ("aspose", "tts_nb.providers.aspose", "Aspose"),
)


def provider_class(provider: str) -> Any:
    """The client class of `provider`, or None when this install does not have it."""
    for name, module, attribute in PROVIDER_CLASSES:
        if name == provider:
            try:
                return getattr(importlib.import_module(module), attribute)
            except ImportError:
                return None
    return None


def default_clients() -> dict[str, Any]:
    """One client per available provider, from keys or the simulator, by provider name."""
    clients = {}
    for name, _module, _attribute in PROVIDER_CLASSES:
        cls = provider_class(name)
        if cls is not None:
            clients[name] = cls()
    return clients


def by_provider(clients: Any) -> dict[str, Any]:
    """A list/dict/single client as {provider: client} (the default: every provider)."""
    if clients is None:
        return default_clients()
    if isinstance(clients, dict):
        return dict(clients)
    if hasattr(clients, "provider"):
        clients = [clients]
    return {client.provider: client for client in clients}
