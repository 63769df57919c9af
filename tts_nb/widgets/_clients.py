"""Which clients a panel offers when it is given none: every provider tts_nb has."""

from __future__ import annotations

from typing import Any

from ..providers import client_class, client_classes

__all__ = ["by_provider", "default_clients", "provider_class"]

# A panel asks by provider name; the registry answers (None: this install lacks it).
provider_class = client_class


def default_clients() -> dict[str, Any]:
    """One client per available provider, from keys or the simulator, by provider name."""
    return {name: cls() for name, cls in client_classes().items()}


def by_provider(clients: Any) -> dict[str, Any]:
    """A list/dict/single client as {provider: client} (the default: every provider)."""
    if clients is None:
        return default_clients()
    if isinstance(clients, dict):
        return dict(clients)
    if hasattr(clients, "provider"):
        clients = [clients]
    return {client.provider: client for client in clients}
