"""Where keys may go, and which hosts tts_nb fetches from.

Keys travel only to their provider's endpoint or to one configured together with them: a
`.env` file in the working folder cannot redirect the environment's key, a ledger record cannot
send `tn.resume()` elsewhere, and plain http is refused off loopback. URLs a real service names
are fetched over https from public addresses only, never with `~/.netrc` credentials. Fake
providers listen on 127.0.0.2 (loopback, another host than the simulator's 127.0.0.1).
"""

from __future__ import annotations

import json
import warnings
from types import SimpleNamespace

import pytest

import tts_nb as tn
from tts_nb.errors import RefusedURL
from tts_nb.ledger import Ledger

from .conftest import wait_until
from .test_ledger import insert_running, ledger_dir
from .test_security import Stub, as_json

KEY = "tc-REAL-USER-KEY-0001"
ACTOR = "a" * 24


def fake_typecast(host: str = "127.0.0.2") -> Stub:
    """A Typecast look-alike that answers every poll "progress" and logs what it receives."""

    def route(method, path, headers):
        if path.startswith("/v1/"):
            return as_json({"message": "not this API"}, 401)
        if path.startswith("/api/actor"):
            return as_json({"result": []})
        return as_json({"result": {"status": "progress"}})

    return Stub(route, host=host)


@pytest.fixture
def fakes():
    made: list[Stub] = []

    def make(host: str = "127.0.0.2") -> Stub:
        made.append(fake_typecast(host))
        return made[-1]

    yield make
    for stub in made:
        stub.close()


def authorizations(stub: Stub) -> list[str]:
    return [h["authorization"] for _, _, h in stub.requests if "authorization" in h]


# ------------------------------------------------------------- .env may not redirect keys
def test_a_dotenv_url_cannot_redirect_the_environments_key(fakes, monkeypatch, tmp_path):
    planted, real = fakes(), fakes("127.0.0.1")
    monkeypatch.setattr(tn.Typecast, "real_url", real.url)  # a stand-in for typecast.ai
    monkeypatch.setenv("TYPECAST_API_KEY", KEY)
    (tmp_path / ".env").write_text(f"TTS_NB_TYPECAST_URL={planted.url}\n")
    with pytest.warns(UserWarning, match=r"TTS_NB_TYPECAST_URL in .*\.env is ignored") as info:
        client = tn.Typecast(api="legacy")
    assert "environment" in str(info[0].message) and KEY not in str(info[0].message)
    client.actors()
    assert client.base_url == real.url
    assert authorizations(planted) == []  # was ['Bearer tc-REAL-USER-KEY-0001']
    assert authorizations(real) == [f"Bearer {KEY}"]


def test_a_url_configured_with_its_key_is_used(fakes, monkeypatch, tmp_path):
    """A key and URL from the same place (.env, or the environment) belong together; an
    explicit base_url= is the caller's own choice."""
    mine = fakes()
    (tmp_path / ".env").write_text(
        f"TYPECAST_API_KEY=from-dotenv\nTTS_NB_TYPECAST_URL={mine.url}\n"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert tn.Typecast(api="legacy").base_url == mine.url
        monkeypatch.setenv("TYPECAST_API_KEY", KEY)
        monkeypatch.setenv("TTS_NB_TYPECAST_URL", mine.url + "/env")
        assert tn.Typecast(api="legacy").base_url == mine.url + "/env"
        monkeypatch.delenv("TTS_NB_TYPECAST_URL")
        assert tn.Typecast(api="legacy", base_url=mine.url + "/arg").base_url == mine.url + "/arg"


def test_the_aspose_pair_follows_the_same_rule(fakes, monkeypatch, tmp_path):
    planted = fakes()
    monkeypatch.setenv("ASPOSE_CLIENT_ID", "id-0001")
    monkeypatch.setenv("ASPOSE_CLIENT_SECRET", "secret-0001")
    (tmp_path / ".env").write_text(f"TTS_NB_ASPOSE_URL={planted.url}\n")
    with pytest.warns(UserWarning, match="ASPOSE_CLIENT_ID and ASPOSE_CLIENT_SECRET"):
        client = tn.Aspose()
    assert client.base_url == tn.Aspose.real_url


@pytest.mark.parametrize(
    "url", ["http://example.com", "http://10.0.0.5:8080", "ftp://127.0.0.1", "typecast.ai"]
)
def test_plain_http_endpoints_are_refused_off_loopback(url, monkeypatch):
    with pytest.raises(tn.InvalidInput, match=r"not an https:// URL.*loopback"):
        tn.Typecast(api_key=KEY, base_url=url, api="legacy")
    monkeypatch.setenv("TTS_NB_ASPOSE_URL", url)
    with pytest.raises(tn.InvalidInput, match="https://"):
        tn.Aspose(client_id="id-0001", client_secret="secret-0001")


@pytest.mark.parametrize(
    "url", ["http://127.0.0.2:9", "http://localhost:9", "http://[::1]:9", "https://x.example"]
)
def test_https_and_loopback_endpoints_are_accepted(url):
    assert tn.Typecast(api_key=KEY, base_url=url, api="legacy").base_url == url


# ------------------------------------------------------------- the ledger may not either
def planted_record(url: str, job_id: str = "planted00001") -> Ledger:
    """A RUNNING legacy speak job, as if an earlier kernel had sent it to `url`."""
    ledger = Ledger(ledger_dir())
    insert_running(ledger, SimpleNamespace(urls={"typecast": url}), job_id)
    with ledger._transaction() as db:
        body = {"text": "Planted.", "actor_id": ACTOR, "lang": "auto"}
        db.execute("UPDATE jobs SET body = ? WHERE id = ?", (json.dumps(body), job_id))
    return ledger


def test_resume_sends_no_key_to_an_endpoint_from_the_ledger(fakes, monkeypatch):
    planted = fakes()
    ledger = planted_record(planted.url)
    monkeypatch.setenv("TYPECAST_API_KEY", KEY)
    with pytest.warns(UserWarning, match="not resumed") as info:
        assert tn.resume() == []
    message = str(info[0].message)
    assert planted.url in message and "TTS_NB_TYPECAST_URL=" in message and KEY not in message
    assert planted.requests == []  # was a poll with 'Bearer tc-REAL-USER-KEY-0001'
    assert ledger.get("planted00001")["state"] == "RUNNING"  # left for a later resume


def test_resume_uses_an_endpoint_configured_now(fakes, monkeypatch):
    mine = fakes()
    ledger = planted_record(mine.url)
    monkeypatch.setenv("TYPECAST_API_KEY", KEY)
    monkeypatch.setenv("TTS_NB_TYPECAST_URL", mine.url)
    (job,) = tn.resume("planted00001")
    try:
        wait_until(
            lambda: any("/api/speak/v2/" in path for _, path, _ in mine.requests),
            f"the resumed job never polled the configured endpoint: {mine.requests}",
        )
        assert set(authorizations(mine)) == {f"Bearer {KEY}"}
    finally:
        job.cancel()
    assert ledger.get("planted00001") is not None


# ------------------------------------------------------------- hosts a provider names
def real_client(**kwargs) -> tn.Typecast:
    """A client of the real service (https://typecast.ai); nothing is sent to it here."""
    client = tn.Typecast(api_key=KEY, api="legacy", **kwargs)
    assert not client.simulated and client.transport.guard_hosts
    return client


def test_real_clients_fetch_only_public_https_hosts(fakes, monkeypatch):
    local = fakes("127.0.0.1")
    client = real_client()
    sent = []
    monkeypatch.setattr(client.transport.session, "send", lambda *a, **k: sent.append(a))
    port = local.url.rsplit(":", 1)[1]
    refused = {
        f"http://127.0.0.1:{port}/a.wav": "https only",
        f"https://127.0.0.1:{port}/a.wav": "127.0.0.1",
        f"https://localhost:{port}/a.wav": "127.0.0.1|::1",
        f"https://[::1]:{port}/a.wav": "::1",
        "https://169.254.169.254/latest/meta-data/": "169.254.169.254",
        "https://10.1.2.3/a.wav": "10.1.2.3",
        "https://192.168.0.7/a.wav": "192.168.0.7",
        "https://[::ffff:127.0.0.1]/a.wav": "127.0.0.1",
    }
    for url, why in refused.items():
        with pytest.raises(RefusedURL, match=why):
            client.transport.request("GET", url, step="fetch", authed=False)
    assert sent == [] and local.requests == []


def test_the_simulator_and_loopback_apis_are_exempt(fakes):
    cdn = fakes()
    for client in (
        tn.Typecast(api_key=KEY, base_url=fakes("127.0.0.1").url, api="legacy"),
        tn.Typecast(api="legacy"),  # no key: the simulator
    ):
        assert not client.transport.guard_hosts
        client.transport.request("GET", f"{cdn.url}/a.wav", step="fetch", authed=False)
    assert len(cdn.requests) == 2


def test_a_refused_url_ends_the_job_at_once(fakes):
    def api(method, path, headers):
        if method == "POST":
            return as_json({"result": {"speak_v2_url": f"https://10.1.2.3/api/speak/v2/{ACTOR}"}})
        return as_json({"result": {"status": "progress"}})

    stub = Stub(api)
    try:
        client = tn.Typecast(
            api_key=KEY,
            base_url=stub.url,
            api="legacy",
            policy=tn.Fixed(0.05, timeout=5),
            min_interval=0.05,
        )
        client.transport.guard_hosts = True  # as for a real service
        job = client.speak("Poll a private host.", actor_id=ACTOR)
        with pytest.raises(RefusedURL, match="10.1.2.3"):
            job.wait(10)
    finally:
        stub.close()
    assert job.state is tn.State.FAILED and job.polls == 1  # was: polled until the deadline
    assert [m for m, _, _ in stub.requests] == ["POST"]


def test_relative_urls_are_paths_on_the_api(fakes):
    api = fakes()
    client = tn.Typecast(api_key=KEY, base_url=api.url, api="legacy")
    client.transport.request("GET", "/v2/q?next=http://x", step="poll")
    assert [(p, h.get("authorization")) for _, p, h in api.requests] == [
        ("/v2/q?next=http://x", f"Bearer {KEY}")
    ]


# ------------------------------------------------------------- the environment's settings
def test_netrc_credentials_never_reach_a_provider_chosen_host(fakes, monkeypatch, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / ".netrc").write_text("default login alice password intranet-pass\n")
    (home / ".netrc").chmod(0o600)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("NETRC", raising=False)
    api, cdn = fakes("127.0.0.1"), fakes()
    client = tn.Typecast(api_key=KEY, base_url=api.url, api="legacy")
    client.transport.request("GET", f"{cdn.url}/a.wav", step="fetch", authed=False)
    client.transport.request("GET", "/api/actor", step="catalogue")
    assert cdn.requests and authorizations(cdn) == []  # was ['Basic YWxpY2U6aW50cmFuZXQtcGFzcw==']
    assert authorizations(api) == [f"Bearer {KEY}"]


def test_proxies_come_from_the_environment(fakes, monkeypatch):
    proxy, target = fakes("127.0.0.1"), fakes()
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    client = tn.Typecast(api_key=KEY, base_url=target.url, api="legacy")
    client.transport.request("GET", "/api/actor", step="catalogue")
    assert [p for _, p, _ in proxy.requests] == [f"{target.url}/api/actor"] and not target.requests
    monkeypatch.setenv("NO_PROXY", "127.0.0.2")
    client.transport.request("GET", "/api/actor", step="catalogue")
    assert [p for _, p, _ in target.requests] == ["/api/actor"] and len(proxy.requests) == 1
    assert json.dumps(proxy.requests).count(KEY) == 1  # the proxy is the user's own choice


def test_a_provider_module_that_cannot_be_imported_leaves_the_others_listed(monkeypatch):
    import sys

    from tts_nb.providers import client_class, client_classes

    assert list(client_classes()) == ["typecast", "camb", "aspose"]
    monkeypatch.setitem(sys.modules, "tts_nb.providers.typecast", None)  # an import fails
    assert client_classes() == {"camb": tn.Camb, "aspose": tn.Aspose}
    assert client_class("typecast") is None and client_class("aspose") is tn.Aspose
