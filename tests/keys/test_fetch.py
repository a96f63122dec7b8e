"""The fetcher: the only network I/O. Bounded, JSON-only, no redirects, https (or loopback, or
by opt-in plain http) only, conditional requests, Cache-Control read into a clamped key set
lifetime, Retry-After, and one deadline for a whole fetch."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from jwks_middleware import Issuer
from jwks_middleware._config import DEFAULT_TIMEOUT
from jwks_middleware._keys.fetch import Fetched, Fetcher, FetchError, discover_jwks_uri, get_issuer_document

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
    allow_http: bool = False,
) -> Fetched:
    transport = httpx.MockTransport(handler)
    async with httpx.AsyncClient(transport=transport, follow_redirects=follow_redirects) as client:
        return await Fetcher.get_json(
            client, url, max_bytes=CAP, timeout=timeout, headers=headers, etag=etag, allow_http=allow_http
        )


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


async def test_304_without_cache_control_keeps_the_stored_lifetime() -> None:
    # RFC 9111 section 4.3.4: the stored response's headers are updated with the 304's; it has none.
    fetched = await get(Recorder(json_response(b"", status=304, headers={"ETag": '"v1"'})), etag='"v1"')
    assert (fetched.not_modified, fetched.max_age) == (True, None)
    with_header = await get(
        Recorder(json_response(b"", status=304, headers={"Cache-Control": "public"})), etag='"v1"'
    )
    assert with_header.max_age == 900  # its own Cache-Control, without max-age: the default


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
    ("status", "headers", "retry_after"),
    [
        (503, {"Retry-After": "120"}, 120.0),
        (429, {"Retry-After": " 30 "}, 30.0),
        (503, {"Retry-After": "9" * 5000}, 1e9),
        (
            503,
            {"Retry-After": "Wed, 21 Oct 2015 07:30:00 GMT", "Date": "Wed, 21 Oct 2015 07:28:00 GMT"},
            120.0,
        ),
        (503, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT", "Date": "Wed, 21 Oct 2015 07:30:00 GMT"}, 0.0),
        (503, {"Retry-After": "Wed, 21 Oct 2015 07:30:00 GMT"}, None),  # no Date to count from
        (503, {"Retry-After": "soon"}, None),
        (503, {"Retry-After": "-5"}, None),
        (503, {}, None),
        (500, {"Retry-After": "120"}, None),  # honoured on 429 and 503 only
    ],
)
async def test_retry_after_of_429_and_503_is_read_in_seconds(
    status: int, headers: dict[str, str], retry_after: float | None
) -> None:
    with pytest.raises(FetchError, match=f"HTTP {status}") as refused:
        await get(Recorder(json_response(status=status, headers=headers)))
    assert (refused.value.status, refused.value.retry_after, refused.value.reached) == (
        status,
        retry_after,
        True,
    )


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

    with pytest.raises(FetchError, match=message) as refused:
        await get(handler)
    assert not refused.value.reached


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


async def test_http_on_other_hosts_only_with_the_issuers_opt_in() -> None:
    url = "http://keycloak:8080/realms/acme/protocol/openid-connect/certs"
    recorder = Recorder(json_response())
    with pytest.raises(FetchError, match=r"allow_http=True"):
        await get(recorder, url)
    assert recorder.requests == []
    assert (await get(recorder, url, allow_http=True)).document == {"keys": []}


# -- an issuer's documents: headers, deadline, discovery -------------------------------------

ISSUER = "https://issuer.example.test"


def trickling(interval: float) -> Callable[[httpx.Request], httpx.Response]:
    """Answers whose body comes one byte every `interval` seconds, for ever."""

    async def body() -> AsyncIterator[bytes]:
        while True:
            yield b" "
            await asyncio.sleep(interval)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Type": "application/json"}, content=body())

    return handler


async def test_a_document_that_trickles_in_ends_at_the_fetch_deadline() -> None:
    issuer = Issuer(ISSUER, audience="api", fetch_deadline=0.2)
    async with httpx.AsyncClient(transport=httpx.MockTransport(trickling(0.01))) as client:
        with pytest.raises(FetchError, match=r"not fetched within the fetch deadline \(0.2 s\)") as refused:
            await asyncio.wait_for(get_issuer_document(client, issuer, URL), 10)
    assert not refused.value.reached


async def test_fetch_headers_count_within_the_deadline() -> None:
    async def hanging() -> dict[str, str]:
        await asyncio.sleep(60)
        return {}

    issuer = Issuer(ISSUER, audience="api", fetch_deadline=0.1, fetch_headers=hanging)
    async with httpx.AsyncClient(transport=httpx.MockTransport(Recorder(json_response()))) as client:
        with pytest.raises(FetchError, match="fetch deadline"):
            await asyncio.wait_for(get_issuer_document(client, issuer, URL), 10)


async def test_a_deadline_already_past_fetches_nothing() -> None:
    issuer = Issuer(ISSUER, audience="api")
    recorder = Recorder(json_response())
    async with httpx.AsyncClient(transport=httpx.MockTransport(recorder)) as client:
        past = asyncio.get_running_loop().time() - 1
        with pytest.raises(FetchError, match="fetch deadline"):
            await get_issuer_document(client, issuer, URL, deadline=past)
    assert recorder.requests == []


@pytest.mark.parametrize(
    ("answer", "asked"),
    [
        (lambda: httpx.Response(404), 2),  # not there: the RFC 8414 document is tried
        (lambda: httpx.Response(200, text="<html>", headers={"Content-Type": "text/html"}), 2),
        (lambda: httpx.Response(503), 1),  # the server is down: not asked twice
        (lambda: httpx.Response(429, headers={"Retry-After": "60"}), 1),
    ],
)
async def test_discovery_tries_the_next_document_only_when_the_server_answered(
    answer: Callable[[], httpx.Response], asked: int
) -> None:
    recorder = Recorder(answer)
    issuer = Issuer(ISSUER, audience="api")
    async with httpx.AsyncClient(transport=httpx.MockTransport(recorder)) as client:
        with pytest.raises(FetchError) as refused:
            await discover_jwks_uri(client, issuer)
    assert len(recorder.requests) == asked
    assert str(refused.value).count(";") == 1  # both documents are named, tried or not


async def test_discovery_that_cannot_connect_keeps_the_reason_for_the_retry_schedule() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    issuer = Issuer(ISSUER, audience="api")
    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as client:
        with pytest.raises(FetchError, match="not tried") as refused:
            await discover_jwks_uri(client, issuer)
    assert not refused.value.reached


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
