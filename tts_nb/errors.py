"""Typed errors: every message says what happened and what to do about it.

::

    TTSError
    ├─ InvalidInput(TTSError, ValueError)    rejected before any request was sent
    ├─ AuthError                             401/403, a rejected key or token
    ├─ QuotaError                            402, 429, PAYMENT_REQUIRED, daily trial limits
    ├─ NotFound(TTSError, LookupError)       unknown job, voice or result
    ├─ ExpiredResult                         a download link or stored result is gone
    ├─ ProviderError                         5xx, broken answers, lost connections
    │  ├─ BadAudio                           the result is not playable audio
    │  └─ RefusedURL                         a URL tts_nb will not fetch (final, never retried)
    ├─ InternalError                         tts_nb could not handle an answer: our bug, report it
    ├─ JobFailed                             the provider reported the job as failed
    ├─ JobTimeout(TTSError, TimeoutError)    a deadline passed (the job's, or a wait's)
    └─ JobCancelled(TTSError, CancelledError)  `wait()` on a cancelled job

Each error says whether trying again could help (`retryable`, read by `tn.Retry`'s default
predicate). Worth another try: 5xx and other unexpected answers, lost connections and slow or
oversized downloads (ProviderError), broken audio (a download fetched again may be whole),
and 429 (QuotaError). Never: a refused URL, rejected credentials, 402 and other quota
verdicts, bad input, an unknown or expired result, a failed job, a deadline.

Messages never contain credentials: the transport scrubs every known secret from text that
comes from a server before it reaches an exception.
"""

from __future__ import annotations

import concurrent.futures


class TTSError(Exception):
    """Base class of every tts_nb error.

    Attributes:
        provider: the provider's name ("typecast", "camb", "aspose") or None.
        status_code: the HTTP status that caused it, when there was one.
        retry_after: seconds the server asked us to wait, when it said.
        retryable: whether trying the same request again could succeed; each class says
            by default (`retryable_by_default`), and whoever makes the error may say
            otherwise.
    """

    retryable_by_default = False

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        status_code: int | None = None,
        retry_after: float | None = None,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.status_code = status_code
        self.retry_after = retry_after
        self.retryable = self.retryable_by_default if retryable is None else retryable

    def __str__(self) -> str:
        return self.message


class InvalidInput(TTSError, ValueError):
    """The request was rejected locally, before anything was sent (no quota spent)."""


class AuthError(TTSError):
    """The provider rejected the credentials."""


class QuotaError(TTSError):
    """Out of credits, over a rate or concurrency limit, or over a daily trial allowance.

    Only a 429 (too many requests *now*) is retryable: out of credits stays out of credits.
    """

    def __init__(self, message: str, *, retryable: bool | None = None, **kwargs) -> None:
        if retryable is None:
            retryable = kwargs.get("status_code") == 429
        super().__init__(message, retryable=retryable, **kwargs)


class NotFound(TTSError, LookupError):
    """The provider does not know the job, voice or result asked for."""


class ExpiredResult(TTSError):
    """The result existed but its download link or stored copy has expired."""


class ProviderError(TTSError):
    """The provider answered in a way we cannot use: 5xx, malformed JSON, a lost connection.

    Attributes:
        maybe_sent: True when a request may have reached the server although no answer came
            back (so re-sending a submit could spend quota twice).
    """

    retryable_by_default = True

    def __init__(self, message: str, *, maybe_sent: bool = False, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.maybe_sent = maybe_sent


class BadAudio(ProviderError):
    """The provider's result is empty, not audio, or cannot be decoded."""


class RefusedURL(ProviderError):
    """A URL from an answer that tts_nb refuses to fetch (a scheme other than http(s), plain
    http or a private address for a real service). Nothing was sent, and asking again would
    be refused again: the job ends at once instead of polling until its deadline."""

    retryable_by_default = False


class InternalError(TTSError):
    """tts_nb itself failed on an answer (a parser bug, or a shape nobody foresaw): the
    message says "unexpected problem… Please report it". Not a `ProviderError`: the bug is
    ours, not the provider's, so `except ProviderError` (made for 5xx and broken answers)
    does not hide it, and it is never retried."""


class JobFailed(TTSError):
    """The provider reported that the job failed.

    Attributes:
        raw_status: the provider's own status string.
    """

    def __init__(self, message: str, *, raw_status: str | None = None, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.raw_status = raw_status


class JobTimeout(TTSError, TimeoutError):
    """A deadline passed: the job's own (state TIMED_OUT), or only a `wait(timeout)` call.

    Attributes:
        still_running: True when only the wait timed out and the job goes on in the background.
    """

    def __init__(self, message: str, *, still_running: bool = False, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.still_running = still_running


class JobCancelled(TTSError, concurrent.futures.CancelledError):
    """The job was cancelled (`job.cancel()`), so `wait()` and `result()` have nothing to
    return. Still a `concurrent.futures.CancelledError`, as a Future's waiters expect."""


__all__ = [
    "TTSError",
    "InvalidInput",
    "AuthError",
    "QuotaError",
    "NotFound",
    "ExpiredResult",
    "ProviderError",
    "BadAudio",
    "RefusedURL",
    "JobFailed",
    "JobTimeout",
    "JobCancelled",
    "InternalError",
]
