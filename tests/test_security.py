"""Keys: where they come from, that they never show up anywhere, and that they only ever go to
their own API origin. URLs from answers: only http(s) is followed. Downloads: size and time
limits. Over real HTTP, against the simulator and against small hostile servers."""

from __future__ import annotations

import getpass
import json
import logging
import threading
import time
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import ipywidgets
import pytest

import tts_nb as tn
from tts_nb import credentials
from tts_nb.simulator.typecast import ACTORS
from tts_nb.state import State

from .conftest import FAST
from .secrets_scan import assert_no_secrets, find_secrets

ACTOR = ACTORS[0].actor_id


@pytest.fixture(autouse=True)
def _forget_logins():
    yield
    credentials.logout()


def client_with(sim, **kwargs):
    return tn.Typecast(
        base_url=sim.urls["typecast"], policy=FAST, min_interval=0.05, api="legacy", **kwargs
    )


# ------------------------------------------------------------------ where keys come from
def test_keys_come_from_argument_environment_dotenv_or_getpass(sim, monkeypatch, tmp_path, capsys):
    key = sim.credentials["typecast_api_key"]
    ok = [client_with(sim, api_key=key).speak("From an argument.", actor_id=ACTOR).wait(30)]

    monkeypatch.setenv("TYPECAST_API_KEY", key)
    ok.append(client_with(sim).speak("From the environment.", actor_id=ACTOR).wait(30))
    monkeypatch.delenv("TYPECAST_API_KEY")

    (tmp_path / ".env").write_text(f"TYPECAST_API_KEY={key}\n")
    ok.append(client_with(sim).speak("From a dot env file.", actor_id=ACTOR).wait(30))
    (tmp_path / ".env").unlink()
    assert "TYPECAST_API_KEY" not in __import__("os").environ  # .env is read, not exported

    prompts = []
    monkeypatch.setattr(getpass, "getpass", lambda prompt: prompts.append(prompt) or key)
    tn.login("typecast")
    ok.append(client_with(sim).speak("From getpass.", actor_id=ACTOR).wait(30))
    assert prompts and "TYPECAST_API_KEY" in prompts[0]
    assert all(clip.duration_s > 0 for clip in ok)

    wrong = client_with(sim, api_key="an-explicit-argument-wins")
    with pytest.raises(tn.AuthError):
        wrong.actors()
    credentials.logout("typecast")
    with pytest.raises(tn.AuthError, match="TYPECAST_API_KEY"):
        tn.Typecast(base_url=sim.urls["typecast"], api="legacy").speak("x", actor_id=ACTOR).wait(10)
    assert_no_secrets([capsys.readouterr(), prompts], [key])


def test_login_refuses_unknown_providers_and_empty_input(monkeypatch):
    with pytest.raises(tn.InvalidInput, match="typecast"):
        tn.login("elevenlabs")
    monkeypatch.setattr(getpass, "getpass", lambda prompt: "  ")
    with pytest.raises(tn.InvalidInput, match="nothing was changed"):
        tn.login("camb")


def test_keys_are_never_read_from_widgets(monkeypatch, tmp_path):
    """Keys come from arguments, the environment, .env or getpass; a widget's value would be
    saved into the notebook file, so finding a key never creates (or reads) a widget."""
    made = []

    def no_widgets(self, *args, **kwargs):
        made.append(type(self).__name__)
        raise AssertionError(f"a {type(self).__name__} widget was made while finding keys")

    monkeypatch.setattr(ipywidgets.Widget, "__init__", no_widgets)
    prompts = []
    monkeypatch.setattr(getpass, "getpass", lambda prompt: prompts.append(prompt) or "from-login")
    tn.login("camb")
    monkeypatch.setenv("TYPECAST_API_KEY", "from-environment")
    (tmp_path / ".env").write_text("ASPOSE_CLIENT_ID=from-dotenv\n")
    found = {
        name: credentials.find_secret(None, name)
        for name in ("CAMB_API_KEY", "TYPECAST_API_KEY", "ASPOSE_CLIENT_ID")
    }
    assert {name: secret.reveal() for name, secret in found.items()} == {
        "CAMB_API_KEY": "from-login",
        "TYPECAST_API_KEY": "from-environment",
        "ASPOSE_CLIENT_ID": "from-dotenv",
    }
    assert len(prompts) == 1 and made == []
    assert repr(credentials.Secret("abcdefgh")) == "Secret('••••')"
    with pytest.raises(TypeError):
        __import__("pickle").dumps(credentials.Secret("abcdefgh"))


# ------------------------------------------------------------------ the key never shows
def test_no_key_in_any_output_table_log_exception_or_ledger_file(sim, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    key = sim.credentials["typecast_api_key"]
    typo = key[:-1] + "Z"  # a mistyped key is as secret as the real one
    client = client_with(sim, api_key=key)
    seen: list = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ok = client.speak("Secret keeping.", actor_id=ACTOR)
        seen.append(ok.wait(30))
        failed = client.speak(f"My key is {key}. [[sim:fail]]", actor_id=ACTOR)
        sim.faults.script("lost_answer", origin="typecast", method="POST")
        lost = client.speak("Lost answer.", actor_id=ACTOR)
        sim.faults.script("malformed", origin="typecast", method="GET", path="/api/speak/v2/")
        bumpy = client.speak("Bumpy ride.", actor_id=ACTOR)
        bad = client_with(sim, api_key=typo)
        denied = bad.speak("Denied.", actor_id=ACTOR)
        for job in (failed, lost, bumpy, denied):
            try:
                seen.append(job.wait(30))
            except tn.TTSError as error:
                seen.append(error)
        try:
            bad.actors()
        except tn.AuthError as error:
            seen.append(error)
        try:
            client.speak("Lost answer.", actor_id=ACTOR)
        except tn.InvalidInput as error:
            seen.append(error)
    jobs = [ok, failed, lost, bumpy, denied]
    things = [
        seen,
        [repr(client), repr(bad), repr(client.transport.__dict__), vars(client)],
        [(repr(job), job.status_line(), job.rows, job.history, job.request) for job in jobs],
        [repr(exchange) for job in jobs for exchange in job.exchanges],
        [job._repr_mimebundle_() for job in jobs],
        [seen[0]._repr_html_(), repr(seen[0]), seen[0].meta],
        tn.jobs(),
        tn.history(),
        caplog.records,
        [str(w.message) for w in caught],
        capsys.readouterr(),
        tn.use_ledger(True).directory,  # the SQLite file, its WAL and every stored result
    ]
    assert_no_secrets(things, [key, typo])
    assert find_secrets([f"x{key}x"], [key])  # the scanner does find it when it is there
    assert "Bearer ••••" in repr(ok.exchanges[0].request_headers)
    assert "••••" in failed.request["text"]


# ------------------------------------------------------------------ hostile servers
class Stub:
    """A small HTTP server on loopback that answers from a routing function and logs requests."""

    def __init__(self, route, host: str = "127.0.0.1") -> None:
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                stub.requests.append((self.command, self.path, headers))
                status, answer_headers, body = route(self.command, self.path, headers)
                self.send_response(status)
                for name, value in answer_headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _serve

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.url = f"http://{host}:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def as_json(data, status: int = 200, **headers):
    return status, {"Content-Type": "application/json", **headers}, json.dumps(data).encode()


@pytest.fixture
def stubs(sim):
    made = []

    def make(route):
        made.append(Stub(route))
        return made[-1]

    yield make
    for stub in made:
        stub.close()


KEY = "tc-live-0123456789abcdef"


def stub_client(url: str, **kwargs):
    return tn.Typecast(
        api_key=KEY, base_url=url, policy=FAST, min_interval=0.05, api="legacy", **kwargs
    )


def test_credentials_go_only_to_their_own_origin(stubs, sim):
    cdn_audio = {}
    cdn = stubs(lambda method, path, headers: cdn_audio["answer"])
    evil = stubs(
        lambda method, path, headers: (
            as_json({"result": {"status": "done", "audio_download_url": f"{cdn.url}/a.wav"}})
            if path.startswith("/status")
            else (302, {"Location": f"{evil.url}/status/1"}, b"")
        )
    )

    def api(method, path, headers):
        if method == "POST":  # the submit answer points the polls at another origin
            return as_json({"result": {"speak_v2_url": f"{api_stub.url}/api/speak/v2/{'a' * 24}"}})
        return 302, {"Location": f"{evil.url}/moved"}, b""  # and the poll redirects away

    api_stub = stubs(api)
    cdn_audio["answer"] = (
        200,
        {"Content-Type": "audio/wav"},
        tn.Typecast(
            api_key=sim.credentials["typecast_api_key"], base_url=sim.urls["typecast"], api="legacy"
        )
        .speak("Real audio for the stub CDN.", actor_id=ACTOR, force=True)
        .wait(30)
        .data,
    )
    clip = stub_client(api_stub.url).speak("Where do my keys go?", actor_id=ACTOR).wait(30)
    assert clip.duration_s > 0
    assert [m for m, _, _ in api_stub.requests] == ["POST", "GET"]
    assert all(h.get("authorization") == f"Bearer {KEY}" for _, _, h in api_stub.requests)
    assert evil.requests and cdn.requests
    for _, _, headers in evil.requests + cdn.requests:
        assert "authorization" not in headers and KEY not in json.dumps(headers)


@pytest.mark.parametrize(
    "where", ["file:///etc/passwd", "ftp://127.0.0.1/a.wav", "javascript:alert(1)"]
)
def test_only_http_urls_from_answers_are_followed(stubs, where):
    def api(method, path, headers):
        if method == "POST":
            return as_json({"result": {"speak_v2_url": f"{stub.url}/api/speak/v2/{'b' * 24}"}})
        if path.endswith("/redirect"):
            return 302, {"Location": where}, b""
        return as_json({"result": {"status": "done", "audio_download_url": where}})

    stub = stubs(api)
    job = stub_client(stub.url).speak("Follow me.", actor_id=ACTOR)
    with pytest.raises(tn.ProviderError, match=r"only http\(s\) URLs are followed"):
        job.wait(30)
    assert job.state is State.FAILED
    client = stub_client(stub.url)
    with pytest.raises(tn.ProviderError, match=r"only http\(s\) URLs are followed"):
        client.transport.request("GET", "/redirect", step="probe")


def test_a_key_echoed_by_a_server_is_masked(stubs):
    def api(method, path, headers):
        said = f"token {headers.get('authorization')} is not valid"
        return as_json({"message": {"msg": said, "error_code": "auth/echo"}}, 401)

    stub = stubs(api)
    client = stub_client(stub.url)
    job = client.speak("Echo.", actor_id=ACTOR)
    with pytest.raises(tn.AuthError) as info:
        job.wait(30)
    assert "auth/echo" in str(info.value)
    assert_no_secrets([info.value, job.history, job.exchanges, tn.jobs()], [KEY])


def test_downloads_have_a_size_limit(sim):
    client = client_with(sim, api_key=sim.credentials["typecast_api_key"])
    client.transport.max_bytes = 1000
    job = client.speak("This answer is far too large for the limit.", actor_id=ACTOR)
    with pytest.raises(tn.ProviderError, match="larger than 1,000 bytes") as info:
        job.wait(30)
    assert "max_bytes" in str(info.value)
    assert job.history.step.tolist()[-1] == "fetch"


def test_downloads_have_a_time_limit(sim):
    client = client_with(sim, api_key=sim.credentials["typecast_api_key"])
    client.transport.download_timeout = 0.05
    sim.faults.script("slow", "slow", "slow", origin="cdn")  # 512 bytes every 10 ms
    t0 = time.monotonic()
    job = client.speak("A slow trickle of audio bytes from the content network.", actor_id=ACTOR)
    with pytest.raises(tn.ProviderError, match="took longer than 0.05 s") as info:
        job.wait(30)
    assert "download_timeout" in str(info.value)
    assert time.monotonic() - t0 < 10
    fetches = [row for row in job.rows if row["step"] == "fetch"]
    assert len(fetches) == 3  # a broken download is tried again, a bounded number of times
