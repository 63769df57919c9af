"""Find credentials wherever they might leak: text, bytes, DataFrames, exceptions, log records,
nested containers, files and whole directories (a ledger, a saved notebook).

Reusable by any test: `assert_no_secrets(things, secrets)` fails listing every place a secret
(or its URL-quoted, base64 or JSON-escaped form) was found.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

MIN_LENGTH = 6  # shorter "secrets" would match by accident


def variants(secret: str) -> set[str]:
    """The forms a secret can take on its way out: as is, URL-quoted, base64, JSON-escaped."""
    forms = {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]}
    forms.add(base64.b64encode(secret.encode()).decode().rstrip("="))
    return {form for form in forms if len(form) >= MIN_LENGTH}


def _texts(thing: Any, where: str, seen: set[int]) -> Iterable[tuple[str, str | bytes]]:
    if id(thing) in seen:
        return
    seen.add(id(thing))
    if isinstance(thing, (str, bytes)):
        yield where, thing
    elif isinstance(thing, Path):
        paths = [p for p in thing.rglob("*") if p.is_file()] if thing.is_dir() else [thing]
        for path in paths:
            yield f"{where}{path}", path.read_bytes()
    elif isinstance(thing, logging.LogRecord):
        yield where, thing.getMessage()
        if thing.exc_text:
            yield f"{where} traceback", thing.exc_text
    elif isinstance(thing, BaseException):
        yield where, f"{thing!s} {thing!r} {thing.args!r}"
        for attribute in ("__cause__", "__context__"):
            if getattr(thing, attribute, None) is not None:
                yield from _texts(getattr(thing, attribute), f"{where}.{attribute}", seen)
    elif hasattr(thing, "to_csv") and hasattr(thing, "columns"):  # a DataFrame
        yield where, thing.to_csv()
        yield f"{where} repr", repr(thing)
    elif isinstance(thing, dict):
        for key, value in thing.items():
            yield from _texts(key, f"{where}[key]", seen)
            yield from _texts(value, f"{where}[{key!r}]", seen)
    elif isinstance(thing, (list, tuple, set, frozenset)):
        for i, value in enumerate(thing):
            yield from _texts(value, f"{where}[{i}]", seen)
    else:
        yield where, repr(thing)
        yield f"{where} str", str(thing)


def find_secrets(things: Any, secrets: Iterable[str], where: str = "") -> list[str]:
    """Where any form of any secret occurs in `things` (empty when clean)."""
    forms = {form for secret in secrets if secret for form in variants(secret)}
    found = []
    for place, text in _texts(things, where, set()):
        for form in forms:
            needle = form.encode() if isinstance(text, bytes) else form
            if needle in text:
                found.append(f"{place or 'value'}: contains {form[:3]}…")
    return found


def assert_no_secrets(things: Any, secrets: Iterable[str], where: str = "") -> None:
    found = find_secrets(things, secrets, where)
    assert not found, "secrets leaked:\n" + "\n".join(found)
