"""The fetcher: the only network I/O. Bounded, JSON-only, no redirects, https (or loopback) only,
conditional requests, and Cache-Control read into a clamped key set lifetime."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from jwks_middleware._config import DEFAULT_TIMEOUT
from jwks_middleware._fetch import Fetched, Fetcher, FetchError

pytestmark = pytest.mark.anyio

URL = "https://issuer.example.test/.well-known/jwks.json"
CAP = 4096
JWKS = b'{"keys": []}'

Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Recorder:
    """A MockTransport handler answering with one canned response, recording each request."""

    def __init__(self, response: Callable[[], httpx.Response]) -> None:
        self.requests: list[httpx.Request] = []
        self._response = response

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self._response()


def json_response(
    body: bytes = JWKS, status: int = 200, headers: dict[str, str] | None = None
) -> Callable[[], httpx.Response]:
    def make() -> httpx.Response:
        merged = {"Content-Type": "application/json", **(headers or {})}
        return httpx.Response(status, content=body, headers=merged)

    return make


async def get(
    handler: Recorder | Handler,
    url: str = URL,
    *,
    etag: str | None = None,
    headers: dict[str, str] | None = None,
    follow_redirects: bool = False,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
) -> Fetched:
    transport = httpx.MockTransport(handler)
    async with httpx.AsyncClient(transport=transport, follow_redirects=follow_redirects) as client:
        return await Fetcher.get_json(client, url, max_bytes=CAP, timeout=timeout, headers=headers, etag=etag)


async def test_a_json_document_is_returned_with_its_etag_and_lifetime() -> None:
    recorder = Recorder(json_response(headers={"ETag": '"v1"', "Cache-Control": "max-age=3600"}))
    fetched = await get(recorder)
    assert fetched == Fetched({"keys": []}, '"v1"', 3600.0)
    assert not fetched.not_modified
    (request,) = recorder.requests
    assert request.method == "GET"
    assert request.headers["accept"] == "application/json"
    assert "if-none-match" not in request.headers


async def test_extra_headers_and_the_timeout_go_with_the_request() -> None:
    recorder = Recorder(json_response())
    timeout = httpx.Timeout(0.5)
    await get(recorder, headers={"Authorization": "Bearer api-token"}, timeout=timeout)
    (request,) = recorder.requests
    assert request.headers["authorization"] == "Bearer api-token"
    assert request.extensions["timeout"] == timeout.as_dict()


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8", "application/jwk-set+json", "APPLICATION/JSON"],
)
async def test_json_media_types_are_accepted(content_type: str) -> None:
    fetched = await get(Recorder(json_response(headers={"Content-Type": content_type})))
    assert fetched.document == {"keys": []}


@pytest.mark.parametrize("content_type", ["text/html", "text/plain", "application/octet-stream", ""])
async def test_other_media_types_are_refused(content_type: str) -> None:
    with pytest.raises(FetchError, match="not JSON"):
        await get(Recorder(json_response(headers={"Content-Type": content_type})))


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"<html>maintenance</html>", "valid JSON"),
        (b'{"keys": [], "keys": []}', "valid JSON"),  # duplicate member names (RFC 8725)
        ('{"keys": []}'.encode("utf-16"), "valid JSON"),  # JOSE is UTF-8 only
        (b"", "valid JSON"),
    ],
)
async def test_a_body_that_is_not_strict_json_is_refused(body: bytes, why: str) -> None:
    with pytest.raises(FetchError, match=why):
        await get(Recorder(json_response(body)))


async def test_a_declared_length_over_the_cap_is_refused() -> None:
    big = b'{"keys": [], "pad": "' + b"x" * CAP + b'"}'
    with pytest.raises(FetchError, match=f"more than {CAP} bytes"):
        await get(Recorder(json_response(big)))


async def test_a_streamed_body_is_cut_off_at_the_cap() -> None:
    sent = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal sent
        while True:
            sent += 1
            yield b"[" * 1024

    def handler(request: httpx.Request) -> httpx.Response:
        # No Content-Length: the body arrives in chunks and must be counted as it comes.
        return httpx.Response(200, headers={"Content-Type": "application/json"}, content=endless())

    with pytest.raises(FetchError, match=f"more than {CAP} bytes"):
        await get(handler)
    assert sent <= CAP // 1024 + 2


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_redirects_are_refused_and_not_followed(status: int) -> None:
    recorder = Recorder(
        json_response(status=status, headers={"Location": "https://elsewhere.example/jwks.json"})
    )
    with pytest.raises(FetchError, match="redirect"):
        await get(recorder, follow_redirects=True)  # even when the client would follow them
    assert len(recorder.requests) == 1


@pytest.mark.parametrize("status", [201, 204, 302, 400, 401, 404, 500, 503])
async def test_any_status_but_200_is_refused(status: int) -> None:
    with pytest.raises(FetchError, match=f"HTTP {status}"):
        await get(Recorder(json_response(status=status)))


async def test_304_to_a_conditional_request_means_not_modified() -> None:
    recorder = Recorder(json_response(b"", status=304, headers={"Cache-Control": "max-age=600"}))
    fetched = await get(recorder, etag='"v1"')
    assert fetched == Fetched(None, '"v1"', 600.0, not_modified=True)
    assert recorder.requests[0].headers["if-none-match"] == '"v1"'


async def test_304_may_bring_a_new_etag() -> None:
    fetched = await get(Recorder(json_response(b"", status=304, headers={"ETag": '"v2"'})), etag='"v1"')
    assert (fetched.not_modified, fetched.etag) == (True, '"v2"')


async def test_304_to_an_unconditional_request_is_refused() -> None:
    with pytest.raises(FetchError, match="HTTP 304"):
        await get(Recorder(json_response(b"", status=304)))


async def test_a_json_null_body_is_a_document_not_a_304() -> None:
    fetched = await get(Recorder(json_response(b"null")), etag='"v1"')
    assert (fetched.document, fetched.not_modified) == (None, False)


@pytest.mark.parametrize(
    ("cache_control", "lifetime"),
    [
        (None, 900),
        ("max-age=3600", 3600),
        ("public, max-age=600, must-revalidate", 600),
        ("MAX-AGE=1000", 1000),
        ('max-age="1200"', 1200),
        ("max-age=60", 300),  # clamped up to 5 minutes
        ("max-age=0", 300),
        ("max-age=999999", 86400),  # clamped down to 24 hours
        ("max-age=" + "9" * 5000, 86400),  # too long for int(): still the ceiling
        ("no-cache", 300),
        ("no-store, max-age=3600", 300),
        ("s-maxage=7200", 900),
        ("max-age=abc", 900),
        ("max-age=-5", 900),
        ("", 900),
    ],
)
async def test_cache_control_sets_the_lifetime_clamped_to_5_minutes_24_hours(
    cache_control: str | None, lifetime: float
) -> None:
    headers = {} if cache_control is None else {"Cache-Control": cache_control}
    assert (await get(Recorder(json_response(headers=headers)))).max_age == lifetime


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (httpx.ConnectTimeout("slow"), "timed out"),
        (httpx.ReadTimeout("slow"), "timed out"),
        (httpx.ConnectError("refused"), r"could not be fetched \(ConnectError\)"),
        (httpx.RemoteProtocolError("bad"), r"could not be fetched \(RemoteProtocolError\)"),
        (httpx.InvalidURL("bad"), r"could not be fetched \(InvalidURL\)"),
    ],
)
async def test_transport_errors_become_fetch_errors(error: Exception, message: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    with pytest.raises(FetchError, match=message):
        await get(handler)


@pytest.mark.parametrize(
    "url",
    [
        "http://issuer.example.test/jwks.json",  # http only on loopback
        "ftp://127.0.0.1/jwks.json",
        "https:///jwks.json",
        "http://127.0.0.1:99999/jwks.json",  # port out of range
        "file:///etc/passwd",
    ],
)
async def test_urls_that_may_not_be_fetched_are_refused_without_a_request(url: str) -> None:
    recorder = Recorder(json_response())
    with pytest.raises(FetchError, match="cannot be fetched"):
        await get(recorder, url)
    assert recorder.requests == []


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/jwks", "http://localhost/jwks", "http://[::1]/jwks"])
async def test_http_is_allowed_on_loopback_hosts(url: str) -> None:
    assert (await get(Recorder(json_response()), url)).document == {"keys": []}


async def test_without_an_injected_client_each_session_has_its_own_client() -> None:
    fetcher = Fetcher()
    async with fetcher.session() as first:
        assert not first.follow_redirects
        assert first.timeout == DEFAULT_TIMEOUT
    async with fetcher.session() as second:
        assert second is not first
    assert first.is_closed
    assert second.is_closed


async def test_an_injected_client_is_used_and_never_closed() -> None:
    async with httpx.AsyncClient() as client:
        fetcher = Fetcher(client)
        async with fetcher.session() as session:
            assert session is client
        assert not client.is_closed
