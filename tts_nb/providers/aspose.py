"""Aspose.OCR Cloud text-to-speech: the client (``tn.Aspose``) that validates texts and starts jobs.

The request protocol is `aspose_protocol` (``SpeechOperation``) and the OAuth2 tokens are
`aspose_auth` (``TokenCache``), split by concern like CAMB's modules; both are re-exported here,
so ``tts_nb.providers.aspose.X`` keeps working for every name it had.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from ..adapters import ASPOSE as ASPOSE_ADAPTER
from ..client import Client, announce_simulator, resolve_endpoint
from ..credentials import Secret, find_credentials
from ..errors import InvalidInput
from ..job import Job
from ..policy import Adaptive, PollPolicy
from .aspose_auth import (
    CREDENTIALS_FIX,
    ISSUED_KEPT,
    LOCKOUT_NOTE,
    NO_TOKEN,
    TOKEN_MARGIN_S,
    TOKEN_MAX_ATTEMPTS,
    TOKEN_PATH,
    TokenCache,
)
from .aspose_protocol import (
    KIND,
    LANGUAGES,
    PROVIDER,
    RESULT_TYPES,
    RETENTION_S,
    STATUS,
    TASK_ID,
    TRIAL_DAILY_CALLS,
    TRIAL_KIND,
    TRIAL_MAX_CHARS,
    TRIAL_PATH,
    TTS_PATH,
    SpeechOperation,
    _messages,
    _task_id,
)


class Aspose(Client):
    """Aspose.OCR Cloud's text-to-speech (English, WAV).

    Args:
        client_id, client_secret: the application's credentials; default ``ASPOSE_CLIENT_ID``
            and ``ASPOSE_CLIENT_SECRET`` (or a ``.env`` file). Without them (and without
            ``trial=True``) the embedded simulator is used and a banner says so.
        base_url: default ``TTS_NB_ASPOSE_URL``, else https://api.aspose.cloud.
        trial: use the evaluation endpoints, which need no account: at most 500 characters a
            text and 10 requests a day from one IP address, and a notice is read aloud in
            the audio.
        policy: how to poll. The default is `Adaptive`: Aspose jobs take a few seconds that
            grow with the text, so a first look near the learned finish time, then one a
            second, hears of the result sooner with fewer requests than a backoff. With the
            simulator's durations (4000 jobs per length, after learning), texts of 50, 200
            and 500 characters took 1.8, 2.3 and 4.6 polls and were seen 0.6 s after they
            finished; `Backoff(1, 1.5)` took 2.2, 3.4 and 4.8 polls and was 0.7, 1.5 and
            2.8 s late. Fewer requests matter most in trial mode, whose allowance is small.
        min_interval: the fastest polling allowed; 1 s (Aspose says to look again "in a
            couple of seconds").

    Example:
        >>> aspose = tn.Aspose()
        >>> clip = aspose.text_to_speech("Read this text aloud.").wait(60)
        >>> clip.save("aloud.wav")
    """

    provider = PROVIDER
    label = "Aspose"
    key_variables = ("ASPOSE_CLIENT_ID", "ASPOSE_CLIENT_SECRET")
    real_url = "https://api.aspose.cloud"
    url_env = "TTS_NB_ASPOSE_URL"
    secret_headers = {"authorization": "Bearer $ASPOSE_TOKEN"}
    secret_fields = {"client_id": "$ASPOSE_CLIENT_ID", "client_secret": "$ASPOSE_CLIENT_SECRET"}
    secret_notes = {
        "$ASPOSE_TOKEN": "ASPOSE_TOKEN is the access_token of the /connect/token answer"
    }
    adapter = ASPOSE_ADAPTER
    default_min_interval = 1.0
    default_timeout = 10 * 60.0
    default_policy: PollPolicy = Adaptive()
    duration_prior = (1.5, 0.015)

    def __init__(
        self,
        client_id: str | None = None,
        client_secret: str | None = None,
        base_url: str | None = None,
        trial: bool = False,
        policy: PollPolicy | None = None,
        min_interval: float | None = None,
        **options: Any,
    ) -> None:
        found = find_credentials(
            {"ASPOSE_CLIENT_ID": client_id, "ASPOSE_CLIENT_SECRET": client_secret},
            base_url=base_url,
            url_env=self.url_env,
        )  # the endpoint comes with the keys: a .env URL only for .env keys
        cid, secret = found.key("ASPOSE_CLIENT_ID"), found.key("ASPOSE_CLIENT_SECRET")
        if (cid is None) != (secret is None) and not trial:
            missing = "ASPOSE_CLIENT_SECRET" if secret is None else "ASPOSE_CLIENT_ID"
            raise InvalidInput(
                f"Aspose needs both a client id and a client secret, but {missing} is missing: "
                "pass client_id= and client_secret=, set both variables, or pass trial=True "
                "to try it without an account.",
                provider=PROVIDER,
            )
        url, simulated = resolve_endpoint(
            PROVIDER,
            has_key=trial or cid is not None,
            base_url=found.url,
            real_url=self.real_url,
        )
        if simulated:
            from ..simulator import shared

            sim = shared()
            url = sim.urls[PROVIDER]
            if not trial:
                cid = Secret(sim.credentials["aspose_client_id"])
                secret = Secret(sim.credentials["aspose_client_secret"])
            announce_simulator(url)
        self.trial = trial
        self._client_id = cid
        self._client_secret = secret
        self.tokens = TokenCache(self)
        super().__init__(
            base_url=url, simulated=simulated, policy=policy, min_interval=min_interval, **options
        )

    # ---------------------------------------------------------------- plumbing
    def _auth_headers(self) -> dict[str, str]:
        if self.trial:
            return {}
        return {"Authorization": f"Bearer {self.tokens.get(None)}"}

    def _secret_values(self) -> Iterable[str]:
        values = list(self.tokens.issued())
        # The id is half of the pair that unlocks the account: it is masked like the secret.
        for credential in (self._client_id, self._client_secret):
            if credential:
                values.append(credential.reveal())
        return values

    def _describe_error(self, response) -> str | None:
        """Aspose answers RFC 7807 ProblemDetails (``title``, ``detail``, ``errors``) from the
        API and OAuth2 ``{"error", "error_description"}`` from ``/connect/token``."""
        try:
            data = response.json()
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        parts = [data.get("title"), data.get("detail")]
        errors = data.get("errors")
        if isinstance(errors, dict):
            parts += [f"{name}: {' '.join(map(str, msgs))}" for name, msgs in errors.items()]
        parts += [data.get("error"), data.get("error_description")]
        said = " — ".join(str(part) for part in parts if part)
        # A 401 from /connect/token refused the id and secret, not an access token: the token
        # cache adds its own advice to that one.
        from_token_path = urlsplit(response.url).path.endswith(TOKEN_PATH)
        if response.status_code == 401 and not from_token_path:
            said += (
                " The access token was not accepted; tts_nb fetches a new one once and then "
                "gives up. " + CREDENTIALS_FIX
            )
        elif response.status_code == 403:
            said += (
                " These credentials may not use this API: check the application's plan in the "
                "Aspose Cloud dashboard."
            )
        return said or None

    def __repr__(self) -> str:
        where = "simulator" if self.simulated else self.base_url
        return f"<Aspose {where}{' trial' if self.trial else ''}>"

    # ------------------------------------------------------------------ public
    def text_to_speech(
        self,
        text: str,
        language: str = "English",
        *,
        policy: PollPolicy | None = None,
        force: bool = False,
    ) -> Job:
        """Start reading `text` aloud; returns a running `Job` at once (result: a WAV `Clip`).

        An identical request that is still running returns that job, and one that succeeded
        before returns its stored result at once; ``force=True`` submits anyway.

        Args:
            text: what to say (English only; at most 500 characters in trial mode).
            language: ``"English"``, the only language Aspose reads aloud.
            policy: how to poll this job (default: the client's).
            force: submit even when an identical request ran before.

        Raises:
            InvalidInput: before any request, naming the fix.
        """
        text = self._validate(text, language)
        body = {"text": text, "settings": {"language": "English", "resultType": "Wav"}}
        operation = SpeechOperation(self, body, trial=self.trial)
        request = {"text": text, "voice": "English", "language": "English", "trial": self.trial}
        return self._start(operation, policy=policy, request=request, text=text, force=force)

    def _rebuild_operation(
        self, kind: str, body: Mapping[str, Any], request: Mapping[str, Any]
    ) -> SpeechOperation:
        """A recorded job's protocol half, so `tn.resume()` can poll it again."""
        if kind not in (KIND, TRIAL_KIND) or not isinstance(body, Mapping) or "text" not in body:
            raise InvalidInput(f"aspose cannot resume a {kind!r} job.", provider=PROVIDER)
        return SpeechOperation(self, body, trial=kind == TRIAL_KIND)

    def _validate(self, text: str, language: str) -> str:
        if not isinstance(text, str) or not text.strip():
            raise InvalidInput("text is empty: give the sentence to speak.", provider=PROVIDER)
        if not isinstance(language, str) or language.strip().lower() not in ("english", "en"):
            raise InvalidInput(
                f"language={language!r} is not supported: Aspose.OCR Cloud reads aloud only "
                'English texts. Use language="English" (or another provider for other '
                "languages).",
                provider=PROVIDER,
            )
        text = text.strip()
        if self.trial and len(text) > TRIAL_MAX_CHARS:
            raise InvalidInput(
                f"The text has {len(text)} characters, but Aspose's trial accepts at most "
                f"{TRIAL_MAX_CHARS}: shorten it, split it into several requests, or use an "
                "account (client_id/client_secret) instead of trial=True.",
                provider=PROVIDER,
            )
        return text


__all__ = [
    "Aspose",
    "TokenCache",
    "SpeechOperation",
    "CREDENTIALS_FIX",
    "ISSUED_KEPT",
    "KIND",
    "LANGUAGES",
    "LOCKOUT_NOTE",
    "NO_TOKEN",
    "PROVIDER",
    "RESULT_TYPES",
    "RETENTION_S",
    "STATUS",
    "TASK_ID",
    "TOKEN_MARGIN_S",
    "TOKEN_MAX_ATTEMPTS",
    "TOKEN_PATH",
    "TRIAL_DAILY_CALLS",
    "TRIAL_KIND",
    "TRIAL_MAX_CHARS",
    "TRIAL_PATH",
    "TTS_PATH",
    "_messages",
    "_task_id",
]
