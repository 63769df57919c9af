"""Which of Typecast's two APIs a key belongs to, and where each API's requests go.

Keys of the two APIs do not mix (the other API answers 403), so `tn.Typecast` finds out once
per key, with a free request, unless ``api=`` says so. The answer is kept in the runtime
(`tn.reset()` forgets it), keyed by a hash of the key, never by the key itself.
"""

from __future__ import annotations

import hashlib

from ..credentials import Secret, find_secret, simulator_forced
from ..errors import AuthError, InvalidInput, ProviderError
from ..runtime import current
from ..transport import Transport
from . import typecast_v1 as v1

PROVIDER = "typecast"
KEY_ENV = "TYPECAST_API_KEY"
LEGACY_URL = "https://typecast.ai"
LEGACY_URL_ENV = "TTS_NB_TYPECAST_URL"
APIS = ("v1", "legacy")


def _fingerprint(key: Secret, base_url: str | None) -> str:
    return hashlib.sha256(f"{key.reveal()}\0{base_url or ''}".encode()).hexdigest()


def known_api(key: Secret) -> str | None:
    """The API `key` was found to belong to in this process, without asking (None: not yet)."""
    runtime = current()
    with runtime.typecast_apis_lock:
        return runtime.typecast_apis.get(_fingerprint(key, None))


def api_endpoint(api_key: str | None, base_url: str | None, api: str) -> str:
    """Where `api`'s requests go: `base_url`, else its setting, else the real service."""
    from ..client import check_endpoint
    from ..credentials import find_credentials

    url_env, real = (v1.URL_ENV, v1.REAL_URL) if api == "v1" else (LEGACY_URL_ENV, LEGACY_URL)
    found = find_credentials({KEY_ENV: api_key}, base_url=base_url, url_env=url_env)
    return check_endpoint(PROVIDER, found.url or real)


def detect_api(key: Secret, *, api_key: str | None = None, base_url: str | None = None) -> str:
    """Which API `key` belongs to, "v1" or "legacy", asked once per key and process.

    Free requests decide: ``GET /v1/users/me/subscription`` with ``X-API-KEY`` (v1), then
    ``GET /api/actor`` with Bearer (legacy). With `base_url` (given, or the only one of the
    two endpoint settings that is set) both go to that one URL; otherwise to each API's
    endpoint (``TTS_NB_TYPECAST_V1_URL`` or https://api.typecast.ai, ``TTS_NB_TYPECAST_URL``
    or https://typecast.ai).
    The cache (the runtime's, so `tn.reset()` forgets it) is keyed by a hash of the key (and
    `base_url`), never by the key itself.
    """
    runtime = current()
    cache_key = _fingerprint(key, base_url)
    with runtime.typecast_apis_lock:
        if cache_key in runtime.typecast_apis:
            return runtime.typecast_apis[cache_key]
    probes = (
        ("v1", v1.SUBSCRIPTION_PATH, {"X-API-KEY": key.reveal()}),
        ("legacy", "/api/actor", {"Authorization": f"Bearer {key.reveal()}"}),
    )
    answers = []
    for api, path, headers in probes:
        url = api_endpoint(api_key, base_url, api)
        transport = Transport(url, provider=PROVIDER, secrets=lambda: (key.reveal(),))
        try:
            response = transport.request(
                "GET", path, step="detect", headers=headers, raise_for_status=False
            )
        except ProviderError as exc:
            answers.append(f"{api}: {exc}")
            continue
        finally:
            transport.close()
        if response.status_code == 200:
            with runtime.typecast_apis_lock:
                runtime.typecast_apis[cache_key] = api
            return api
        answers.append(f"{api}: {url.rstrip('/')}{path} answered {response.status_code}")
    raise AuthError(
        "Could not tell which Typecast API this key belongs to ("
        + "; ".join(answers)
        + "). A 401 usually means a space or newline was copied along with TYPECAST_API_KEY. "
        "To skip this check, say which API the key is for: tn.Typecast(api='v1') for "
        "api.typecast.ai keys, tn.Typecast(api='legacy') for typecast.ai/api keys.",
        provider=PROVIDER,
    )


def _only_override(api_key: str | None) -> str | None:
    """The one endpoint setting, when exactly one of the two APIs' is set: "my Typecast is
    there", so detection asks it alone instead of also asking the real other service."""
    from ..credentials import find_credentials

    urls = {
        find_credentials({KEY_ENV: api_key}, base_url=None, url_env=url_env).url
        for url_env in (v1.URL_ENV, LEGACY_URL_ENV)
    } - {None}
    return urls.pop() if len(urls) == 1 else None


def choose_api(
    api: str | None, api_key: str | None, base_url: str | None
) -> tuple[str, str | None]:
    """(the API, the base URL to use): `api` as given, else the key's API."""
    if api is not None:
        if api not in APIS:
            raise InvalidInput(
                f"api={api!r} is not a Typecast API: use api='v1' (api.typecast.ai, keys sent "
                "as X-API-KEY) or api='legacy' (typecast.ai/api), or leave it out to detect.",
                provider=PROVIDER,
            )
        return api, base_url
    key = find_secret(api_key, KEY_ENV)
    if key is None or simulator_forced():
        return "v1", base_url  # a new user's API, and what the simulator serves by default
    base_url = base_url or _only_override(api_key)
    return detect_api(key, api_key=api_key, base_url=base_url), base_url
