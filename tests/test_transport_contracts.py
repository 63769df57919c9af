"""The transport as a provider and a user see it: what is sent where, what is recorded, and
the words of every error. A scripted adapter answers in order (no sockets).

Written against mutmut's survivors (pyproject.toml [tool.mutmut], tests/mutation-equivalents.md).
"""

from __future__ import annotations

import email.utils
import time

import pytest
import requests

import tts_nb as tn
from tts_nb import transport as transport_module
from tts_nb.errors import RefusedURL
from tts_nb.transport import (
    MASK,
    Transport,
    is_loopback,
    mask_tokens,
    origin_of,
    parse_retry_after,
)

from .test_job_contracts import Script, answer

API = "https://api.test/v2"
KEY = "sk-transport-secret-42"


class Clockless:
    def now(self):
        return 0.0


class Raising(requests.adapters.BaseAdapter):
    """An adapter whose every request fails with `error` (a connection that never answers)."""

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    def send(self, request, **kwargs):
        raise self.error

    def close(self):
        pass


def make(answers, base=API, **kwargs):
    sent: list[requests.PreparedRequest] = []

    class Recording(Script):
        def send(self, request, **kw):
            sent.append(request)
            return super().send(request, **kw)

    transport = Transport(
        base,
        provider="acme",
        auth_headers=lambda: {"x-api-key": KEY, "Authorization": f"Bearer {KEY}"},
        secrets=lambda: [KEY, "", "abc"],
        retries=0,
        **kwargs,
    )
    script = Recording(Clockless(), answers)
    transport.session.mount("http://", script)
    transport.session.mount("https://", script)
    records = []
    return transport, sent, records


def send(transport, records, method, url, **kwargs):
    return transport.request(method, url, step="poll", recorder=records.append, **kwargs)


# ------------------------------------------------------------------ URLs and origins
def test_origins_fill_in_default_ports_and_ignore_case():
    assert origin_of("https://API.test/x") == ("https", "api.test", 443)
    assert origin_of("http://api.test/x") == ("http", "api.test", 80)
    assert origin_of("http://api.test:8080/x") == ("http", "api.test", 8080)
    assert origin_of("ftp://api.test/x") == ("ftp", "api.test", None)


def test_paths_are_joined_under_the_api_root():
    transport, sent, records = make([answer(200, {"ok": 1})])
    assert transport.url("/jobs/1") == "https://api.test/v2/jobs/1"
    send(transport, records, "GET", "/jobs/1?next=http://elsewhere.test")
    assert sent[0].url == "https://api.test/v2/jobs/1?next=http://elsewhere.test"


def test_credentials_go_to_the_apis_own_origin_only():
    transport, sent, records = make([answer(200, {"ok": 1}), answer(200, b"audio")])
    send(transport, records, "GET", "jobs")
    send(transport, records, "GET", "https://93.184.216.34/result.wav")
    assert sent[0].headers["x-api-key"] == KEY
    assert "x-api-key" not in sent[1].headers and "Authorization" not in sent[1].headers
    assert sent[0].headers["User-Agent"] == sent[1].headers["User-Agent"] == "tts_nb"
    # the same host on another port is another origin
    other, sent2, records2 = make([answer(200, b"audio")])
    send(other, records2, "GET", "https://api.test:8443/v2/jobs")
    assert "x-api-key" not in sent2[0].headers


def test_unauthenticated_requests_and_extra_headers():
    transport, sent, records = make([answer(200, {"ok": 1})])
    send(transport, records, "GET", "jobs", authed=False, headers={"X-Trace": "7"})
    assert "x-api-key" not in sent[0].headers and sent[0].headers["X-Trace"] == "7"


def test_recorded_headers_mask_credentials_but_keep_the_scheme():
    transport, sent, records = make([answer(200, {"ok": 1})])
    send(transport, records, "GET", "jobs", headers={"X-Echo": f"k={KEY}"})
    headers = records[0].request_headers
    assert headers["x-api-key"] == MASK
    assert headers["Authorization"] == f"Bearer {MASK}"
    assert headers["X-Echo"] == f"k={MASK}"
    assert headers["User-Agent"] == "tts_nb"


@pytest.mark.parametrize(
    "url, words",
    [
        ("ftp://api.test/a.wav", "refusing to follow a ftp URL"),
        ("javascript:alert(1)", "refusing to follow a javascript URL"),
        ("http://[::1/a.wav", "refusing to follow a malformed URL"),
    ],
)
def test_only_http_urls_are_followed(url, words):
    transport, sent, records = make([])
    with pytest.raises(RefusedURL, match=words) as caught:
        send(transport, records, "GET", url)
    assert "only http(s) URLs are followed" in str(caught.value)
    assert sent == []


def test_a_real_service_never_makes_this_machine_fetch_plain_http_or_private_hosts():
    transport, sent, records = make([])
    with pytest.raises(RefusedURL, match="fetched over https only"):
        send(transport, records, "GET", "http://93.184.216.34/a.wav")
    with pytest.raises(RefusedURL, match="its host is at 10.1.2.3, a loopback, private"):
        send(transport, records, "GET", "https://10.1.2.3/a.wav")
    with pytest.raises(RefusedURL, match="its host is at 127.0.0.1"):
        send(transport, records, "GET", "https://[::ffff:127.0.0.1]:8443/a.wav")
    assert sent == []


def test_a_loopback_or_simulated_api_may_name_any_host():
    for base, simulated in (("http://127.0.0.1:9/api", False), (API, True)):
        transport, sent, records = make([answer(200, b"audio")], base=base, simulated=simulated)
        send(transport, records, "GET", "http://10.1.2.3/a.wav")
        assert len(sent) == 1


@pytest.mark.parametrize(
    "url, loopback",
    [
        ("http://localhost:8000/", True),
        ("http://api.localhost/", True),
        ("http://127.0.0.2/", True),
        ("http://[::1]/", True),
        ("http://LOCALHOST/", True),
        ("http://10.0.0.1/", False),
        ("http://example.test/", False),
        ("http://[::1/", False),
    ],
)
def test_loopback_urls(url, loopback):
    assert is_loopback(url) is loopback


# ------------------------------------------------------------------ redirects
def test_get_redirects_are_followed_without_the_original_query():
    transport, sent, records = make(
        [answer(302, b"", {"Location": "/v2/audio/1?sig=x"}), answer(200, b"audio")]
    )
    response = send(transport, records, "GET", "jobs/1", params={"page": 2})
    assert response.content == b"audio"
    assert [r.url for r in sent] == [
        "https://api.test/v2/jobs/1?page=2",
        "https://api.test/v2/audio/1?sig=x",
    ]
    assert [r.status for r in records] == [302, 200]


@pytest.mark.parametrize("status", [301, 303, 307, 308])
def test_each_redirect_status_is_followed_for_a_get(status):
    transport, sent, records = make(
        [answer(status, b"", {"Location": "https://api.test/v2/b"}), answer(200, b"audio")]
    )
    assert send(transport, records, "GET", "a").content == b"audio"
    assert len(sent) == 2


def test_a_post_is_never_sent_again_to_a_location():
    transport, sent, records = make([answer(307, b"", {"Location": "https://api.test/v2/b"})])
    response = send(transport, records, "POST", "a", json_body={"text": "hi"})
    assert response.status_code == 307 and len(sent) == 1


def test_more_than_five_redirects_is_an_error_naming_the_limit():
    loop = answer(302, b"", {"Location": f"https://api.test/v2/loop?k={KEY}"})
    transport, sent, records = make([loop] * 6)
    with pytest.raises(tn.ProviderError) as caught:
        send(transport, records, "GET", "start")
    assert len(sent) == 6
    assert str(caught.value) == (
        f"acme: more than 5 redirects for https://api.test/v2/loop?k={MASK}."
    )
    five, sent5, records5 = make([loop] * 5 + [answer(200, b"audio")])
    assert send(five, records5, "GET", "start").content == b"audio"


# ------------------------------------------------------------------ errors in words
@pytest.mark.parametrize(
    "status, error",
    [
        (401, tn.AuthError),
        (403, tn.AuthError),
        (402, tn.QuotaError),
        (404, tn.NotFound),
        (410, tn.NotFound),
        (400, tn.InvalidInput),
        (413, tn.InvalidInput),
        (422, tn.InvalidInput),
        (409, tn.ProviderError),
        (500, tn.ProviderError),
    ],
)
def test_each_error_status_becomes_its_typed_error(status, error):
    transport, sent, records = make([answer(status, {"detail": "said"})])
    with pytest.raises(error) as caught:
        send(transport, records, "GET", "jobs/1")
    assert type(caught.value) is error
    assert caught.value.status_code == status and caught.value.provider == "acme"
    assert str(caught.value).startswith(
        f'acme answered {status} to GET https://api.test/v2/jobs/1: {{"detail": "said"}}'
    )


def test_a_429_says_how_long_to_wait():
    transport, sent, records = make([answer(429, b"", {"Retry-After": "30"})])
    with pytest.raises(tn.QuotaError) as caught:
        send(transport, records, "GET", "jobs/1")
    assert caught.value.retry_after == 30
    assert str(caught.value) == (
        "acme answered 429 to GET https://api.test/v2/jobs/1. The server asks to wait 30 s."
        " Too many requests: slow down or retry later."
    )
    bare, sent, records = make([answer(429, b"")])
    with pytest.raises(tn.QuotaError) as caught:
        send(bare, records, "GET", "jobs/1")
    assert "ask" not in str(caught.value) and caught.value.retry_after is None


def test_a_5xx_on_a_submit_says_it_was_not_sent_again():
    transport, sent, records = make([answer(503, b"down")])
    with pytest.raises(tn.ProviderError) as caught:
        send(transport, records, "POST", "jobs", json_body={"text": "hi"})
    text = str(caught.value)
    assert text.startswith("acme answered 503 to POST https://api.test/v2/jobs: down. ")
    assert "acme failed on its side. tts_nb did not send the request again" in text
    assert text.endswith("Try again in a minute; if it keeps failing, check acme's status page.")
    get, sent, records = make([answer(500, b"")])
    with pytest.raises(tn.ProviderError) as caught:
        send(get, records, "GET", "jobs/1")
    assert str(caught.value) == (
        "acme answered 500 to GET https://api.test/v2/jobs/1. acme failed on its side. Try "
        "again in a minute; if it keeps failing, check acme's status page."
    )


def test_an_error_answer_is_described_in_the_providers_words_and_scrubbed():
    transport, sent, records = make([answer(400, {"detail": KEY})])
    transport._describe_error = lambda response: f"bad key {KEY}"
    with pytest.raises(tn.InvalidInput) as caught:
        send(transport, records, "GET", "jobs/1")
    assert str(caught.value).endswith(f": bad key {MASK}")


def test_an_html_error_page_is_named_by_its_title():
    page = b"<!DOCTYPE html><html><head><title>502  Bad\n Gateway</title></head></html>"
    transport, sent, records = make([(502, {"Content-Type": "text/html"}, page)])
    with pytest.raises(tn.ProviderError) as caught:
        send(transport, records, "GET", "x")
    assert f": an HTML page (502 Bad Gateway, {len(page)} bytes)." in str(caught.value)
    untitled = b"  <html><body>oops</body></html>"
    transport, sent, records = make([(500, {"Content-Type": "text/plain"}, untitled)])
    with pytest.raises(tn.ProviderError, match=r"an HTML page \(no title, 32 bytes\)"):
        send(transport, records, "GET", "x")


def test_a_long_error_body_is_cut_to_300_characters():
    transport, sent, records = make([answer(400, ("x" * 400).encode())])
    with pytest.raises(tn.InvalidInput) as caught:
        send(transport, records, "GET", "x")
    assert str(caught.value).endswith(": " + "x" * 300)


def test_raise_for_status_false_returns_the_error_answer():
    transport, sent, records = make([answer(404, {"detail": "no"})])
    assert send(transport, records, "GET", "x", raise_for_status=False).status_code == 404


def test_an_answer_that_is_not_json_is_named():
    transport, sent, records = make([(200, {"Content-Type": "text/plain"}, f"hello {KEY}")])
    response = send(transport, records, "GET", "jobs/1")
    with pytest.raises(tn.ProviderError) as caught:
        transport.json_of(response)
    assert str(caught.value) == (
        f"acme: expected JSON from GET https://api.test/v2/jobs/1, got 'hello {MASK}' (text/plain)."
    )
    untyped, sent, records = make([(200, {}, b"")])
    with pytest.raises(tn.ProviderError, match=r"got '' \(no content type\)"):
        untyped.json_of(send(untyped, records, "GET", "x"))


def test_an_answer_over_max_bytes_is_refused_and_recorded():
    transport, sent, records = make([answer(200, b"x" * 2048)], max_bytes=1024)
    with pytest.raises(tn.ProviderError) as caught:
        send(transport, records, "GET", "big")
    assert str(caught.value).startswith(
        "acme: the answer is larger than 1,024 bytes, the transport's max_bytes"
    )
    assert records[0].status == 200 and records[0].error == str(caught.value)
    exact, sent, records = make([answer(200, b"x" * 1024)], max_bytes=1024)
    assert len(send(exact, records, "GET", "big").content) == 1024
    per_request, sent, records = make([answer(200, b"x" * 3 * 2**20)])
    with pytest.raises(tn.ProviderError, match="larger than 2 MiB"):
        send(per_request, records, "GET", "big", max_bytes=2 * 2**20)


def test_a_lost_connection_is_maybe_sent_for_a_post_only():
    for method, maybe in (("POST", True), ("GET", False)):
        transport, sent, records = make([])
        lost = Raising(requests.ConnectionError(f"peer reset (key {KEY})"))
        transport.session.mount("https://", lost)
        with pytest.raises(tn.ProviderError) as caught:
            send(transport, records, method, "jobs")
        assert caught.value.maybe_sent is maybe
        assert str(caught.value) == (
            f"acme: no answer to {method} (ConnectionError: peer reset (key {MASK}))."
        )
        assert records[0].error == f"ConnectionError: peer reset (key {MASK})"
        assert records[0].status is None and records[0].latency_s is not None


def test_a_connection_never_made_is_not_maybe_sent():
    transport, sent, records = make([])
    transport.session.mount("https://", Raising(requests.ConnectTimeout("slow")))
    with pytest.raises(tn.ProviderError) as caught:
        send(transport, records, "POST", "jobs")
    assert caught.value.maybe_sent is False
    assert str(caught.value) == "acme: no answer to POST (timed out)."


def test_a_request_that_cannot_be_built_sends_nothing():
    transport, sent, records = make([])
    with pytest.raises(tn.ProviderError) as caught:
        send(transport, records, "POST", "jobs", json_body={"x": float("nan")})
    assert "cannot build the request to 'https://api.test/v2/jobs'" in str(caught.value)
    assert str(caught.value).endswith("Nothing was sent.")
    assert sent == [] and records == []


# ------------------------------------------------------------------ recorded exchanges
def test_an_exchange_records_the_request_and_the_answer():
    transport, sent, records = make(
        [
            (
                200,
                {"Content-Type": "application/json", "X-Audio-Duration": "1.5", "X-Other": "z"},
                '{"access_token": "tok-123", "id": 7}',
            )
        ]
    )
    send(transport, records, "POST", "jobs", json_body={"text": "héllo", "key": KEY})
    (record,) = records
    assert (record.step, record.method, record.status, record.attempt) == ("poll", "POST", 200, 1)
    assert record.url == "https://api.test/v2/jobs"
    assert record.request_body == f'{{"text": "héllo", "key": "{MASK}"}}'
    assert record.response_body == f'{{"access_token": "{MASK}", "id": 7}}'
    assert record.response_headers == {
        "Content-Type": "application/json",
        "X-Audio-Duration": "1.5",
    }
    assert record.latency_s is not None and record.latency_s >= 0
    assert abs(record.started - time.time()) < 60


def test_form_and_file_previews_hide_secrets_and_bytes():
    transport, sent, records = make([answer(200, {"ok": 1})] * 2)
    send(
        transport,
        records,
        "POST",
        "token",
        form={"client_id": "me", "client_secret": "s3cr3t", "password": "pw", "grant": "x"},
    )
    assert records[0].request_body == f"client_id=me&client_secret={MASK}&password={MASK}&grant=x"
    send(transport, records, "POST", "upload", files={"voice": ("a.wav", b"x" * 10, "audio/wav")})
    assert records[1].request_body == "voice=<a.wav, audio/wav, 10 bytes>"


def test_request_previews_are_cut_at_2000_characters():
    transport, sent, records = make([answer(200, {"ok": 1})] * 3)
    send(transport, records, "POST", "a", json_body={"text": "y" * 5000})
    send(transport, records, "POST", "b", form={"text": "y" * 5000})
    send(transport, records, "GET", "c")
    assert len(records[0].request_body) == 2000 and len(records[1].request_body) == 2000
    assert records[2].request_body is None


@pytest.mark.parametrize(
    "kind, body, shown",
    [
        ("audio/wav", b"RIFF....", "<8 bytes audio/wav>"),
        ("", b"\x00\x01", "<2 bytes binary>"),
        ("", b'{"a": 1}', '{"a": 1}'),
        ("", b"[1]", "[1]"),
        ("", b"<x/>", "<x/>"),
        ("text/plain", b"hi", "hi"),
        ("application/xml", b"<a/>", "<a/>"),
        ("application/problem+json", b"{}", "{}"),
        # the content type decides before the first byte is looked at
        ("application/json", b'"queued"', '"queued"'),
        ("application/json; charset=utf-8", b"42", "42"),
        ("application/soap+xml", b" <a/>", " <a/>"),
        ("text/csv", b"a,b", "a,b"),
        ("application/octet-stream", b"\xff\xfe", "<2 bytes application/octet-stream>"),
    ],
)
def test_response_previews_show_text_and_name_binary(kind, body, shown):
    headers = {"Content-Type": kind} if kind else {}
    transport, sent, records = make([(200, headers, body)])
    send(transport, records, "GET", "x")
    assert records[0].response_body == shown


def test_response_previews_are_cut_at_2000_characters():
    transport, sent, records = make([(200, {"Content-Type": "text/plain"}, "z" * 3000)])
    send(transport, records, "GET", "x")
    assert records[0].response_body == "z" * 2000


# ------------------------------------------------------------------ helpers
def test_scrub_masks_every_secret_of_four_characters_or_more():
    transport, sent, records = make([])
    assert transport.scrub(f"a {KEY} b abc") == f"a {MASK} b abc"
    four = Transport(API, provider="acme", secrets=lambda: ["abcd"])
    assert four.scrub("xabcdx") == f"x{MASK}x"


def test_token_fields_are_masked_wherever_they_appear():
    text = '{"access_token":"a1", "refresh_token" : "r2", "id_token": "i3", "token": "t"}'
    assert mask_tokens(text) == (
        f'{{"access_token":"{MASK}", "refresh_token" : "{MASK}", "id_token": "{MASK}", '
        '"token": "t"}'
    )


def test_retry_after_in_seconds_or_as_a_date():
    assert parse_retry_after("12") == 12.0
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after(None) is None and parse_retry_after("") is None
    assert parse_retry_after("soon") is None
    later = email.utils.formatdate(time.time() + 120, usegmt=True)
    assert 100 < parse_retry_after(later) <= 120
    earlier = email.utils.formatdate(time.time() - 120, usegmt=True)
    assert parse_retry_after(earlier) == 0.0


def test_proxies_and_ca_bundles_come_from_the_environment(monkeypatch):
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.test:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    settings = transport_module._environment_settings("https://api.test/x")
    assert settings == {"proxies": {"https": "http://proxy.test:3128"}}
    monkeypatch.setenv("SSL_CERT_FILE", "/certs/c.pem")
    assert transport_module._environment_settings("https://api.test/x")["verify"] == (
        "/certs/c.pem"
    )
    monkeypatch.setenv("CURL_CA_BUNDLE", "/certs/b.pem")
    assert transport_module._environment_settings("https://api.test/x")["verify"] == (
        "/certs/b.pem"
    )


def test_a_download_past_its_time_limit_says_how_to_allow_more():
    transport, sent, records = make([answer(200, b"audio")])
    with pytest.raises(tn.ProviderError) as caught:
        send(transport, records, "GET", "audio", download_timeout=0)
    assert caught.value.message == (
        "acme: the download took longer than 0 s (the transport's download_timeout) and was "
        "stopped after 0 bytes. Try again; raise client.transport.download_timeout on a slow "
        "connection."
    )
    assert caught.value.provider == "acme" and records[0].error == caught.value.message


def test_the_refusals_of_unsafe_hosts_in_full_without_the_key():
    transport, sent, records = make([])
    with pytest.raises(RefusedURL) as caught:
        send(transport, records, "GET", f"http://93.184.216.34/a.wav?k={KEY}")
    assert caught.value.message == (
        f"acme: refusing to fetch http://93.184.216.34/a.wav?k={MASK}: a real service's "
        "downloads are fetched over https only. Nothing was sent; if the provider really "
        "serves plain http, report it to them."
    )
    assert caught.value.provider == "acme"
    with pytest.raises(RefusedURL) as caught:
        send(transport, records, "GET", f"https://10.1.2.3/a.wav?k={KEY}")
    assert caught.value.message == (
        f"acme: refusing to fetch https://10.1.2.3/a.wav?k={MASK}: its host is at 10.1.2.3, a "
        "loopback, private or link-local address, which a real service never serves results "
        "from. Nothing was sent. For a local stand-in of the API, point base_url= at it "
        "(loopback endpoints are trusted)."
    )
    assert caught.value.provider == "acme"


def test_sizes_switch_to_mebibytes_at_one():
    transport, sent, records = make([answer(200, b"x" * (2**20 + 1))], max_bytes=2**20)
    with pytest.raises(tn.ProviderError, match=r"larger than 1 MiB, the transport's"):
        send(transport, records, "GET", "big")


def test_a_get_is_tried_again_after_a_5xx_waiting_the_retry_delays():
    import http.server
    import threading

    seen: list[float] = []

    class Flaky(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(time.monotonic())
            status = 200 if len(seen) == 3 else 502
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_port}/"
        transport = Transport(base, provider="acme", retry=tn.Retry(initial=0.5, attempts=3))
        records = []
        response = send(transport, records, "GET", "jobs/1")
        assert response.status_code == 200 and len(seen) == 3
        assert seen[1] - seen[0] < 0.4  # the second try goes at once
        assert 0.45 <= seen[2] - seen[1] < 2.0  # the third waits the first delay
        assert [r.attempt for r in records] == [1, 2, 3]
        assert [r.status for r in records] == [502, 502, 200]
        assert [r.error for r in records[:2]] == ["retried", "retried"]
        assert records[0].started == records[1].started == records[2].started
        assert records[0].request_headers == records[2].request_headers
        assert records[0].request_headers["User-Agent"] == "tts_nb"
        assert records[0].url == records[2].url == f"{base}jobs/1"
        assert records[0].method == "GET" and records[0].step == "poll"
        transport.close()
    finally:
        server.shutdown()
        server.server_close()


# ------------------------------------------------------------------ more contracts
@pytest.mark.parametrize(
    "status, retryable",
    [
        (400, False),
        (401, False),
        (402, False),
        (403, False),
        (404, False),
        (408, True),
        (409, True),
        (410, False),
        (413, False),
        (422, False),
        (429, True),
        (500, True),
        (502, True),
        (503, True),
    ],
)
def test_each_error_says_whether_asking_again_could_help(status, retryable):
    transport, sent, records = make([answer(status, b"")])
    with pytest.raises(tn.TTSError) as caught:
        send(transport, records, "GET", "jobs/1")
    assert caught.value.retryable is retryable


def test_a_lost_connection_may_be_asked_again():
    transport, sent, records = make([])
    transport.session.mount("https://", Raising(requests.ConnectionError("peer reset")))
    with pytest.raises(tn.ProviderError) as caught:
        send(transport, records, "POST", "jobs")
    assert caught.value.retryable is True and caught.value.maybe_sent is True


def test_an_origin_without_a_host_is_empty():
    assert origin_of("file:///tmp/a.wav") == ("file", "", None)
    assert origin_of("https://user@API.test:8443/x") == ("https", "api.test", 8443)
    assert is_loopback("file:///tmp/a.wav") is False


def fake_resolver(monkeypatch, addresses=None, error=None):
    """getaddrinfo answering with these addresses (as some platforms report them), or raising."""
    import socket

    asked = []

    def getaddrinfo(host, port, *args, **kwargs):
        asked.append((host, port))
        if error is not None:
            raise error
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in addresses
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


def test_a_scoped_link_local_address_is_refused_and_named_without_its_scope(monkeypatch):
    asked = fake_resolver(monkeypatch, ["fe80::1%eth0"])
    transport, sent, records = make([])
    with pytest.raises(RefusedURL) as caught:
        send(transport, records, "GET", "https://cdn.test/a.wav")
    assert caught.value.message.startswith(
        "acme: refusing to fetch https://cdn.test/a.wav: its host is at fe80::1, a loopback,"
    )
    assert asked == [("cdn.test", 443)] and sent == []


def test_the_first_private_address_a_name_resolves_to_is_refused(monkeypatch):
    asked = fake_resolver(monkeypatch, ["93.184.216.34", "::ffff:169.254.169.254", "10.0.0.9"])
    transport, sent, records = make([])
    with pytest.raises(RefusedURL, match=r"its host is at 169\.254\.169\.254, a loopback"):
        send(transport, records, "GET", "https://cdn.test:8443/a.wav")
    assert asked == [("cdn.test", 8443)] and sent == []


def test_a_public_or_unresolvable_host_is_fetched(monkeypatch):
    fake_resolver(monkeypatch, ["93.184.216.34", "2606:2800:220:1::1"])
    transport, sent, records = make([answer(200, b"audio")] * 2)
    assert send(transport, records, "GET", "https://cdn.test/a.wav").content == b"audio"
    import socket

    fake_resolver(monkeypatch, error=socket.gaierror(-2, "Name or service not known"))
    assert send(transport, records, "GET", "https://gone.test/a.wav").content == b"audio"
    assert [r.url for r in sent] == ["https://cdn.test/a.wav", "https://gone.test/a.wav"]
    assert "x-api-key" not in sent[0].headers and "x-api-key" not in sent[1].headers


def test_a_request_that_cannot_be_built_is_named_in_full():
    transport, sent, records = make([])
    with pytest.raises(tn.ProviderError) as caught:
        send(transport, records, "POST", "jobs", json_body={"x": float("inf")})
    assert caught.value.message == (
        "acme: cannot build the request to 'https://api.test/v2/jobs' (InvalidJSONError: Out of "
        "range float values are not JSON compliant): a malformed URL from the provider's answer, "
        "or a value JSON cannot carry (NaN, infinity). Nothing was sent."
    )


@pytest.mark.parametrize("status", [200, 201, 202])
def test_a_location_on_an_answer_that_is_no_redirect_is_not_followed(status):
    transport, sent, records = make(
        [answer(status, {"id": 1}, {"Location": "https://api.test/v2/jobs/1"}), answer(200, b"x")]
    )
    response = send(transport, records, "GET", "jobs")
    assert response.status_code == status and len(sent) == 1
    assert records[0].response_headers["Location"] == "https://api.test/v2/jobs/1"


def test_an_error_is_described_from_the_answer_itself():
    transport, sent, records = make([answer(422, {"detail": {"msg": "voice unknown"}})])
    transport._describe_error = lambda response: response.json()["detail"]["msg"]
    with pytest.raises(tn.InvalidInput) as caught:
        send(transport, records, "GET", "voices/x")
    assert caught.value.message == (
        "acme answered 422 to GET https://api.test/v2/voices/x: voice unknown"
    )


def test_a_connection_refused_by_a_closed_port_was_never_sent():
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    transport = Transport(f"http://127.0.0.1:{port}/", provider="acme", retries=0)
    records = []
    with pytest.raises(tn.ProviderError) as caught:
        send(transport, records, "POST", "jobs", json_body={"text": "hi"})
    assert caught.value.maybe_sent is False and caught.value.retryable is True
    # the urllib3 error's reason, not its "Max retries exceeded" wrapper (errno differs by OS)
    assert caught.value.message.startswith(
        f"acme: no answer to POST (ConnectionError: HTTPConnection(host='127.0.0.1', port={port}):"
        " Failed to establish a new connection: [Errno "
    )
    assert caught.value.message.endswith("] Connection refused).")
    assert records[0].status is None and records[0].error.startswith("ConnectionError: ")
    transport.close()


def test_a_refused_scheme_is_named_with_its_url_without_the_key():
    transport, sent, records = make([])
    with pytest.raises(RefusedURL) as caught:
        send(transport, records, "GET", f"ftp://api.test/a.wav?k={KEY}")
    assert caught.value.message == (
        f"acme: refusing to follow a ftp URL taken from a response (ftp://api.test/a.wav?k={MASK});"
        " only http(s) URLs are followed."
    )
    assert caught.value.provider == "acme" and caught.value.retryable is False


def test_a_relative_url_is_refused_as_relative():
    from tts_nb.url_safety import refuse_scheme

    with pytest.raises(RefusedURL) as caught:
        refuse_scheme("", "/a.wav", "acme")
    assert caught.value.message == (
        "acme: refusing to follow a relative URL taken from a response (/a.wav); only http(s) "
        "URLs are followed."
    )
    assert caught.value.provider == "acme"
    refuse_scheme("http", "http://x.test/", "acme")
    refuse_scheme("https", "https://x.test/", "acme")


def test_the_size_refusal_says_how_to_allow_more():
    transport, sent, records = make([answer(200, b"x" * 101)], max_bytes=100)
    with pytest.raises(tn.ProviderError) as caught:
        send(transport, records, "GET", "big")
    assert caught.value.message == (
        "acme: the answer is larger than 100 bytes, the transport's max_bytes; refusing to "
        "download it. Raise client.transport.max_bytes if you expect such large results."
    )
    assert caught.value.provider == "acme"


def test_credentials_go_to_the_api_origin_also_with_its_default_port_written_out():
    transport, sent, records = make([answer(200, {"ok": 1})])
    send(transport, records, "GET", "https://API.test:443/v2/jobs")
    assert sent[0].headers["x-api-key"] == KEY


@pytest.mark.parametrize(
    "kind, page, shown",
    [
        ("text/html; charset=utf-8", b"<head><title>Oops</title></head>", "Oops"),
        ("text/plain", b"\n <!DOCTYPE HTML><title>Gone</title>", "Gone"),
        ("TEXT/HTML", b"<p>no title here</p>", "no title"),
    ],
)
def test_html_error_pages_are_known_by_their_type_or_their_first_tag(kind, page, shown):
    transport, sent, records = make([(503, {"Content-Type": kind}, page)])
    with pytest.raises(tn.ProviderError) as caught:
        send(transport, records, "GET", "x")
    assert caught.value.message.startswith(
        f"acme answered 503 to GET https://api.test/v2/x: an HTML page ({shown}, {len(page)} "
        "bytes). acme failed on its side."
    )
