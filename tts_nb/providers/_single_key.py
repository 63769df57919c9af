"""The setup Typecast and CAMB share: one API key, found with its endpoint, sent in one header.

Written once so that where the key comes from (argument, `tn.login()`, environment, `.env`),
what happens without one (the simulator, with its banner), and how a missing key is reported
are the same for both.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..client import Client, resolve_single_key
from ..credentials import Secret
from ..errors import AuthError
from ..policy import PollPolicy


class SingleKeyClient(Client):
    """A client whose account is one API key (``key_variables[0]``) sent as one header.

    `key_header` and `key_prefix` say how the key is sent; a client whose API decides that
    (Typecast: ``X-API-KEY`` for v1, a Bearer token for legacy) sets them per instance.
    """

    key_header: str
    key_prefix: str = ""
    _key: Secret | None

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        policy: PollPolicy | None = None,
        min_interval: float | None = None,
        **options: Any,
    ) -> None:
        url, simulated = self._find_key(api_key, base_url)
        super().__init__(
            base_url=url, simulated=simulated, policy=policy, min_interval=min_interval, **options
        )

    def _key_endpoint(self) -> tuple[str, str, str]:
        """(the simulator's name for the endpoint, the endpoint variable, the real endpoint)
        the key goes with; a client with more than one API answers for the one it uses."""
        return self.provider, self.url_env, self.real_url

    def _find_key(self, api_key: str | None, base_url: str | None) -> tuple[str, bool]:
        """Find and keep the key, with the endpoint it may go to: (base URL, simulated)."""
        endpoint, url_env, real_url = self._key_endpoint()
        url, self._key, simulated = resolve_single_key(
            endpoint,
            api_key=api_key,
            key_env=self.key_variables[0],
            base_url=base_url,
            url_env=url_env,
            real_url=real_url,
        )
        return url, simulated

    def _auth_headers(self) -> dict[str, str]:
        if self._key is None:
            raise AuthError(
                f"No {self.label} API key: pass api_key= or set {self.key_variables[0]}.",
                provider=self.provider,
            )
        return {self.key_header: self.key_prefix + self._key.reveal()}

    def _secret_values(self) -> Iterable[str]:
        return (self._key.reveal(),) if self._key else ()
