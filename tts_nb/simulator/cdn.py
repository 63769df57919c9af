"""The download CDN: a second origin whose links expire, like signed S3/CloudFront URLs.

It never checks credentials and must never receive any (tests look at its request log).
"""

from __future__ import annotations

import secrets
import threading
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
    name = "cdn"

    def __init__(self, sim) -> None:
        self._sim = sim
        self._blobs: dict[str, _Blob] = {}
        self._lock = threading.Lock()

    def publish(self, data: bytes, content_type: str, filename: str, ttl_s: float) -> str:
        """Store `data` and return a URL that works for `ttl_s` simulator seconds."""
        token = secrets.token_hex(12)
        with self._lock:
            self._blobs[f"{token}/{filename}"] = _Blob(
                data, content_type, self._sim.clock.now() + ttl_s
            )
        return f"{self._sim.url(self.name)}/{token}/{filename}"

    def handle(self, request: Request) -> Response:
        with self._lock:
            blob = self._blobs.get(request.path.lstrip("/"))
        if blob is None or request.method != "GET":
            return Response.text("Not Found", 404)
        if self._sim.clock.now() >= blob.expires_at:
            return Response(403, EXPIRED_BODY.encode(), {"Content-Type": "application/xml"})
        return Response(200, blob.data, {"Content-Type": blob.content_type})
