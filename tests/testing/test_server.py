"""How a `LocalIssuer` answers HTTP: the real server on 127.0.0.1, injected faults, and the ASGI
app.
"""

from __future__ import annotations

import json
import threading
import time
import warnings
from collections.abc import Iterator, MutableMapping
from typing import Any, cast

import anyio
import httpx
import pytest
from joserfc import jwt
from joserfc.errors import (
    SecurityWarning,
)
from joserfc.jwk import KeySet

from jwks_middleware._config import DEFAULT_MAX_DOCUMENT_BYTES, DEFAULT_MAX_KEYS
from jwks_middleware.testing import (
    LocalIssuer,
)

NOW = 1_700_000_000


def decode(issuer: LocalIssuer, token: str, jwks: dict[str, Any] | None = None) -> jwt.Token:
    """Verify a token's signature with joserfc against the issuer's published keys."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)  # "EdDSA" is deprecated by RFC 9864
        return jwt.decode(token, key_set(jwks or issuer.jwks()), algorithms=[issuer.algorithm])


def key_set(jwks: dict[str, Any]) -> KeySet:
    key_set: KeySet = KeySet.import_key_set(cast(Any, jwks))
    return key_set


@pytest.fixture(scope="module")
def issuer() -> LocalIssuer:
    """An unserved issuer with a fixed clock (RSA key generation is the slow part: share it)."""
    return LocalIssuer(clock=lambda: NOW)


@pytest.fixture
def served() -> Iterator[LocalIssuer]:
    with LocalIssuer.serve(algorithm="ES256") as issuer:
        yield issuer


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as client:
        yield client


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def test_serve_runs_on_a_random_loopback_port(served: LocalIssuer, client: httpx.Client) -> None:
    assert served.url.startswith("http://127.0.0.1:")
    assert served.serving
    assert client.get(served.discovery_url).json() == served.metadata()
    assert client.get(served.jwks_uri).json() == served.jwks()
    assert client.get(served.oauth_metadata_url).json() == served.metadata()
    assert decode(served, served.issue()).claims["iss"] == served.url


def test_jwks_carries_cache_control_and_etag(served: LocalIssuer, client: httpx.Client) -> None:
    response = client.get(served.jwks_uri)
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "public, max-age=900"
    etag = response.headers["etag"]
    assert etag[0] == etag[-1] == '"'
    assert client.get(served.jwks_uri).headers["etag"] == etag

    served.cache_max_age = 60
    assert client.get(served.jwks_uri).headers["cache-control"] == "public, max-age=60"
    served.cache_max_age = None
    assert "cache-control" not in client.get(served.jwks_uri).headers


@pytest.mark.parametrize("if_none_match", ["{etag}", "W/{etag}", '"other", {etag}', "*"])
def test_a_matching_if_none_match_gets_304_without_body(
    served: LocalIssuer, client: httpx.Client, if_none_match: str
) -> None:
    etag = client.get(served.jwks_uri).headers["etag"]
    response = client.get(served.jwks_uri, headers={"If-None-Match": if_none_match.format(etag=etag)})
    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == etag
    assert response.headers["cache-control"] == "public, max-age=900"


def test_the_etag_changes_when_the_keys_change(served: LocalIssuer, client: httpx.Client) -> None:
    etag = client.get(served.jwks_uri).headers["etag"]
    served.publish_next_key()
    response = client.get(served.jwks_uri, headers={"If-None-Match": etag})
    assert response.status_code == 200
    assert response.headers["etag"] != etag
    assert len(response.json()["keys"]) == 2


def test_rotation_is_visible_on_the_server(served: LocalIssuer, client: httpx.Client) -> None:
    old, new = served.kid, served.rotate()
    assert [key["kid"] for key in client.get(served.jwks_uri).json()["keys"]] == [old, new]
    served.retire_old_keys()
    assert [key["kid"] for key in client.get(served.jwks_uri).json()["keys"]] == [new]


def test_requests_are_counted_by_path_and_can_be_reset(served: LocalIssuer, client: httpx.Client) -> None:
    client.get(served.jwks_uri, headers={"User-Agent": "probe"})
    client.get(served.jwks_uri + "?x=1")
    client.get(served.discovery_url)
    client.get(f"{served.url}/missing")
    assert served.requests["/.well-known/jwks.json"] == 2
    assert served.requests["/.well-known/openid-configuration"] == 1
    assert served.requests["/.well-known/oauth-authorization-server"] == 0
    assert served.requests.total() == 4
    first = served.request_log[0]
    assert (first.method, first.path, first.query, first.headers["user-agent"]) == (
        "GET",
        "/.well-known/jwks.json",
        "",
        "probe",
    )
    assert served.request_log[1].query == "x=1"
    served.reset_counts()
    assert served.requests.total() == 0
    assert served.request_log == ()


def test_wait_for_requests_returns_once_enough_arrived(served: LocalIssuer, client: httpx.Client) -> None:
    assert not served.wait_for_requests(1, timeout=0)
    client.get(served.jwks_uri)
    assert served.wait_for_requests(1, path=served.jwks_uri, timeout=0)
    assert not served.wait_for_requests(1, path=served.discovery_url, timeout=0)
    assert served.wait_for_requests(1, timeout=0)


def test_unknown_paths_get_404_and_other_methods_405(served: LocalIssuer, client: httpx.Client) -> None:
    assert client.get(f"{served.url}/token").status_code == 404
    response = client.post(served.jwks_uri, content=b"{}")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"


def test_head_gets_the_headers_without_the_body(served: LocalIssuer, client: httpx.Client) -> None:
    response = client.head(served.jwks_uri)
    assert response.status_code == 200
    assert response.content == b""
    assert int(response.headers["content-length"]) == len(client.get(served.jwks_uri).content)


def test_discovery_can_be_turned_off_to_test_the_rfc8414_fallback(
    served: LocalIssuer, client: httpx.Client
) -> None:
    served.serve_discovery = False
    assert client.get(served.discovery_url).status_code == 404
    assert client.get(served.oauth_metadata_url).json() == served.metadata()
    served.serve_discovery, served.serve_oauth_metadata = True, False
    assert client.get(served.discovery_url).status_code == 200
    assert client.get(served.oauth_metadata_url).status_code == 404


def test_serve_with_a_path_puts_the_issuer_below_it(client: httpx.Client) -> None:
    with LocalIssuer.serve(algorithm="ES256", path="/oauth2/default") as issuer:
        assert issuer.url.endswith("/oauth2/default")
        assert client.get(issuer.discovery_url).json()["issuer"] == issuer.url
        assert issuer.oauth_metadata_url.endswith("/.well-known/oauth-authorization-server/oauth2/default")
        assert client.get(issuer.oauth_metadata_url).status_code == 200


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"host": "0.0.0.0"}, "loopback"),
        ({"host": "::"}, "loopback"),
        ({"host": "issuer.example.test"}, "loopback"),
        ({"path": "x/"}, "path"),
        ({"algorithm": "HS256"}, "unsupported algorithm"),  # after the port is bound: closed again
    ],
)
def test_serve_refuses_unsafe_options(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message), LocalIssuer.serve(**options):
        pass  # pragma: no cover


def test_serve_on_localhost_uses_the_name_in_the_url(client: httpx.Client) -> None:
    with LocalIssuer.serve(algorithm="ES256", host="localhost") as issuer:
        assert issuer.url.startswith("http://localhost:")
        assert client.get(issuer.jwks_uri).json() == issuer.jwks()


def test_an_unserved_issuer_cannot_start_or_stop(issuer: LocalIssuer) -> None:
    assert not issuer.serving
    with pytest.raises(RuntimeError, match="serve"):
        issuer.start()
    with pytest.raises(RuntimeError, match="serve"):
        issuer.stop()


def test_fail_with_answers_every_request_until_recover(served: LocalIssuer, client: httpx.Client) -> None:
    served.fail_with(503, b"down for maintenance", headers={"Retry-After": "120"})
    for url in (served.jwks_uri, served.discovery_url):
        response = client.get(url)
        assert (response.status_code, response.content) == (503, b"down for maintenance")
        assert response.headers["retry-after"] == "120"
        assert response.headers["content-type"] == "text/plain; charset=utf-8"
    served.recover()
    assert client.get(served.jwks_uri).json() == served.jwks()


def test_a_fault_can_be_limited_to_one_path_and_a_number_of_requests(
    served: LocalIssuer, client: httpx.Client
) -> None:
    served.fail_with(500, "oops", path=served.jwks_uri, times=2)
    assert client.get(served.discovery_url).status_code == 200
    assert [client.get(served.jwks_uri).text for _ in range(2)] == ["oops", "oops"]
    assert client.get(served.jwks_uri).status_code == 200


def test_a_path_fault_takes_precedence_over_a_global_one(served: LocalIssuer, client: httpx.Client) -> None:
    served.fail_with(500)
    served.fail_with(404, path="/.well-known/jwks.json")
    assert client.get(served.jwks_uri).status_code == 404
    assert client.get(served.discovery_url).status_code == 500


@pytest.mark.parametrize(("options", "message"), [({"delay": -1}, "delay"), ({"times": 0}, "times")])
def test_impossible_faults_are_refused(served: LocalIssuer, options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        served.fail_with(500, **options)


def test_serve_garbage_answers_200_with_a_body_that_is_not_json(
    served: LocalIssuer, client: httpx.Client
) -> None:
    served.serve_garbage(path=served.jwks_uri)
    response = client.get(served.jwks_uri)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_serve_jwks_replaces_the_key_set_with_caching_headers(
    served: LocalIssuer, client: httpx.Client
) -> None:
    served.serve_jwks({"keys": []})
    response = client.get(served.jwks_uri)
    assert response.json() == {"keys": []}
    assert "etag" in response.headers
    served.serve_jwks(b'{"keys": "not a list"}')
    assert client.get(served.jwks_uri).content == b'{"keys": "not a list"}'
    served.serve_jwks('{"keys": [{"kty": "RSA"}]}')
    assert client.get(served.jwks_uri).content == b'{"keys": [{"kty": "RSA"}]}'
    served.serve_jwks(None)
    assert client.get(served.jwks_uri).json() == served.jwks()


def test_serve_metadata_replaces_the_discovery_documents(served: LocalIssuer, client: httpx.Client) -> None:
    served.serve_metadata({**served.metadata(), "issuer": "https://impostor.test"})
    assert client.get(served.discovery_url).json()["issuer"] == "https://impostor.test"
    assert client.get(served.oauth_metadata_url).json()["issuer"] == "https://impostor.test"
    served.recover()
    assert client.get(served.discovery_url).json()["issuer"] == served.url


def test_oversized_jwks_is_larger_than_the_fetch_limits(served: LocalIssuer, client: httpx.Client) -> None:
    served.serve_jwks(served.oversized_jwks())
    response = client.get(served.jwks_uri)
    assert len(response.content) >= 1024 * 1024 > DEFAULT_MAX_DOCUMENT_BYTES
    keys = response.json()["keys"]
    assert len(keys) > DEFAULT_MAX_KEYS
    assert keys[0] == served.jwks()["keys"][0]
    assert len({key["kid"] for key in keys}) == len(keys)


def test_redirect_answers_with_a_location(served: LocalIssuer, client: httpx.Client) -> None:
    served.redirect("https://elsewhere.example.test/jwks.json", path=served.jwks_uri)
    response = client.get(served.jwks_uri)
    assert response.status_code == 302
    assert response.headers["location"] == "https://elsewhere.example.test/jwks.json"
    assert served.requests.total() == 1


def test_slow_down_delays_the_answer_past_a_client_timeout(served: LocalIssuer) -> None:
    served.slow_down(30, path=served.jwks_uri, times=1)
    with httpx.Client(timeout=httpx.Timeout(0.2)) as client:
        with pytest.raises(httpx.ReadTimeout):
            client.get(served.jwks_uri)
        assert client.get(served.jwks_uri).status_code == 200  # the slow answer was a one-off


def test_trickle_sends_the_body_a_byte_at_a_time(served: LocalIssuer) -> None:
    served.trickle(0.001, path=served.jwks_uri, times=1)
    expected = len(json.dumps(served.jwks(), separators=(",", ":")))
    with (
        httpx.Client(timeout=httpx.Timeout(1.0)) as client,
        client.stream("GET", served.jwks_uri) as response,
    ):
        # Every read comes well within the read timeout; the headers, length included, at once.
        assert response.headers["content-length"] == str(expected)
        raw = response.iter_raw()
        chunks = [next(raw) for _ in range(3)]
        body = b"".join([*chunks, *raw])
    assert [len(chunk) for chunk in chunks] == [1, 1, 1]
    assert json.loads(body) == served.jwks()
    with pytest.raises(ValueError, match="positive"):
        served.trickle(0)


def test_fail_with_delay_is_slow_then_fails(served: LocalIssuer) -> None:
    served.fail_with(500, delay=30)
    with httpx.Client(timeout=httpx.Timeout(0.2)) as client, pytest.raises(httpx.ReadTimeout):
        client.get(served.discovery_url)


def test_stop_cuts_a_slow_answer_short(served: LocalIssuer) -> None:
    served.slow_down(60)
    outcome: list[BaseException] = []

    def fetch() -> None:
        try:
            httpx.get(served.jwks_uri, timeout=30)
        except httpx.HTTPError as error:
            outcome.append(error)

    thread = threading.Thread(target=fetch)
    thread.start()
    assert served.wait_for_requests(1)
    started = time.monotonic()
    served.stop()
    thread.join(10)
    assert time.monotonic() - started < 5
    assert not thread.is_alive()
    assert len(outcome) == 1
    assert isinstance(outcome[0], httpx.RemoteProtocolError)


def test_stop_refuses_connections_until_start_on_the_same_port(
    served: LocalIssuer, client: httpx.Client
) -> None:
    url = served.jwks_uri
    assert client.get(url).status_code == 200  # leaves an idle keep-alive connection
    served.stop()
    assert not served.serving
    with pytest.raises(httpx.ConnectError):
        client.get(url)
    served.stop()  # stopping twice is harmless
    served.start()
    served.start()  # so is starting twice
    assert served.jwks_uri == url
    assert client.get(url).status_code == 200


def test_serve_leaves_no_thread_behind(client: httpx.Client) -> None:
    before = set(threading.enumerate())
    with LocalIssuer.serve(algorithm="ES256") as issuer:
        client.get(issuer.jwks_uri)  # an idle keep-alive connection stays open
        served_threads = set(threading.enumerate()) - before
        assert served_threads
    assert not any(thread.is_alive() for thread in served_threads)


def test_serve_stops_when_the_block_raises() -> None:
    with pytest.raises(KeyError), LocalIssuer.serve(algorithm="ES256") as issuer:
        raise KeyError
    assert not issuer.serving


@pytest.mark.anyio
async def test_asgi_app_serves_the_same_documents_and_faults() -> None:
    issuer = LocalIssuer(algorithm="ES256")
    transport = httpx.ASGITransport(app=issuer.asgi_app())
    async with httpx.AsyncClient(transport=transport) as client:
        response = await client.get(issuer.jwks_uri)
        assert response.json() == issuer.jwks()
        assert response.headers["cache-control"] == "public, max-age=900"
        etag = response.headers["etag"]
        not_modified = await client.get(issuer.jwks_uri, headers={"If-None-Match": etag})
        assert (not_modified.status_code, not_modified.content) == (304, b"")
        assert (await client.get(issuer.discovery_url)).json() == issuer.metadata()
        head = await client.head(issuer.jwks_uri)
        assert (head.content, head.headers["content-length"]) == (b"", str(len(response.content)))

        issuer.fail_with(502, b"bad gateway", times=1)
        failed = await client.get(issuer.jwks_uri)
        assert (failed.status_code, failed.content) == (502, b"bad gateway")
        issuer.serve_discovery = False
        assert (await client.get(issuer.discovery_url)).status_code == 404
        issuer.redirect("https://elsewhere.test/")
        assert (await client.get(issuer.jwks_uri)).headers["location"] == "https://elsewhere.test/"
    assert issuer.requests["/.well-known/jwks.json"] == 5
    assert issuer.requests.total() == 7


@pytest.mark.anyio
async def test_asgi_app_delays_slow_answers() -> None:
    issuer = LocalIssuer(algorithm="ES256")
    async with issuer.http_client() as client:
        issuer.slow_down(30, times=1)
        with anyio.move_on_after(0.1) as scope:
            await client.get(issuer.jwks_uri)
        assert scope.cancelled_caught
        assert (await client.get(issuer.jwks_uri)).status_code == 200


@pytest.mark.anyio
async def test_asgi_app_trickles_bodies() -> None:
    issuer = LocalIssuer(algorithm="ES256")
    issuer.trickle(0.001, path=issuer.jwks_uri, times=1)
    sent: list[dict[str, Any]] = []
    answered = anyio.Event()
    requests = iter([{"type": "http.request", "body": b"", "more_body": False}])

    async def receive() -> dict[str, Any]:
        for request in requests:
            return request
        await answered.wait()
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))
        if message["type"] == "http.response.body" and not message.get("more_body"):
            answered.set()

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/.well-known/jwks.json",
        "query_string": b"",
        "headers": [],
    }
    await issuer.asgi_app()(scope, receive, send)
    bodies = [
        message["body"] for message in sent if message["type"] == "http.response.body" and message["body"]
    ]
    assert json.loads(b"".join(bodies)) == issuer.jwks()
    assert {len(body) for body in bodies} == {1}


@pytest.mark.anyio
async def test_http_client_answers_from_the_asgi_app() -> None:
    issuer = LocalIssuer("https://idp.example.test/tenant", algorithm="ES256")
    async with issuer.http_client() as client:
        assert (await client.get(issuer.discovery_url)).json()["jwks_uri"] == issuer.jwks_uri
        assert (await client.get(issuer.jwks_uri)).json() == issuer.jwks()
    assert issuer.request_log[0].path == "/tenant/.well-known/openid-configuration"
