"""Where the transport may send a request: http(s) only, and for a real service no private hosts.

A real service's answer may name any host; only public https ones are fetched, so a hostile or
confused provider cannot make this machine read its own network (cloud metadata at
169.254.169.254, intranet services) or send anything in clear text. The session does not trust
its environment (that would also read `~/.netrc`), so proxies and the CA bundle are read here.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from typing import Any
from urllib.parse import urlsplit

from requests.utils import get_environ_proxies

from .errors import RefusedURL

CA_BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE")


def origin_of(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with default ports filled in: what "same origin" compares."""
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


def is_loopback(url: str) -> bool:
    """True for URLs on this machine's loopback (127.0.0.0/8, ::1, localhost)."""
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def private_address(host: str, port: int) -> str | None:
    """The first address `host` resolves to that is not public, or None. A name that does
    not resolve is let through: the request then fails on its own, as a lost connection."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return None
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address.version == 6 and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if not address.is_global:
            return str(address)
    return None


def environment_settings(url: str) -> dict[str, Any]:
    """Proxies (HTTPS_PROXY, HTTP_PROXY, NO_PROXY) and the CA bundle (REQUESTS_CA_BUNDLE,
    CURL_CA_BUNDLE, SSL_CERT_FILE) for `url`, read here because the session does not trust
    its environment: that would also read `~/.netrc`."""
    settings: dict[str, Any] = {"proxies": get_environ_proxies(url)}
    bundle = next((os.environ[n] for n in CA_BUNDLE_VARIABLES if os.environ.get(n)), None)
    if bundle:
        settings["verify"] = bundle
    return settings


def refuse_scheme(scheme: str, safe: str, provider: str) -> None:
    """Refuse anything but http(s): `safe` is the URL as it may be shown (scrubbed)."""
    if scheme not in ("http", "https"):
        raise RefusedURL(
            f"{provider}: refusing to follow a {scheme or 'relative'} URL taken from a "
            f"response ({safe}); only http(s) URLs are followed.",
            provider=provider,
        )


def refuse_unsafe_host(url: str, scheme: str, safe: str, provider: str) -> None:
    """Refuse plain http and hosts at loopback, private or link-local addresses."""
    if scheme != "https":
        raise RefusedURL(
            f"{provider}: refusing to fetch {safe}: a real service's downloads are "
            "fetched over https only. Nothing was sent; if the provider really serves "
            "plain http, report it to them.",
            provider=provider,
        )
    parts = urlsplit(url)
    address = private_address(parts.hostname or "", parts.port or 443)
    if address is not None:
        raise RefusedURL(
            f"{provider}: refusing to fetch {safe}: its host is at {address}, a "
            "loopback, private or link-local address, which a real service never "
            "serves results from. Nothing was sent. For a local stand-in of the API, "
            "point base_url= at it (loopback endpoints are trusted).",
            provider=provider,
        )
