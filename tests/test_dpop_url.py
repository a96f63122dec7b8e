"""The URI a DPoP proof must name: rebuilt from the ASGI scope, never from the Host header."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket

from jwks_middleware._dpop_url import check_origin, normalize_uri, request_url
from jwks_middleware._errors import InvalidDPoPProofError, InvalidRequestError
from jwks_middleware.testing._dpop import DPoPKey

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def scope(**changes: Any) -> dict[str, Any]:
    """An HTTP scope for GET https://api.example.test/items, as a server would make it."""
    base: dict[str, Any] = {
        "type": "http",
        "method": "GET",
        "scheme": "https",
        "server": ("api.example.test", 443),
        "root_path": "",
        "path": "/items",
        "raw_path": b"/items",
        "query_string": b"page=2",
        "headers": [(b"host", b"api.example.test")],
    }
    base.update(changes)
    return base


def signed_htu(url: str) -> str:
    """The `htu` a client signs for a request to `url`."""
    import base64
    import json

    payload = DPoPKey().proof("GET", url).split(".")[1]
    htu: str = json.loads(base64.urlsafe_b64decode(payload + "=="))["htu"]
    return htu


# -- from the scope ----------------------------------------------------------------------


def test_the_url_comes_from_the_scheme_server_and_path() -> None:
    assert request_url(scope()) == "https://api.example.test/items"


@pytest.mark.parametrize(
    ("server", "scheme", "expected"),
    [
        (("api.example.test", 8443), "https", "https://api.example.test:8443/items"),
        (("api.example.test", 80), "http", "http://api.example.test/items"),
        (("API.Example.TEST", 80), "http", "http://api.example.test/items"),
        (("127.0.0.1", 8000), "http", "http://127.0.0.1:8000/items"),
        (("::1", 8000), "http", "http://[::1]:8000/items"),
        (("api.example.test", None), "https", "https://api.example.test/items"),
    ],
)
def test_the_server_address_is_written_as_a_uri_authority(
    server: tuple[str, int], scheme: str, expected: str
) -> None:
    assert request_url(scope(server=server, scheme=scheme)) == expected


def test_the_host_header_is_never_read() -> None:
    # A proof made for another server must not be accepted here under that server's name.
    forged = scope(headers=[(b"host", b"other-api.example.test")])
    assert request_url(forged) == "https://api.example.test/items"


def test_forwarded_headers_are_ignored_unless_trusted() -> None:
    headers = [(b"x-forwarded-host", b"other.example.test"), (b"forwarded", b"host=other.example.test")]
    assert request_url(scope(headers=headers)) == "https://api.example.test/items"


def test_the_raw_path_keeps_what_the_client_sent() -> None:
    # "%2F" is data, not a separator: the decoded `path` cannot tell "/a%2Fb" from "/a/b".
    assert request_url(scope(path="/a/b", raw_path=b"/a%2fb")) == "https://api.example.test/a%2Fb"


def test_the_path_is_used_when_the_server_gives_no_raw_path() -> None:
    assert request_url(scope(path="/a b/ü", raw_path=None)) == "https://api.example.test/a%20b/%C3%BC"


def test_raw_bytes_outside_uri_characters_are_percent_encoded() -> None:
    assert request_url(scope(raw_path="/ü".encode())) == "https://api.example.test/%C3%BC"


def test_a_query_left_in_the_raw_path_is_dropped() -> None:
    assert request_url(scope(raw_path=b"/items?page=2")) == "https://api.example.test/items"


def test_the_root_path_is_already_part_of_the_path() -> None:
    # ASGI: `path` and `raw_path` hold the whole path, `root_path` included (uvicorn --root-path).
    mounted = scope(root_path="/api", path="/api/items", raw_path=b"/api/items")
    assert request_url(mounted) == "https://api.example.test/api/items"


@pytest.mark.parametrize(("scheme", "expected"), [("ws", "http"), ("wss", "https"), (None, "http")])
def test_a_websocket_handshake_is_named_by_its_http_uri(scheme: str | None, expected: str) -> None:
    handshake = scope(type="websocket", scheme=scheme, server=("api.example.test", 8080))
    del handshake["method"]
    assert request_url(handshake) == f"{expected}://api.example.test:8080/items"


@pytest.mark.parametrize("server", [None, ("/run/app.sock", None)])
def test_a_server_without_an_address_needs_a_public_origin(server: object) -> None:
    with pytest.raises(InvalidDPoPProofError, match="public_origin"):
        request_url(scope(server=server))
    assert (
        request_url(scope(server=server), public_origin="https://api.example.test")
        == "https://api.example.test/items"
    )


# -- the public origin -------------------------------------------------------------------


@pytest.mark.parametrize(
    "origin", ["https://api.example.test", "https://api.example.test/", "HTTPS://API.EXAMPLE.TEST:443"]
)
def test_a_configured_public_origin_wins(origin: str) -> None:
    behind_proxy = scope(scheme="http", server=("10.0.0.7", 8000), headers=[(b"host", b"evil.example.test")])
    assert request_url(behind_proxy, public_origin=origin) == "https://api.example.test/items"


def test_a_public_origin_keeps_a_port_that_is_not_the_default() -> None:
    assert check_origin("http://localhost:8000") == "http://localhost:8000"


@pytest.mark.parametrize(
    "origin",
    [
        "https://api.example.test/api",
        "https://api.example.test?x=1",
        "https://api.example.test/#top",
        "https://user@api.example.test",
        "ftp://api.example.test",
        "api.example.test",
        "https://",
    ],
)
def test_a_public_origin_with_more_than_an_origin_is_refused(origin: str) -> None:
    with pytest.raises(ValueError, match="public origin"):
        check_origin(origin)


def test_a_public_origin_must_be_a_string() -> None:
    with pytest.raises(TypeError, match="string"):
        check_origin(b"https://api.example.test")


# -- trusted proxy headers ---------------------------------------------------------------


def proxied(*headers: tuple[bytes, bytes]) -> dict[str, Any]:
    return scope(scheme="http", server=("10.0.0.7", 8000), headers=[(b"host", b"10.0.0.7:8000"), *headers])


def test_x_forwarded_headers_give_the_origin_when_trusted() -> None:
    request = proxied((b"x-forwarded-proto", b"https"), (b"x-forwarded-host", b"API.example.test"))
    assert request_url(request, trust_forwarded="x-forwarded") == "https://api.example.test/items"


def test_the_last_x_forwarded_value_is_the_nearest_proxys() -> None:
    request = proxied(
        (b"x-forwarded-proto", b"http, https"),
        (b"x-forwarded-host", b"client-wrote-this.example.test"),
        (b"x-forwarded-host", b"api.example.test:8443"),
    )
    assert request_url(request, trust_forwarded="x-forwarded") == "https://api.example.test:8443/items"


def test_missing_x_forwarded_headers_fall_back_to_the_scope_not_the_host_header() -> None:
    assert request_url(proxied(), trust_forwarded="x-forwarded") == "http://10.0.0.7:8000/items"


def test_the_forwarded_header_gives_the_origin_when_trusted() -> None:
    request = proxied(
        (b"forwarded", b'for=198.51.100.17;host="evil.example.test";proto=http'),
        (b"forwarded", b'for="[2001:db8::1]:4711";Proto=https;Host="api.example.test"'),
    )
    assert request_url(request, trust_forwarded="forwarded") == "https://api.example.test/items"


def test_a_forwarded_element_without_host_falls_back_to_the_scope() -> None:
    request = proxied((b"forwarded", b"host=evil.example.test, for=192.0.2.1;proto=https"))
    assert request_url(request, trust_forwarded="forwarded") == "https://10.0.0.7:8000/items"


@pytest.mark.parametrize(
    "value",
    [b"host", b"host=a;;b", b"for=a for=b", b'host="unterminated', b"host=a;host=b", b"=x", b"host=a,,"],
)
def test_a_malformed_forwarded_header_is_a_bad_request(value: bytes) -> None:
    with pytest.raises(InvalidRequestError, match="Forwarded"):
        request_url(proxied((b"forwarded", value)), trust_forwarded="forwarded")


@pytest.mark.parametrize(
    ("header", "value", "match"),
    [
        (b"x-forwarded-host", b"api.example.test/evil", "host"),
        (b"x-forwarded-host", b"user@api.example.test", "host"),
        (b"x-forwarded-host", b"api.example.test:https", "host"),
        (b"x-forwarded-proto", b"ftp", "scheme"),
    ],
)
def test_a_forwarded_value_that_is_no_origin_is_a_bad_request(
    header: bytes, value: bytes, match: str
) -> None:
    with pytest.raises(InvalidRequestError, match=match):
        request_url(proxied((header, value)), trust_forwarded="x-forwarded")


def test_only_known_proxy_header_families_can_be_trusted() -> None:
    with pytest.raises(ValueError, match="trust_forwarded"):
        request_url(scope(), trust_forwarded="x-real-ip")  # type: ignore[arg-type]


# -- what a client signs matches what the server rebuilds --------------------------------


async def echo_url(request: Request) -> PlainTextResponse:
    return PlainTextResponse(request_url(request.scope))


async def echo_ws_url(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text(request_url(websocket.scope))
    await websocket.close()


APP = Starlette(
    routes=[
        Route("/{path:path}", echo_url),
        Mount("/ws", routes=[WebSocketRoute("/{path:path}", echo_ws_url)]),
    ]
)


@pytest.mark.parametrize(
    "url",
    [
        "http://testserver/items",
        "http://testserver/items?page=2&sort=name#frag",
        "https://api.example.test/a%2Fb/c%20d",
        "http://localhost:8000/caf%C3%A9",
    ],
)
async def test_the_url_a_client_signs_is_the_url_the_server_rebuilds(url: str) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=APP)) as client:
        response = await client.get(url)
    assert response.text == normalize_uri(signed_htu(url))


def test_the_url_a_websocket_client_signs_is_the_url_the_server_rebuilds() -> None:
    with TestClient(APP) as client, client.websocket_connect("wss://api.example.test/ws/feed") as websocket:
        rebuilt = websocket.receive_text()
    assert rebuilt == normalize_uri(signed_htu("wss://api.example.test/ws/feed"))
    assert rebuilt == "https://api.example.test/ws/feed"


# -- normalization -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "normal"),
    [
        ("HTTP://Example.COM/", "http://example.com/"),
        ("http://example.com", "http://example.com/"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("https://example.com:/a", "https://example.com/a"),
        ("https://example.com:0443/a", "https://example.com/a"),
        ("http://example.com:8080/a", "http://example.com:8080/a"),
        ("http://example.com/%7Euser/%7e", "http://example.com/~user/~"),
        ("http://example.com/a%2fb%c3%a9", "http://example.com/a%2Fb%C3%A9"),
        ("http://example.com/a/./b/../c", "http://example.com/a/c"),
        ("http://example.com/a/%2E%2E/c", "http://example.com/c"),
        ("http://example.com/a/b/..", "http://example.com/a/"),
        ("http://example.com/..", "http://example.com/"),
        ("http://example.com/a//b", "http://example.com/a//b"),
        ("http://ex%41mple.com/", "http://example.com/"),
        ("http://[2001:DB8::1]:80/", "http://[2001:db8::1]/"),
        ("http://example.com/a?b#c", "http://example.com/a"),
        ("ws://example.com/a", "http://example.com/a"),
        ("WSS://example.com:443/a", "https://example.com/a"),
    ],
)
def test_uris_are_normalized_as_rfc_3986_says(uri: str, normal: str) -> None:
    assert normalize_uri(uri) == normal


@pytest.mark.parametrize(
    "uri",
    [
        "",
        "/items",
        "//example.com/a",
        "mailto:a@example.com",
        "urn:x:y",
        "file:///etc/passwd",
        "http://",
        "http://user:pw@example.com/",
        "http://example.com:port/",
        "http://exa mple.com/",
        "http://example.com/\n",
        "http://example.com/%",
        "http://example.com/%G0",
        "http://exämple.com/",
    ],
)
def test_what_is_no_http_uri_cannot_be_normalized(uri: str) -> None:
    with pytest.raises(ValueError, match="URI"):
        normalize_uri(uri)
