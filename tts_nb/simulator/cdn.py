"""The download CDN: a second origin whose links expire, like signed S3/CloudFront URLs.

It never checks credentials and must never receive any (tests look at its request log).
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass

from .server import Request, Response

EXPIRED_BODY = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
    "<Message>Request has expired</Message></Error>"
)


@dataclass
class _Blob:
    data: bytes
    content_type: str
    expires_at: float  # simulator seconds


class CdnApp:
    """Blobs live until their link expires; then only their name is kept (bounded), so an
    expired link still answers 403 "Request has expired" as S3 does, not 404."""

    name = "cdn"
    EXPIRED_KEPT = 10_000  # names of expired links remembered for their 403

    def __init__(self, sim) -> None:
        self._sim = sim
        self._blobs: dict[str, _Blob] = {}
        self._expired: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def publish(self, data: bytes, content_type: str, filename: str, ttl_s: float) -> str:
        """Store `data` and return a URL that works for `ttl_s` simulator seconds."""
        token = secrets.token_hex(12)
        with self._lock:
            self._drop_expired()
            self._blobs[f"{token}/{filename}"] = _Blob(
                data, content_type, self._sim.clock.now() + ttl_s
            )
        return f"{self._sim.url(self.name)}/{token}/{filename}"

    def _drop_expired(self) -> None:
        """Free the bytes of expired blobs, keeping their names (called with the lock held)."""
        now = self._sim.clock.now()
        for key in [k for k, blob in self._blobs.items() if now >= blob.expires_at]:
            del self._blobs[key]
            self._expired[key] = None
        while len(self._expired) > self.EXPIRED_KEPT:
            self._expired.popitem(last=False)

    def handle(self, request: Request) -> Response:
        key = request.path.lstrip("/")
        with self._lock:
            blob = self._blobs.get(key)
            expired = key in self._expired
        if request.method != "GET" or (blob is None and not expired):
            return Response.text("Not Found", 404)
        if expired or self._sim.clock.now() >= blob.expires_at:
            return Response(403, EXPIRED_BODY.encode(), {"Content-Type": "application/xml"})
        return Response(200, blob.data, {"Content-Type": blob.content_type})
