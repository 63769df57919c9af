"""Reading an answer's body so that a download ends: by its size limit and by its deadline.

Each read returns as soon as any bytes arrive (`read1`) and waits at most until the deadline
(the socket's timeout is cut to what is left), so a body sent a few bytes a second ends on time
and frees its worker; `iter_content(64 KiB)` would wait for 64 KiB.
"""

from __future__ import annotations

import time

import requests
from urllib3.exceptions import DecodeError, ProtocolError, ReadTimeoutError, SSLError

from .errors import ProviderError

READ_PIECE = 64 * 1024


def read_body(
    response: requests.Response,
    *,
    max_bytes: int,
    t0: float,
    limit: float,
    read_timeout: float,
    provider: str,
) -> None:
    """Read the whole body of `response` by the deadline `t0 + limit`, at most `max_bytes`."""
    chunks, got = [], 0
    while True:
        remaining = t0 + limit - time.monotonic()
        if remaining <= 0:
            response.close()
            raise _too_slow(limit, got, provider)
        _limit_read_wait(response, min(read_timeout, remaining))
        try:
            chunk = _read_some(response)
        except requests.ConnectionError:
            if time.monotonic() < t0 + limit:
                raise  # a real read timeout: the server went silent
            response.close()
            raise _too_slow(limit, got, provider) from None
        if not chunk:
            break
        got += len(chunk)
        if got > max_bytes:
            response.close()
            raise ProviderError(
                f"{provider}: the answer is larger than {size(max_bytes)}, the "
                "transport's max_bytes; refusing to download it. Raise "
                "client.transport.max_bytes if you expect such large results.",
                provider=provider,
            )
        chunks.append(chunk)
    response._content = b"".join(chunks)
    response._content_consumed = True


def _too_slow(limit: float, got: int, provider: str) -> ProviderError:
    return ProviderError(
        f"{provider}: the download took longer than "
        f"{limit:g} s (the transport's download_timeout) and was "
        f"stopped after {size(got)}. Try again; raise "
        "client.transport.download_timeout on a slow connection.",
        provider=provider,
    )


def _limit_read_wait(response: requests.Response, seconds: float) -> None:
    """Make the next socket read of `response` wait at most `seconds`."""
    connection = getattr(response.raw, "connection", None)
    sock = getattr(connection, "sock", None)
    if sock is not None:
        sock.settimeout(max(seconds, 0.001))


def _read_some(response: requests.Response) -> bytes:
    """Up to 64 KiB of the decoded body, as soon as any has arrived (b"" at its end), with
    urllib3's errors turned into requests' ones, as `iter_content` does. A body that is not
    urllib3's (a test adapter's file object) is simply read."""
    if not hasattr(response.raw, "stream"):
        return response.raw.read(READ_PIECE)
    try:
        return response.raw.read1(READ_PIECE, decode_content=True)
    except ProtocolError as exc:
        raise requests.exceptions.ChunkedEncodingError(exc) from exc
    except DecodeError as exc:
        raise requests.exceptions.ContentDecodingError(exc) from exc
    except ReadTimeoutError as exc:
        raise requests.ConnectionError(exc) from exc
    except SSLError as exc:
        raise requests.exceptions.SSLError(exc) from exc


def size(n: int) -> str:
    return f"{n / 2**20:g} MiB" if n >= 2**20 else f"{n:,} bytes"
