"""Reading records back: every decoded record is checked before anything indexes into it.

A damaged or hand-edited record raises `MalformedRecord`, which the ledger turns into one
warning and a skipped record, so one bad row never stops the others (tables, resume, reuse,
prune).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..state import State


@dataclass(frozen=True)
class Stored:
    """A result found in the ledger: which job made it, when, and the rebuilt result."""

    job_id: str
    finished_at: float
    result: Any

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.finished_at))
        return f"job {self.job_id} from {when}"


_STATES = frozenset(state.value for state in State)


class MalformedRecord(ValueError):
    """A ledger record that does not have the layout this version writes (damaged or edited)."""


_NUMBER = (int, float)
_OPTIONAL_TEXT = (str, type(None))
_FIELD_TYPES: dict[str, Any] = {
    "id": str,
    "provider": str,
    "kind": str,
    "endpoint": str,
    "fingerprint": str,
    "state": str,
    "phase": str,
    "polls": int,
    "created_at": _NUMBER,
    "updated_at": _NUMBER,
    "finished_at": (*_NUMBER, type(None)),
    "raw_status": _OPTIONAL_TEXT,
    "error": _OPTIONAL_TEXT,
    "error_type": _OPTIONAL_TEXT,
    "reused_from": _OPTIONAL_TEXT,
    "owner": _OPTIONAL_TEXT,
    "token": _OPTIONAL_TEXT,
}
_CLIP_TYPES: dict[str, Any] = {
    "sha256": str,
    "format": str,
    "text": _OPTIONAL_TEXT,
    "voice": _OPTIONAL_TEXT,
    "meta": dict,
    "duration_s": (*_NUMBER, type(None)),
    "bytes": (int, type(None)),
}
_DIGEST = re.compile(r"[0-9a-f]{64}")
_FORMAT = re.compile(r"[a-z0-9]{1,8}")


def _json_field(record: Mapping[str, Any], name: str, kind: type, optional: bool = False) -> Any:
    raw = record.get(name)
    if optional and not raw:
        return None
    try:
        value = json.loads(raw)
    except (TypeError, ValueError):
        raise MalformedRecord(f"{name} is not JSON") from None
    if optional and value is None:
        return None
    if not isinstance(value, kind):
        raise MalformedRecord(f"{name} is not a JSON {kind.__name__}")
    return value


def _check_types(values: Mapping[str, Any], types: Mapping[str, Any], what: str) -> None:
    for name, kind in types.items():
        value = values.get(name)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise MalformedRecord(f"{what} {name} is {type(value).__name__}")


def parse_result(value: Any) -> dict[str, Any] | None:
    """A record's `result` column, checked: ``{"list": bool, "clips": [items]}`` or None.

    Raises MalformedRecord when it is not what `_put_result` writes, so nothing downstream
    (tables, resume, reuse, prune) indexes into a damaged value.
    """
    if not value:
        return None
    stored = _json_field({"result": value}, "result", dict)
    clips = stored.get("clips")
    if not isinstance(stored.get("list"), bool) or not isinstance(clips, list) or not clips:
        raise MalformedRecord("result has no clips")
    for item in clips:
        if not isinstance(item, dict):
            raise MalformedRecord("result clip is not an object")
        _check_types(item, _CLIP_TYPES, "result clip")
        if not _DIGEST.fullmatch(item["sha256"]) or not _FORMAT.fullmatch(item["format"]):
            raise MalformedRecord("result clip has a bad hash or format")
    return stored


def decoded(record: Mapping[str, Any]) -> dict[str, Any]:
    """A row of the jobs table as a checked dict; MalformedRecord when it cannot be used."""
    record = dict(record)
    _check_types(record, _FIELD_TYPES, "field")
    if record["state"] not in _STATES:
        raise MalformedRecord(f"state {record['state']!r} is unknown")
    record["request"] = _json_field(record, "request", dict)
    record["body"] = _json_field(record, "body", dict, optional=True)
    record["provider_ids"] = _json_field(record, "provider_ids", dict)
    record["embedded"] = bool(record["embedded"])
    record["submit_unconfirmed"] = bool(record["submit_unconfirmed"])
    stored = parse_result(record.get("result"))
    record["clips"] = stored["clips"] if stored is not None else []
    return record


def digests(result: Any) -> list[str]:
    """The blob hashes a result column refers to (none when it is malformed)."""
    try:
        stored = parse_result(result)
    except MalformedRecord:
        return []
    return [item["sha256"] for item in stored["clips"]] if stored else []


def history_row(found: Mapping[str, Any]) -> dict[str, Any] | None:
    """One stored history row, or None when it is not a JSON object."""
    try:
        row = json.loads(found["data"])
    except (TypeError, ValueError):
        return None
    return row if isinstance(row, dict) else None
