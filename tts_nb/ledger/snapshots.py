"""What the ledger writes of a job: its fingerprint, owner, a consistent snapshot, no signatures.

A request is identified by a fingerprint (sha256 of provider, kind, endpoint and the canonical
body); a job by the process polling it (``host:pid``). Snapshots are read under the job's own
lock and carry a sequence number, so a slower thread never overwrites a newer state. Nothing
secret is stored: signed URLs lose their signatures before a row or an error is written.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import re
import socket
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit


def fingerprint(provider: str, kind: str, endpoint: str, body: Any) -> str:
    """sha256 of what makes two requests identical: provider, kind, endpoint and the body.

    The body is serialised canonically (sorted keys, no whitespace), so the order in which
    options were passed does not matter.
    """
    canonical = json.dumps(
        {"provider": provider, "kind": kind, "endpoint": endpoint.rstrip("/"), "body": body},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def this_owner() -> str:
    """Who polls a job: ``host:pid`` of this process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def owner_alive(owner: str | None) -> bool:
    """Whether the process that owns a job still runs (unknown hosts count as alive)."""
    if not owner:
        return False
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname():
        return True  # another machine sharing the directory: assume it is still working
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError, OSError):
        return True
    return True


_sequence = itertools.count()


def snapshot_of(job) -> dict[str, Any]:
    """Everything the ledger keeps of a job, read consistently under the job's own lock."""
    with getattr(job, "_lock", contextlib.nullcontext()):
        return {
            "seq": next(_sequence),
            "state": job.state.value,
            "raw_status": job.raw_status,
            "phase": phase(job),
            "polls": job.polls,
            "provider_ids": dict(job.provider_ids),
            "error": job.error,
            "submit_unconfirmed": bool(getattr(job, "submit_unconfirmed", False)),
            "reused_from": getattr(job, "reused_from", None),
            "finished_at": job.finished_at,
            "result": job.clip,
            "rows": job.rows,
            "token": _token(job),
        }


def _token(job) -> str | None:
    """The job's continuation token once it has provider ids (before, there is nothing to
    resume); None for a job without tokens (a test double)."""
    make = getattr(job, "continuation_token", None)
    return make() if make is not None and job.provider_ids else None


def phase(job) -> str:
    """queued (nothing sent) → submitting (a submit may be on the wire) → submitted → done."""
    if job.state.terminal:
        return "done"
    if job.provider_ids:
        return "submitted"
    if getattr(job, "submit_started_at", None) is not None:
        return "submitting"
    return "queued"


# Query parameters that make a URL a bearer capability (S3/CloudFront/GCS/Azure signatures,
# tokens). History rows and errors name the URLs a job fetched, for reading later; a signed
# link is never needed again once its bytes are stored (a resumed job polls for a fresh one),
# so the ledger keeps it without these. Provider ids are stored whole: they are what
# `tn.resume()` polls with, and they carry no signatures (poll URLs, task and run ids).
_SIGNING = re.compile(
    r"x-amz-.*|x-goog-.*|signature|sig|expires|key-pair-id|policy|token|access_token"
    r"|googleaccessid|credential|security-token|sv|se|sp|sr|st|spr|skoid|sktid",
    re.IGNORECASE,
)
_URL = re.compile(r"https?://[^\s'\"<>]+")


def unsigned(text: str) -> str:
    """`text` with the signing parameters removed from every URL in it."""
    return _URL.sub(lambda m: _unsigned_url(m.group(0)), text)


def _unsigned_url(url: str) -> str:
    parts = urlsplit(url)
    if not parts.query:
        return url
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    kept = [(k, v) for k, v in kept if not _SIGNING.fullmatch(k)]
    return urlunsplit(parts._replace(query=urlencode(kept)))


def stored_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """A history row as the ledger keeps it: URLs in it without their signatures."""
    return {k: unsigned(v) if isinstance(v, str) else v for k, v in row.items()}


def dumps(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False, sort_keys=True)
