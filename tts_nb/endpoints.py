"""Where a client sends its requests, and which endpoints may receive its keys.

Keys and texts travel only over https, or plain http on loopback (a local stand-in or the
simulator). Without a key, or with ``TTS_NB_PROVIDER=simulator``, a client uses the embedded
simulator, whose jobs run faster than the real services: a client's default waits are scaled
down by its speed there, so a plain ``tn.Camb()`` does not poll a 50x simulator at real pace.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from .errors import InvalidInput
from .notice import announce_simulator
from .policy import Adaptive, Backoff, Fixed, PollPolicy, Progressive
from .transport import is_loopback

# On the embedded simulator a client's default waits are divided by its speed, but never
# below this: the simulator has no rate limit, yet a poll every few ms would only burn CPU.
SIMULATOR_MIN_INTERVAL = 0.05


def faster_policy(policy: PollPolicy, speed: float) -> PollPolicy:
    """`policy` with its waits divided by `speed` (deadlines and counts unchanged), for a
    provider's default policy on a simulator that runs jobs `speed` times faster. A policy
    of a kind this does not know is returned as it is."""
    if speed == 1:
        return policy
    if isinstance(policy, Fixed):
        return policy.replace(interval=policy.interval / speed)
    if isinstance(policy, Backoff):
        return policy.replace(initial=policy.initial / speed, maximum=policy.maximum / speed)
    if isinstance(policy, Progressive):
        return policy.replace(schedule=tuple(wait / speed for wait in policy.schedule))
    if isinstance(policy, Adaptive):
        return policy.replace(
            then=policy.then / speed, fallback=faster_policy(policy.fallback, speed)
        )
    return policy


def resolve_endpoint(
    provider: str, *, has_key: bool, base_url: str | None, real_url: str
) -> tuple[str | None, bool]:
    """(base URL, simulated). None means: use the embedded simulator's URL.

    `base_url` is the override `find_credentials` allowed; it must be https (or on loopback).

    Raises:
        InvalidInput: the override is plain http on another machine.
    """
    from .credentials import simulator_forced

    if simulator_forced() or not has_key:
        if base_url and not simulator_forced() and not has_key:
            return check_endpoint(provider, base_url), False  # no key: the caller knows best
        return None, True
    return check_endpoint(provider, base_url or real_url), False


def check_endpoint(provider: str, url: str) -> str:
    """`url`, if keys and texts may travel to it: over https, or plain http on loopback (a
    local stand-in or the simulator, where nothing leaves the machine)."""
    try:
        scheme = urlsplit(url).scheme
    except ValueError:
        scheme = ""
    if scheme == "https" or (scheme == "http" and is_loopback(url)):
        return url
    raise InvalidInput(
        f"{provider}: the endpoint {url!r} is not an https:// URL, so keys and texts would "
        "travel unencrypted. Use https:// in base_url= or the TTS_NB_*_URL setting "
        "(plain http is accepted only on loopback: 127.0.0.1, ::1, localhost).",
        provider=provider,
    )


def configured_endpoint(provider: str, url_env: str) -> set[str]:
    """The endpoint override set in this process for `url_env` (in the environment, or in
    `.env` when that file also holds the provider's keys), as a set of zero or one URL."""
    from .credentials import PROVIDER_KEYS, find_credentials

    names = PROVIDER_KEYS.get(provider, ())
    found = find_credentials(dict.fromkeys(names), base_url=None, url_env=url_env)
    return {found.url.rstrip("/")} if found.url else set()


def resolve_single_key(
    provider: str,
    *,
    api_key: str | None,
    key_env: str,
    base_url: str | None,
    url_env: str,
    real_url: str,
):
    """(base URL, key, simulated) for a provider with one API key.

    The key comes from the argument, the environment or `.env`, and the endpoint with it
    (`find_credentials`: a `.env` endpoint only for a `.env` key); without a key (or with
    ``TTS_NB_PROVIDER=simulator``) the shared simulator and its key are used, and the banner
    says so once.
    """
    from .credentials import Secret, find_credentials

    found = find_credentials({key_env: api_key}, base_url=base_url, url_env=url_env)
    key = found.key(key_env)
    url, simulated = resolve_endpoint(
        provider, has_key=key is not None, base_url=found.url, real_url=real_url
    )
    if simulated:
        from .simulator import shared

        sim = shared()
        url, key = sim.urls[provider], Secret(sim.credentials[f"{provider}_api_key"])
        announce_simulator(url)
    return url, key, simulated
