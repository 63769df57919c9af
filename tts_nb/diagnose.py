"""`tn.doctor()` and ``python -m tts_nb doctor``: check a real account in one command.

For every provider whose keys are set (or all of them with ``TTS_NB_PROVIDER=simulator``):
which API the key belongs to, whether it is accepted, plan and credits where the provider
publishes them, whether the voice catalogue answers, and how long a round trip takes. Only
free requests are sent, unless ``speak=True`` (``--speak``): then one short sentence per
provider, with what it costs said before it is sent.

It is how a user checks an account before a notebook session, and how we learn what the real
services answer: every row keeps the provider's raw status next to our reading of it.
Secrets are masked in every row (the transport's scrub, applied again to each detail).
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .credentials import find_secret, simulator_forced
from .errors import TTSError

SENTENCE = "Hello from tts_nb."


@dataclass(frozen=True)
class Finding:
    """One check of one provider.

    Attributes:
        provider: "typecast", "camb" or "aspose".
        check: what was checked ("key", "account", "catalogue", "speak"…).
        ok: True when it passed, False when it is a problem, None when it was not checked.
        detail: what was found, or what went wrong and what to do.
        raw_status: the provider's own answer (HTTP status, status string), as it came.
        latency_s: the round trip, when a request was sent.
    """

    provider: str
    check: str
    ok: bool | None
    detail: str
    raw_status: str = ""
    latency_s: float | None = None


@dataclass
class Report:
    """What `doctor()` found; ``ok`` is False when any check failed."""

    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(finding.ok is not False for finding in self.findings)

    @property
    def exit_code(self) -> int:
        """0 when nothing failed, 1 otherwise (for the command line)."""
        return 0 if self.ok else 1

    def frame(self):
        """The findings as a DataFrame, one row per check."""
        import pandas as pd

        return pd.DataFrame([finding.__dict__ for finding in self.findings])

    def lines(self) -> list[str]:
        out = []
        for f in self.findings:
            mark = {True: "ok  ", False: "FAIL", None: "--  "}[f.ok]
            took = f" {f.latency_s * 1000:.0f} ms" if f.latency_s is not None else ""
            raw = f" [{f.raw_status}]" if f.raw_status else ""
            out.append(f"{mark} {f.provider:<8} {f.check:<10}{raw}{took}  {f.detail}")
        return out

    def __repr__(self) -> str:
        verdict = "no problems found" if self.ok else "problems found"
        return "\n".join([f"tts_nb doctor: {verdict}", *self.lines()])

    def _repr_html_(self) -> str:
        colours = {True: "var(--jp-success-color1, #2e7d32)", False: "#c62828", None: "#777"}
        marks = {True: "✔", False: "✘", None: "–"}
        rows = "".join(
            f"<tr><td style='color:{colours[f.ok]}'>{marks[f.ok]}</td>"
            f"<td>{html.escape(f.provider)}</td><td>{html.escape(f.check)}</td>"
            f"<td><code>{html.escape(f.raw_status)}</code></td>"
            f"<td>{'' if f.latency_s is None else f'{f.latency_s * 1000:.0f} ms'}</td>"
            f"<td style='text-align:left'>{html.escape(f.detail)}</td></tr>"
            for f in self.findings
        )
        head = "No problems found." if self.ok else "Problems found: see the ✘ rows."
        return (
            f"<div class='tts-nb-doctor'><b>{html.escape(head)}</b><table>"
            "<tr><th></th><th>provider</th><th>check</th><th>raw status</th><th>took</th>"
            f"<th>detail</th></tr>{rows}</table></div>"
        )


def doctor(
    *,
    speak: bool = False,
    providers: tuple[str, ...] | None = None,
    say: Callable[[str], None] = print,
) -> Report:
    """Check every provider whose keys are set; send a charged request only if `speak`.

    Args:
        speak: also synthesize one short sentence per provider (its cost is said first,
            through `say`).
        providers: which providers to check (default: every provider tts_nb has).
        say: where the cost notices go before a charged request (default: print).

    Example:
        >>> tn.doctor()                 # free requests only
        >>> tn.doctor(speak=True)       # one short sentence per provider, cost said first
    """
    from .providers import client_classes

    classes = client_classes()
    report = Report()
    for provider in providers or tuple(classes):
        variables = classes[provider].key_variables
        missing = [name for name in variables if find_secret(None, name) is None]
        if missing and not simulator_forced():
            report.findings.append(
                Finding(
                    provider,
                    "key",
                    None,
                    f"{' and '.join(missing)} not set: not checked (tts_nb uses the embedded "
                    "simulator for it).",
                )
            )
            continue
        report.findings.extend(_CHECKS[provider](speak, say))
    return report


class _Probe:
    """Runs one check, timing it and turning an error into a failed finding."""

    def __init__(self, provider: str, scrub: Callable[[str], str] = str) -> None:
        self.provider = provider
        self.scrub = scrub

    def run(self, check: str, action: Callable[[], tuple[str, str]]) -> tuple[Finding, bool]:
        """(the finding, whether it passed); `action` returns (detail, raw status)."""
        started = time.perf_counter()
        try:
            detail, raw = action()
        except TTSError as exc:
            took = time.perf_counter() - started
            raw = str(exc.status_code) if exc.status_code is not None else type(exc).__name__
            return Finding(self.provider, check, False, self.scrub(str(exc)), raw, took), False
        took = time.perf_counter() - started
        return Finding(self.provider, check, True, self.scrub(detail), raw, took), True


def _where(client: Any) -> str:
    return "the embedded simulator" if client.simulated else client.base_url


def _typecast(speak: bool, say: Callable[[str], None]) -> Iterator[Finding]:
    from .providers.typecast import Typecast

    probe = _Probe("typecast")
    holder: dict[str, Any] = {}

    def connect() -> tuple[str, str]:
        holder["client"] = client = Typecast()
        return f"the key belongs to the {client.api} API, at {_where(client)}", "200"

    finding, passed = probe.run("key", connect)
    yield finding
    if not passed:
        return
    client = holder["client"]
    probe.scrub = client.transport.scrub
    if client.api == "v1":

        def account() -> tuple[str, str]:
            acct = client.account()
            return (
                f"plan {acct.plan}: {acct.credits_left:,} credits left of "
                f"{acct.credits_total:,}, {acct.concurrency_limit} requests at once"
            ), "200"

        yield probe.run("account", account)[0]
        catalogue = client.voices
        column = "voice_id"
    else:
        yield Finding(
            "typecast",
            "account",
            None,
            "the legacy API publishes no plan or credit balance: see typecast.ai's dashboard",
        )
        catalogue = client.actors
        column = "actor_id"

    def voices() -> tuple[str, str]:
        frame = catalogue()
        holder["voice"] = frame[column].iloc[0] if len(frame) else None
        return f"{len(frame)} voices", "200"

    finding, passed = probe.run("catalogue", voices)
    yield finding
    if speak and passed and holder.get("voice") is not None:
        cost = (
            f"{len(SENTENCE)} credits (one per character)"
            if client.api == "v1"
            else f"{len(SENTENCE)} characters of your quota"
        )
        say(f"typecast: speaking {SENTENCE!r} costs {cost}.")
        voice = {column: holder["voice"]}
        yield _speak(probe, lambda: client.speak(SENTENCE, force=True, **voice))


def _camb(speak: bool, say: Callable[[str], None]) -> Iterator[Finding]:
    from .providers.camb import Camb

    probe = _Probe("camb")
    holder: dict[str, Any] = {}

    def connect() -> tuple[str, str]:
        holder["client"] = Camb()
        return f"at {_where(holder['client'])}", ""

    finding, passed = probe.run("key", connect)
    if not passed:
        yield finding
        return
    client = holder["client"]
    probe.scrub = client.transport.scrub

    def voices() -> tuple[str, str]:  # the first authenticated request: it checks the key too
        frame = client.voices()
        holder["voice"] = frame["voice_id"].iloc[0] if len(frame) else None
        return f"key accepted; {len(frame)} voices", "200"

    finding, passed = probe.run("catalogue", voices)
    yield finding
    if not passed:
        return

    def languages() -> tuple[str, str]:
        return f"{len(client.languages())} languages", "200"

    yield probe.run("languages", languages)[0]
    yield Finding(
        "camb",
        "account",
        None,
        "CAMB.AI publishes no credit-balance endpoint: see its dashboard; each streamed "
        "answer says what it cost (X-Credits-Required)",
    )
    if speak and holder.get("voice") is not None:
        say(
            "camb: speaking one sentence with POST /tts-stream costs the credits CAMB charges "
            "for it (the answer's X-Credits-Required says how many)."
        )
        voice = int(holder["voice"])
        yield _speak(probe, lambda: client.tts(SENTENCE, voice, force=True))


def _aspose(speak: bool, say: Callable[[str], None]) -> Iterator[Finding]:
    from .providers.aspose import Aspose

    probe = _Probe("aspose")
    holder: dict[str, Any] = {}

    def token() -> tuple[str, str]:
        holder["client"] = client = Aspose()
        probe.scrub = client.transport.scrub
        client.tokens.get(None)
        return f"client id and secret accepted (an access token issued) at {_where(client)}", (
            "200"
        )

    finding, passed = probe.run("key", token)
    yield finding
    yield Finding(
        "aspose",
        "account",
        None,
        "Aspose publishes no quota endpoint: see the Aspose Cloud dashboard",
    )
    if speak and passed:
        client = holder["client"]
        say("aspose: speaking one sentence costs 1 API call of your plan's allowance.")
        yield _speak(probe, lambda: client.text_to_speech(SENTENCE, force=True))


def _speak(probe: _Probe, start: Callable[[], Any]) -> Finding:
    """Synthesize the sentence, and say what came back (format, length, credits, statuses)."""

    def run() -> tuple[str, str]:
        job = start()
        try:
            clip = job.wait(timeout=300)
        finally:
            raw = job.raw_status or job.state.name
        credits = clip.meta.get("credits_required") if isinstance(clip.meta, dict) else None
        spent = f", {credits} credits charged" if credits is not None else ""
        return (
            f"{clip.format} {clip.duration_s:.2f} s at {clip.sample_rate} Hz after "
            f"{job.polls} polls{spent} (job {job.id})"
        ), str(raw)

    return probe.run("speak", run)[0]


_CHECKS: dict[str, Callable[[bool, Callable[[str], None]], Iterator[Finding]]] = {
    "typecast": _typecast,
    "camb": _camb,
    "aspose": _aspose,
}
