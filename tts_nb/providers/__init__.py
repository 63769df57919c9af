"""The provider clients, one module each, and the one registry of what they are.

Every fact about a provider (its name, key variables, endpoint setting, how its secrets are
spelled in a shell, its adapter for panels) is a class attribute of its client, so the
tables that need them (`tn.login()`, `tn.status()`, `tn.doctor()`, teaching's curl, the
panels) read them here instead of keeping copies that could disagree.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..client import Client

# The provider modules, in the order tables list them.
MODULES = ("typecast", "camb", "aspose")


def client_classes() -> dict[str, type[Client]]:
    """provider name → client class, for every provider module this install can import."""
    from ..client import Client

    classes: dict[str, type[Client]] = {}
    for name in MODULES:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ImportError:
            continue
        for value in vars(module).values():  # the client the module defines (not a base)
            if isinstance(value, type) and issubclass(value, Client) and "provider" in vars(value):
                classes[value.provider] = value
    return classes


def client_class(provider: str) -> type[Client] | None:
    """The client class of `provider`, or None when there is no such provider here."""
    return client_classes().get(provider)
