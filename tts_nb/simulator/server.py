"""HTTP plumbing of the simulator: one loopback server per origin, a request log, faults.

Each provider API (and the CDN) is an `App` with one method, `handle(Request) -> Response`,
served by its own `ThreadingHTTPServer` on 127.0.0.1, so each has a distinct origin exactly
as in production (credentials must never cross from one to another).
"""

from __future__ import annotations

import json
import socket
import struct
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit


class HTTPError(Exception):
    """Raised inside an app to answer with an error response."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


@dataclass
class Request:
    origin: str
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    received_at: float = 0.0

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json(self, error: Response) -> Any:
        """The body as JSON, or answer with `error` when it is not."""
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise HTTPError(error) from None

    def form(self) -> dict[str, str]:
        parsed = parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)
        return {key: values[0] for key, values in parsed.items()}


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    # A streaming endpoint's answer: chunked transfer encoding, sent piece by piece; `cut_at`
    # drops the connection after that many body bytes (a stream that breaks mid-body).
    stream: bool = False
    cut_at: int | None = None

    @classmethod
    def json(cls, data: Any, status: int = 200, headers: dict[str, str] | None = None):
        body = json.dumps(data).encode()
        return cls(status, body, {"Content-Type": "application/json", **(headers or {})})

    @classmethod
    def text(cls, text: str, status: int = 200, content_type: str = "text/plain"):
        return cls(status, text.encode(), {"Content-Type": f"{content_type}; charset=utf-8"})


class App(Protocol):
    name: str

    def handle(self, request: Request) -> Response: ...


class Interceptor(Protocol):
    """Decides, before an app sees a request, whether to answer with a fault instead."""

    def intercept(self, request: Request) -> str | Response | None: ...


@dataclass
class LoggedRequest:
    origin: str
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    status: int | None
    fault: str | None
    time: float


class RequestLog:
    """The requests the origins received, newest `limit` of them: what tests check (one POST
    per job, no key at the CDN). Bounded, so a simulator left running for days stays small."""

    def __init__(self, limit: int = 10_000) -> None:
        self._items: deque[LoggedRequest] = deque(maxlen=limit)
        self._lock = threading.Lock()

    def add(self, item: LoggedRequest) -> None:
        with self._lock:
            self._items.append(item)

    def find(
        self, origin: str | None = None, method: str | None = None, path: str | None = None
    ) -> list[LoggedRequest]:
        """Requests matching all given filters; `path` matches as a prefix."""
        with self._lock:
            items = list(self._items)
        return [
            r
            for r in items
            if (origin is None or r.origin == origin)
            and (method is None or r.method == method)
            and (path is None or r.path.startswith(path))
        ]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def _make_handler(origin: Origin):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"
        server_version = f"tts_nb-simulator/{origin.app.name}"

        def log_message(self, format: str, *args: Any) -> None:  # quiet: the log is structured
            pass

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            request = Request(
                origin=origin.app.name,
                method=self.command,
                path=parts.path,
                query=parse_qs(parts.query, keep_blank_values=True),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
                received_at=time.monotonic(),
            )
            fault = origin.interceptor.intercept(request) if origin.interceptor else None
            logged = LoggedRequest(
                origin=request.origin,
                method=request.method,
                path=request.path,
                query=request.query,
                headers=request.headers,
                status=None,
                fault=fault if isinstance(fault, str) else None,
                time=time.time(),
            )
            origin.log.add(logged)
            if fault == "reset":
                self._reset()
                return
            if isinstance(fault, Response):
                response = fault
            else:
                try:
                    response = origin.app.handle(request)
                except HTTPError as exc:
                    response = exc.response
                except Exception as exc:  # a simulator bug must still answer, as servers do
                    response = Response.json(
                        {"error": f"simulator error: {type(exc).__name__}: {exc}"}, 500
                    )
                if fault == "lost_answer":  # the work was done, the answer never arrives
                    self._reset()
                    return
                if fault == "malformed" and response.status < 300:
                    response = Response(
                        200, b'{"result": {"status": ', {"Content-Type": "application/json"}
                    )
            logged.status = response.status
            self._write(response, slow=fault == "slow")

        def _write(self, response: Response, slow: bool) -> None:
            self.send_response(response.status)
            for key, value in response.headers.items():
                self.send_header(key, value)
            if response.stream:
                self._write_chunked(response)
                return
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if self.command == "HEAD":
                return
            if not slow:
                self.wfile.write(response.body)
                return
            for i in range(0, len(response.body), 512):  # a body that trickles in
                self.wfile.write(response.body[i : i + 512])
                self.wfile.flush()
                time.sleep(0.01)

        def _write_chunked(self, response: Response) -> None:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            body = response.body if response.cut_at is None else response.body[: response.cut_at]
            for i in range(0, len(body), 4096):
                piece = body[i : i + 4096]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                self.wfile.flush()
            if response.cut_at is not None:
                self._reset()
                return
            self.wfile.write(b"0\r\n\r\n")

        def _reset(self) -> None:
            """Drop the TCP connection with a RST: the client sees a connection reset."""
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def handle_error(self, request, client_address) -> None:
        """Clients that hang up (timeouts, resets on purpose) are normal here, not errors."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class Origin:
    """One app on its own 127.0.0.1 port."""

    def __init__(
        self, app: App, log: RequestLog, interceptor: Interceptor | None = None, port: int = 0
    ) -> None:
        self.app = app
        self.log = log
        self.interceptor = interceptor
        self._server = _Server(("127.0.0.1", port), _make_handler(self))
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name=f"tts_nb-sim-{self.app.name}",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
