"""Teaching mode: the raw HTTP behind every call, and jobs a learner drives one step at a time.

A teacher wants the library's one line and the provider's raw API side by side. Every exchange
a job records (`job.exchanges`) can be shown as the HTTP request and response (secrets masked
by the transport) and as the equivalent `curl` command. The command names each secret by its
environment variable, as the providers' own documents do with ``$API_TOKEN``, so it can be
pasted into a shell with that variable set and gets the same answer, and it never holds a key::

    tn.teach.show(job)                          # every exchange: HTTP text + curl
    tn.teach.request(tc, "GET", "/api/actor")   # one raw request, outside any job

Step by step, the learner plays the scheduler: a stepping client starts jobs that do nothing
until `job.step()`, which performs the next step (submit, one poll, or the download) in the
calling cell and returns its exchanges, raw JSON included::

    job = tn.teach.steps(tc).speak("Hello", actor_id="Olivia")
    job.step()       # POST /api/speak           → {"result": {"speak_v2_url": …}}
    job.step()       # GET  speak_v2_url         → {"result": {"status": "progress", …}}
    job.step()       # …until "done", then once more: the download
"""

from __future__ import annotations

import copy
import html
import json
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

from .clock import Clock, SystemClock
from .errors import InvalidInput
from .scheduler import Timer
from .transport import BODY_PREVIEW, MASK, Exchange

# Headers requests adds by itself; curl sends its own equivalents.
TRANSPORT_HEADERS = frozenset({"user-agent", "accept-encoding", "connection", "content-length"})
AUDIO_SUFFIXES = {
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/mpeg": "mp3",
    "audio/flac": "flac",
}


class ManualScheduler:
    """A scheduler that runs nothing by itself: each call waits until a `job.step()` runs it.

    It keeps no queue: a job holds its one pending call, and `step()` runs that call in the
    caller's thread. The clock is real, so histories show the learner's own pace.
    """

    manual = True

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or SystemClock()

    def call_at(self, when: float, fn: Callable[[], None], *, download: bool = False) -> Timer:
        return Timer(when, fn, download)

    def call_soon(self, fn: Callable[[], None], *, download: bool = False) -> Timer:
        return self.call_at(self.clock.now(), fn, download=download)


class Stepper:
    """Drives one step-by-step job: runs the call its `ManualScheduler` handed back, in the
    caller's thread, so the learner plays the scheduler, one cell per step. The engine knows
    nothing of it: a job only gives up its pending call (`Job.take_pending`)."""

    def __init__(self, job: Any) -> None:
        if not job.manual:
            raise InvalidInput(
                "job.step() is for step-by-step jobs, and this one polls by itself. Start one "
                "with tn.teach.steps(client).speak(...), then call job.step() once per cell.",
                provider=job.provider,
            )
        self.job = job

    def step(self) -> Transcript:
        """Run the job's next step now (the submit, one poll, or the download); a
        `Transcript` of its HTTP exchanges (raw JSON, curl)."""
        job = self.job
        timer = job.take_pending()
        before = len(job.exchanges)
        if timer is not None and not timer.cancelled and not job.state.terminal:
            timer.fn()
        return Transcript(job.exchanges[before:], job=job)


def steps(client: Any) -> Any:
    """The same client (key, endpoint, policy), but its jobs wait for `job.step()` calls.

    Example:
        >>> job = tn.teach.steps(tc).speak("Hello", actor_id="Olivia")
        >>> job.step()   # the submit: request, response JSON, curl
    """
    stepping = copy.copy(client)
    stepping.scheduler = ManualScheduler()
    return stepping


# --------------------------------------------------------------------------- renderings
def http_text(exchange: Exchange) -> str:
    """The request and its response as HTTP/1.1 text (secrets were masked when recorded)."""
    parts = urlsplit(exchange.url)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    lines = [f"{exchange.method} {target} HTTP/1.1", f"Host: {parts.netloc}"]
    lines += [f"{k}: {v}" for k, v in exchange.request_headers.items() if k.lower() != "host"]
    if exchange.request_body is not None:
        lines += ["", _pretty(exchange.request_body)]
    lines.append("")
    if exchange.status is None:
        lines.append(f"(no answer: {exchange.error or 'the connection failed'})")
        return "\n".join(lines)
    lines.append(f"HTTP/1.1 {exchange.status} {_phrase(exchange.status)}".rstrip())
    lines += [f"{k}: {v}" for k, v in exchange.response_headers.items()]
    if exchange.response_body:
        lines += ["", _pretty(exchange.response_body)]
    elif exchange.error:
        lines += ["", f"({exchange.error})"]
    return "\n".join(lines)


def curl(exchange: Exchange, provider: str) -> str:
    """The exchange as a `curl` command that names every secret by its environment variable.

    Re-issued in a shell where the variable is set (``TYPECAST_API_KEY``, ``CAMB_API_KEY``,
    ``ASPOSE_TOKEN``…), it sends the same request; audio answers are written to a file.
    """
    from .providers import client_class

    cls = client_class(provider)  # how its secrets are spelled in a shell
    headers = cls.secret_headers if cls else {}
    fields = cls.secret_fields if cls else {}
    variable_notes = cls.secret_notes if cls else {}
    args = [f"--request {exchange.method}", f"--url {shlex.quote(exchange.url)}"]
    content_type = ""
    used: list[str] = []
    for name, value in exchange.request_headers.items():
        low = name.lower()
        if low in TRANSPORT_HEADERS or (low == "accept" and value == "*/*"):
            continue
        if low == "content-type":
            content_type = value
        if MASK in value:
            shell_value = headers.get(low) or f"${_variable(provider, name)}"
            used.append(shell_value)
            args.append(f'--header "{name}: {shell_value}"')
        else:
            args.append(f"--header {shlex.quote(f'{name}: {value}')}")
    body = exchange.request_body
    is_form = content_type.startswith("application/x-www-form-urlencoded")
    if body is not None and is_form:
        for pair in body.split("&"):
            key, _, value = pair.partition("=")
            if key in fields or MASK in value:  # credentials, even the non-secret client_id
                shell_value = fields.get(key) or f"${_variable(provider, key)}"
                used.append(shell_value)
                args.append(f'--data-urlencode "{key}={shell_value}"')
            else:
                args.append(f"--data-urlencode {shlex.quote(f'{key}={value}')}")
    elif body is not None:
        args.append(f"--data {shlex.quote(_pretty(body))}")
    suffix = AUDIO_SUFFIXES.get(exchange.response_headers.get("Content-Type", "").split(";")[0])
    if suffix:
        args.append(f"--output {exchange.step}.{suffix}")
    notes = [f"# {note}" for var, note in variable_notes.items() if any(var in u for u in used)]
    if body is not None and len(body) >= BODY_PREVIEW:
        notes.append(f"# the body is cut at {BODY_PREVIEW} characters, as recorded")
    if body is not None and not is_form and MASK in body:
        notes.append("# a secret inside the body is shown masked; put your own value there")
    return "\n".join([*notes, " \\\n  ".join(["curl", *args])])


def _variable(provider: str, name: str) -> str:
    """A variable name for a secret this module has no spelling for (never its value)."""
    cleaned = "".join(c if c.isalnum() else "_" for c in name.upper())
    return f"{provider.upper()}_{cleaned}"


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _pretty(text: str) -> str:
    """JSON indented for reading; anything else as it came."""
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


# --------------------------------------------------------------------------- views
@dataclass
class Transcript:
    """Some exchanges of one provider, shown as HTTP text and curl (a list at heart).

    Attributes:
        exchanges: the recorded exchanges, oldest first.
        job: the job they belong to, when there is one (its state ends the view).
        provider: whose API they went to (taken from the job when there is one).
    """

    exchanges: list[Exchange]
    job: Any = None
    provider: str = field(default="")

    def __post_init__(self) -> None:
        self.exchanges = list(self.exchanges)
        if not self.provider and self.job is not None:
            self.provider = self.job.provider

    def __len__(self) -> int:
        return len(self.exchanges)

    def __getitem__(self, index: int) -> Exchange:
        return self.exchanges[index]

    def __iter__(self):
        return iter(self.exchanges)

    @property
    def json(self) -> Any:
        """The last answer's JSON body (None when it was not JSON, e.g. audio)."""
        for exchange in reversed(self.exchanges):
            if exchange.response_body:
                try:
                    return json.loads(exchange.response_body)
                except ValueError:
                    return None
        return None

    def curls(self) -> list[str]:
        """One curl command per exchange."""
        return [curl(exchange, self.provider) for exchange in self.exchanges]

    def http(self) -> list[str]:
        """One HTTP text per exchange."""
        return [http_text(exchange) for exchange in self.exchanges]

    def _title(self, exchange: Exchange) -> str:
        took = f" in {exchange.latency_s:.3f} s" if exchange.latency_s is not None else ""
        answer = exchange.status if exchange.status is not None else "no answer"
        retry = f" (attempt {exchange.attempt})" if exchange.attempt > 1 else ""
        return f"{exchange.step}{retry}: {exchange.method} {exchange.url} → {answer}{took}"

    def _footer(self) -> str:
        if self.job is None:
            return ""
        if not self.exchanges and not self.job.done():
            return "nothing was sent; call job.step() for the next step"
        if self.job.done():
            return f"the job ended: {self.job.state.value}"
        raw = f" (raw status {self.job.raw_status!r})" if self.job.raw_status else ""
        if self.job.rows and self.job.rows[-1]["state"] == "SUCCEEDED":
            return f"the provider finished{raw}: job.step() downloads the result"
        return f"job {self.job.state.value}{raw}: run job.step() again for the next step"

    def __repr__(self) -> str:
        blocks = []
        for exchange, text, command in zip(self.exchanges, self.http(), self.curls()):
            blocks.append(f"── {self._title(exchange)}\n{text}\n\n$ {command}")
        footer = self._footer()
        if footer:
            blocks.append(f"── {footer}")
        return "\n\n".join(blocks) or "(no exchanges)"

    def _repr_html_(self) -> str:
        cells = []
        for exchange, text, command in zip(self.exchanges, self.http(), self.curls()):
            cells.append(
                f"<div style='margin:0.6em 0'><b>{html.escape(self._title(exchange))}</b>"
                "<div style='display:grid;grid-template-columns:repeat(auto-fit,minmax(360px,1fr));"
                "gap:0.5em'>"
                f"<pre style='margin:0;white-space:pre-wrap'>{html.escape(text)}</pre>"
                f"<pre style='margin:0;white-space:pre-wrap'>{html.escape(command)}</pre>"
                "</div></div>"
            )
        footer = self._footer()
        if footer:
            cells.append(f"<div><i>{html.escape(footer)}</i></div>")
        return "<div class='tts-nb-transcript'>" + "".join(cells) + "</div>"


def show(job_or_exchanges: Any, provider: str = "") -> Transcript:
    """Every exchange of a job (or of a list of exchanges) as HTTP text and curl commands."""
    if hasattr(job_or_exchanges, "exchanges") and hasattr(job_or_exchanges, "provider"):
        job = job_or_exchanges
        return Transcript(list(job.exchanges), job=job)
    return Transcript(list(job_or_exchanges), provider=provider)


def request(
    client: Any,
    method: str,
    path: str,
    *,
    json_body: Any = None,
    params: dict[str, Any] | None = None,
    form: dict[str, str] | None = None,
    authed: bool = True,
) -> Transcript:
    """Send one raw request with the client's key and endpoint, and show it (errors included).

    For the calls outside any job, such as Typecast's ``GET /api/actor``: the learner sees
    the raw JSON the library's tables are made from.
    """
    recorded: list[Exchange] = []
    client.transport.request(
        method,
        path,
        step="request",
        recorder=recorded.append,
        json_body=json_body,
        params=params,
        form=form,
        authed=authed,
        raise_for_status=False,
    )
    return Transcript(recorded, provider=client.provider)


# --------------------------------------------------------------------------- where am I


@dataclass(frozen=True)
class Status:
    """Where each provider's requests go: the real service, or the embedded simulator.

    Attributes:
        simulated: provider → True when its requests go to the simulator.
        reasons: provider → why, in words.
        simulator_urls: provider → the simulator's base URL, for the simulated providers.
        typecast_api: which of Typecast's two APIs is used, and where each one's requests go.
        camb_stream: where `camb.tts` sends its text: CAMB's streaming endpoint.
        endpoints: provider → the endpoint its setting (``TTS_NB_*_URL``) names instead of
            the real service, for the providers not on the simulator.
    """

    simulated: dict[str, bool]
    reasons: dict[str, str]
    simulator_urls: dict[str, str]
    typecast_api: str = ""  # which Typecast API (v1 or legacy) and both endpoints
    camb_stream: str = ""  # camb.tts's endpoint, POST …/tts-stream
    endpoints: dict[str, str] = field(default_factory=dict)  # a set endpoint, not the real one

    @property
    def offline(self) -> bool:
        """True when nothing leaves this machine."""
        return all(self.simulated.values())

    def lines(self) -> list[str]:
        out = []
        for provider, simulated in self.simulated.items():
            url = self.simulator_urls.get(provider)
            set_url = self.endpoints.get(provider)
            if provider == "typecast" and self.typecast_api:
                url = set_url = None  # two APIs, two URLs: the next line has both
            where = "the real service" if not simulated else "embedded simulator"
            where += f" at {url}" if simulated and url else ""
            where = set_url if set_url and not simulated else where
            out.append(f"{provider}: {where} — {self.reasons[provider]}")
            if provider == "typecast" and self.typecast_api:
                out.append(f"typecast API: {self.typecast_api}")
            if provider == "camb" and self.camb_stream:
                out.append(f"camb speech: {self.camb_stream}")
        return out

    def _shown(self) -> None:
        """This box says where requests go: a client's simulator banner would repeat it."""
        if any(self.simulated.values()):
            from .client import notice_given

            notice_given()

    def __repr__(self) -> str:
        self._shown()
        head = "tts_nb runs offline on the simulator" if self.offline else "tts_nb"
        return "\n".join([head, *(f"  {line}" for line in self.lines())])

    def _repr_html_(self) -> str:
        self._shown()
        # JupyterLab's theme variables, so a dark theme gets a dark box with light text; the
        # fallbacks are for viewers without them (GitHub, nbviewer). The edge tells the modes
        # apart: blue offline, orange when real services (and quota) are in play.
        edge = (
            "var(--jp-brand-color1, #2196f3)" if self.offline else "var(--jp-warn-color1, #f57c00)"
        )
        fill = "#e8f4fd" if self.offline else "#fdf3e1"
        head = (
            "Offline: every request goes to the embedded simulator (no account, no quota)."
            if self.offline
            else "Real services are used where keys are set (requests may cost quota)."
        )
        items = "".join(f"<li>{html.escape(line)}</li>" for line in self.lines())
        return (
            f"<div style='background:var(--jp-layout-color2, {fill});"
            f"color:var(--jp-ui-font-color1, #1a1a1a);border-left:4px solid {edge};"
            "padding:0.5em 1em;border-radius:4px'>"
            f"<b>{html.escape(head)}</b><ul style='margin:0.3em 0'>{items}</ul></div>"
        )


def status(**simulator_options: Any) -> Status:
    """Say where requests go, and start the simulator (with these options) if any provider
    needs it: e.g. ``speed=10`` makes simulated jobs finish ten times sooner."""
    from .credentials import forced_by
    from .providers import client_classes

    forced_with = forced_by()
    simulated, reasons, endpoints, bases = {}, {}, {}, {}
    for provider, cls in client_classes().items():
        url_env, real_url = cls.endpoint_setting()
        try:  # the resolution a client made now would do (keys, TTS_NB_*_URL, simulator)
            bases[provider], simulated[provider], missing = cls.default_endpoint()
        except InvalidInput as error:  # a plain-http setting: a client would refuse it too
            simulated[provider], reasons[provider] = False, str(error)
            endpoints[provider] = f"refused ({url_env})"
            continue
        if not simulated[provider] and bases[provider] != real_url:
            endpoints[provider] = f"{bases[provider]} (set by {url_env})"
        if forced_with is not None:
            called = forced_with == "tn.use_simulator()"
            reasons[provider] = f"{forced_with} {'was called' if called else 'is set'}"
        elif missing:
            reasons[provider] = f"{' and '.join(missing)} not set"
        else:
            reasons[provider] = f"key from {' and '.join(cls.key_variables)}"
    urls: dict[str, str] = {}
    if any(simulated.values()):
        from .simulator import shared

        running = shared(**simulator_options).urls
        urls = {provider: running[provider] for provider, sim in simulated.items() if sim}
        if simulated["typecast"]:
            urls["typecast_v1"] = running["typecast_v1"]
    return Status(
        simulated,
        reasons,
        urls,
        _typecast_api(simulated["typecast"], urls),
        _camb_stream(urls.get("camb") or bases.get("camb")),
        endpoints,
    )


def _typecast_api(simulated: bool, urls: dict[str, str]) -> str:
    """Which Typecast API a new `tn.Typecast()` uses, and both APIs' endpoints (no request)."""
    from .credentials import find_secret
    from .providers import typecast

    if simulated:
        return (
            f"v1 (a new user's API; api='legacy' for the other) — v1 at {urls['typecast_v1']}, "
            f"legacy at {urls['typecast']}"
        )
    key = find_secret(None, typecast.KEY_ENV)
    api = typecast.known_api(key) if key is not None else None
    which = (
        f"{api} (found from the key)"
        if api
        else "not detected yet: tn.Typecast() finds it from the key, with one free request"
    )
    ends = []
    for name in typecast.APIS:
        try:
            ends.append(f"{name} at {typecast.api_endpoint(None, None, name)}")
        except InvalidInput as error:
            ends.append(f"{name}: {error}")
    return f"{which} — {', '.join(ends)}"


def _camb_stream(base: str | None) -> str:
    """Where `camb.tts` sends its text (no request): the streaming endpoint, by default.
    Nothing without a usable endpoint: the camb line already says why."""
    if base is None:
        return ""
    return (
        f"camb.tts streams from POST {base.rstrip('/')}/tts-stream, the audio in the answer "
        "(stream=False: the deprecated task flow)"
    )
