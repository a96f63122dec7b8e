"""The only network I/O of the package: bounded, JSON-only GETs of discovery and JWKS documents,
and the POSTs of token introspection (RFC 7662)."""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import re
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, TypeAlias
from urllib.parse import urlencode, urlsplit

import httpx

from .._config import DEFAULT_KEYS_MAX_AGE, DEFAULT_TIMEOUT, MAX_KEYS_MAX_AGE, MIN_KEYS_MAX_AGE
from .._issuer import Issuer
from .._jws import loads_strict
from .._urls import check_fetch_url

if TYPE_CHECKING:
    import httpx2

__all__ = [
    "FetchError",
    "Fetched",
    "Fetcher",
    "HTTPClient",
    "deadline_of",
    "discover_jwks_uri",
    "get_issuer_document",
    "post_form",
]

#: A client for the key fetches: `httpx.AsyncClient`, or `httpx2.AsyncClient` (the maintained
#: fork of httpx that Starlette's TestClient uses), which has the same API.
HTTPClient: TypeAlias = "httpx.AsyncClient | httpx2.AsyncClient"

_MAX_AGE: Final = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)\"?\s*(?:,|$)", re.IGNORECASE)
# More digits than this is beyond the 24 h ceiling anyway (and int() refuses > 4300 digits).
_MAX_AGE_DIGITS: Final = 9
_NO_CACHE: Final = re.compile(r"(?:^|,)\s*(?:no-cache|no-store)\s*(?:,|$)", re.IGNORECASE)
#: Answers whose `Retry-After` is honoured (RFC 9110 sections 15.6.4 and RFC 6585 section 4).
_RETRY_AFTER_STATUSES: Final = frozenset({429, 503})


class FetchError(Exception):
    """A document could not be fetched or was not acceptable; the message says why.

    `status` is the HTTP status of an answer other than 200, `retry_after` the seconds its
    `Retry-After` asked for, and `reached` is False when no answer came at all (connection,
    timeout, deadline).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        reached: bool = True,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after
        self.reached = reached

    @property
    def server_trouble(self) -> bool:
        """Whether the server is down or overloaded (rather than without this document)."""
        return not self.reached or (self.status is not None and (self.status >= 500 or self.status == 429))


@dataclass(frozen=True)
class Fetched:
    """A fetched JSON document, or the answer 304 Not Modified (then `document` is None).

    A flag, not "document is None": a 200 answer of `null` is a (bad) document, not a 304.
    `max_age` is None for a 304 without `Cache-Control`: the stored lifetime stands.
    """

    document: Any
    etag: str | None
    max_age: float | None
    not_modified: bool = False


class Fetcher:
    """GETs JSON documents with a size cap, timeouts, no redirects and https only.

    An injected `httpx.AsyncClient` is used as given (proxies, TLS, transports); without
    one, a short-lived client is opened per refresh, so no connection outlives its event
    loop and nothing is left open on shutdown.
    """

    def __init__(self, client: HTTPClient | None = None) -> None:
        if client is not None:
            _library_of(client)  # another kind of client fails here, at construction
        self._client = client

    @asynccontextmanager
    async def session(self) -> AsyncIterator[HTTPClient]:
        """A client for the requests of one refresh."""
        if self._client is not None:
            yield self._client
            return
        async with httpx.AsyncClient(timeout=DEFAULT_TIMEOUT, follow_redirects=False) as client:
            yield client

    @staticmethod
    async def get_json(
        client: HTTPClient,
        url: str,
        *,
        max_bytes: int,
        timeout: httpx.Timeout,
        headers: Mapping[str, str] | None = None,
        etag: str | None = None,
        allow_http: bool = False,
    ) -> Fetched:
        """GET one JSON document; raise FetchError on anything but a good answer."""
        _check_url(url, allow_http=allow_http)
        request_headers = {"Accept": "application/json", **(headers or {})}
        if etag is not None:
            request_headers["If-None-Match"] = etag
        return await _exchange(
            client, "GET", url, headers=request_headers, timeout=timeout, max_bytes=max_bytes, etag=etag
        )


async def post_form(
    client: HTTPClient,
    url: str,
    form: Mapping[str, str],
    *,
    max_bytes: int,
    timeout: httpx.Timeout,
    deadline: float,
    headers: Mapping[str, str] | None = None,
    allow_http: bool = False,
) -> Any:
    """POST an `application/x-www-form-urlencoded` form (an RFC 7662 introspection request) and
    return its JSON answer, with the limits of `get_json` (https only, no redirects, size cap,
    timeouts, JSON only), over by `deadline` (event loop time); raise FetchError otherwise."""
    _check_url(url, allow_http=allow_http)
    request_headers = {
        "Accept": "application/json",
        **(headers or {}),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    content = urlencode(form).encode("ascii")
    remaining = deadline - asyncio.get_running_loop().time()
    if remaining > 0:
        exchange = _exchange(
            client,
            "POST",
            url,
            headers=request_headers,
            timeout=timeout,
            max_bytes=max_bytes,
            content=content,
        )
        with contextlib.suppress(asyncio.TimeoutError):
            fetched = await asyncio.wait_for(exchange, remaining)
            return fetched.document
    raise FetchError(f"{url} did not answer within the deadline", reached=False)


def _check_url(url: str, *, allow_http: bool) -> None:
    try:
        # The rule of `Issuer` applies to every URL, those found in discovery included.
        check_fetch_url(url, allow_http=allow_http)
        # An out-of-range port passes httpx's URL parser and fails deep in the transport
        # with an unrelated error; refuse it here, where the message can say why.
        urlsplit(url).port  # noqa: B018
    except ValueError as error:
        raise FetchError(f"{url[:200]!r} cannot be fetched: {error}") from None


async def _exchange(
    client: HTTPClient,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    timeout: httpx.Timeout,
    max_bytes: int,
    etag: str | None = None,
    content: bytes | None = None,
) -> Fetched:
    """Send one request and read its JSON answer, at most `max_bytes` of it."""
    library = _library_of(client)
    stream: Any = client.stream  # the same call on both libraries; each takes its own Timeout
    try:
        async with stream(
            method,
            url,
            headers=headers,
            content=content,
            timeout=_timeout_for(library, timeout),
            follow_redirects=False,
        ) as response:
            cache_control = response.headers.get("cache-control")
            new_etag = response.headers.get("etag")
            if response.status_code == 304 and etag is not None:
                # RFC 9111 section 4.3.4: a 304 updates the stored response's headers; one
                # without Cache-Control leaves the stored lifetime as it was.
                lifetime = _max_age(cache_control) if cache_control else None
                return Fetched(None, new_etag or etag, lifetime, not_modified=True)
            _check_response(response, max_bytes)
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    raise FetchError(f"{url} answered more than {max_bytes} bytes")
    except library.TimeoutException:
        raise FetchError(f"{url} timed out", reached=False) from None
    except (library.HTTPError, library.InvalidURL) as error:
        raise FetchError(f"{url} could not be fetched ({type(error).__name__})", reached=False) from None
    try:
        document = loads_strict(bytes(body))
    except ValueError as error:
        raise FetchError(f"{url} did not answer valid JSON ({error})") from None
    return Fetched(document, new_etag, _max_age(cache_control))


def _library_of(client: object) -> Any:
    """The module of the client's library, `httpx` or `httpx2`, for its exceptions and Timeout."""
    for cls in type(client).__mro__:
        root = cls.__module__.partition(".")[0]
        if root in ("httpx", "httpx2"):
            return sys.modules[root]
    raise TypeError(f"http_client must be an httpx or httpx2 AsyncClient, not {type(client).__name__}")


def _timeout_for(library: Any, timeout: httpx.Timeout) -> Any:
    if library is httpx:
        return timeout
    return library.Timeout(connect=timeout.connect, read=timeout.read, write=timeout.write, pool=timeout.pool)


def _check_response(response: Any, max_bytes: int) -> None:
    url = str(response.request.url)
    status = response.status_code
    if response.has_redirect_location:  # not `is_redirect`: that is every 3xx, 304 included
        raise FetchError(f"{url} answered a redirect ({status}); redirects are not followed", status=status)
    if status != 200:
        retry_after = _retry_after(response.headers) if status in _RETRY_AFTER_STATUSES else None
        asked = f" (Retry-After {retry_after:.0f} s)" if retry_after is not None else ""
        raise FetchError(f"{url} answered HTTP {status}{asked}", status=status, retry_after=retry_after)
    media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if not (media_type == "application/json" or media_type.endswith("+json")):
        raise FetchError(f"{url} answered {media_type or 'no content type'}, not JSON")
    length = response.headers.get("content-length", "")
    if length.isdigit() and int(length) > max_bytes:
        raise FetchError(f"{url} answered more than {max_bytes} bytes")


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds a `Retry-After` asks to wait (RFC 9110 section 10.2.3): delay-seconds, or an
    HTTP-date taken relative to the answer's own `Date`, so that clock skew does not count."""
    value = headers.get("retry-after", "").strip()
    if value.isdigit():
        return float(value) if len(value) <= _MAX_AGE_DIGITS else float(10**_MAX_AGE_DIGITS)
    try:
        until = email.utils.parsedate_to_datetime(value)
        sent = email.utils.parsedate_to_datetime(headers.get("date", ""))
        return max(0.0, (until - sent).total_seconds())
    except (TypeError, ValueError):  # absent, malformed, or a date without a `Date` to compare
        return None


def _max_age(cache_control: str | None) -> float:
    """Key set lifetime from Cache-Control, clamped to 5 min - 24 h (default 15 min)."""
    if not cache_control:
        return DEFAULT_KEYS_MAX_AGE
    if _NO_CACHE.search(cache_control):
        return MIN_KEYS_MAX_AGE
    match = _MAX_AGE.search(cache_control)
    if match is None:
        return DEFAULT_KEYS_MAX_AGE
    digits = match.group(1)
    seconds = int(digits) if len(digits) <= _MAX_AGE_DIGITS else MAX_KEYS_MAX_AGE
    return float(min(max(seconds, MIN_KEYS_MAX_AGE), MAX_KEYS_MAX_AGE))


def deadline_of(issuer: Issuer) -> float:
    """When a fetch starting now must be over: `issuer.fetch_deadline` from now, in loop time."""
    return asyncio.get_running_loop().time() + issuer.fetch_deadline


async def get_issuer_document(
    client: HTTPClient,
    issuer: Issuer,
    url: str,
    *,
    etag: str | None = None,
    deadline: float | None = None,
) -> Fetched:
    """GET one of an issuer's documents with that issuer's limits, timeout and headers, over by
    `deadline` (event loop time; by default `issuer.fetch_deadline` from now)."""
    remaining = (deadline_of(issuer) if deadline is None else deadline) - asyncio.get_running_loop().time()
    # Per-read timeouts alone let a server that sends a byte every few seconds hold a fetch for
    # ever; this bounds the whole of it, headers, body and `fetch_headers` included.
    if remaining > 0:
        with contextlib.suppress(asyncio.TimeoutError):
            return await asyncio.wait_for(_get(client, issuer, url, etag), remaining)
    raise FetchError(
        f"{url} was not fetched within the fetch deadline ({issuer.fetch_deadline:g} s)", reached=False
    )


async def _get(client: HTTPClient, issuer: Issuer, url: str, etag: str | None) -> Fetched:
    fixed_or_factory = issuer.fetch_headers
    headers: Mapping[str, str] = {}
    if callable(fixed_or_factory):
        try:
            headers = await fixed_or_factory()
        except Exception as error:  # noqa: BLE001 - the user's callable; the refresh must survive it
            raise FetchError(f"fetch_headers raised {type(error).__name__}") from None
    else:
        headers = fixed_or_factory
    return await Fetcher.get_json(
        client,
        url,
        max_bytes=issuer.max_document_bytes,
        timeout=issuer.timeout,
        headers=headers,
        etag=etag,
        allow_http=issuer.allow_http,
    )


async def discover_jwks_uri(
    client: HTTPClient, issuer: Issuer, *, deadline: float | None = None
) -> tuple[str, str]:
    """The first metadata document that answers for this issuer, and its `jwks_uri`.

    The next document is tried only when the server answered without this one (404, not
    JSON, ...): a server that is down or overloaded is not asked twice in one attempt.
    """
    deadline = deadline_of(issuer) if deadline is None else deadline
    messages: list[str] = []
    urls = issuer.metadata_urls
    for index, url in enumerate(urls):
        try:
            fetched = await get_issuer_document(client, issuer, url, deadline=deadline)
        except FetchError as error:
            messages.append(str(error))
            failure = error
            if error.server_trouble:
                messages.extend(
                    f"{later} not tried: the server is down or overloaded" for later in urls[index + 1 :]
                )
                break
            continue
        metadata = fetched.document
        if not isinstance(metadata, dict):
            raise FetchError(f"{url} is not a metadata object")
        # OpenID Connect Discovery 1.0 section 4.3 / RFC 8414 section 3.3: must match exactly.
        if metadata.get("issuer") != issuer.issuer:
            raise FetchError(
                f"{url} names issuer {str(metadata.get('issuer'))[:100]!r}, not {issuer.issuer!r}"
            )
        jwks_uri = metadata.get("jwks_uri")
        if not isinstance(jwks_uri, str):
            raise FetchError(f"{url} has no jwks_uri")
        return url, jwks_uri
    raise FetchError(
        "; ".join(messages), status=failure.status, retry_after=failure.retry_after, reached=failure.reached
    )
