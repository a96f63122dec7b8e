"""The only network I/O of the package: bounded, JSON-only GETs of discovery and JWKS documents."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

import httpx

from ._config import DEFAULT_KEYS_MAX_AGE, DEFAULT_TIMEOUT, MAX_KEYS_MAX_AGE, MIN_KEYS_MAX_AGE
from ._issuer import Issuer, check_fetch_url
from ._token import loads_strict

__all__ = ["FetchError", "Fetched", "Fetcher", "discover_jwks_uri", "get_issuer_document"]

_MAX_AGE: Final = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)\"?\s*(?:,|$)", re.IGNORECASE)
# More digits than this is beyond the 24 h ceiling anyway (and int() refuses > 4300 digits).
_MAX_AGE_DIGITS: Final = 9
_NO_CACHE: Final = re.compile(r"(?:^|,)\s*(?:no-cache|no-store)\s*(?:,|$)", re.IGNORECASE)


class FetchError(Exception):
    """A document could not be fetched or was not acceptable; the message says why."""


@dataclass(frozen=True)
class Fetched:
    """A fetched JSON document, or the answer 304 Not Modified (then `document` is None).

    A flag, not "document is None": a 200 answer of `null` is a (bad) document, not a 304.
    """

    document: Any
    etag: str | None
    max_age: float
    not_modified: bool = False


class Fetcher:
    """GETs JSON documents with a size cap, timeouts, no redirects and https only.

    An injected `httpx.AsyncClient` is used as given (proxies, TLS, transports); without
    one, a short-lived client is opened per refresh, so no connection outlives its event
    loop and nothing is left open on shutdown.
    """

    def __init__(self, client: httpx.AsyncClient | None = None) -> None:
        self._client = client

    @asynccontextmanager
    async def session(self) -> AsyncIterator[httpx.AsyncClient]:
        """A client for the requests of one refresh."""
        if self._client is not None:
            yield self._client
            return
        async with httpx.AsyncClient(timeout=DEFAULT_TIMEOUT, follow_redirects=False) as client:
            yield client

    @staticmethod
    async def get_json(
        client: httpx.AsyncClient,
        url: str,
        *,
        max_bytes: int,
        timeout: httpx.Timeout,
        headers: Mapping[str, str] | None = None,
        etag: str | None = None,
    ) -> Fetched:
        """GET one JSON document; raise FetchError on anything but a good answer."""
        try:
            check_fetch_url(url)
            # An out-of-range port passes httpx's URL parser and fails deep in the transport
            # with an unrelated error; refuse it here, where the message can say why.
            urlsplit(url).port  # noqa: B018
        except ValueError as error:
            raise FetchError(f"{url[:200]!r} cannot be fetched: {error}") from None
        request_headers = {"Accept": "application/json", **(headers or {})}
        if etag is not None:
            request_headers["If-None-Match"] = etag
        try:
            async with client.stream(
                "GET", url, headers=request_headers, timeout=timeout, follow_redirects=False
            ) as response:
                max_age = _max_age(response.headers.get("cache-control"))
                new_etag = response.headers.get("etag")
                if response.status_code == 304 and etag is not None:
                    return Fetched(None, new_etag or etag, max_age, not_modified=True)
                _check_response(response, max_bytes)
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > max_bytes:
                        raise FetchError(f"{url} answered more than {max_bytes} bytes")
        except httpx.TimeoutException:
            raise FetchError(f"{url} timed out") from None
        except (httpx.HTTPError, httpx.InvalidURL) as error:
            raise FetchError(f"{url} could not be fetched ({type(error).__name__})") from None
        try:
            document = loads_strict(bytes(body))
        except ValueError as error:
            raise FetchError(f"{url} did not answer valid JSON ({error})") from None
        return Fetched(document, new_etag, max_age)


def _check_response(response: httpx.Response, max_bytes: int) -> None:
    url = str(response.request.url)
    if response.has_redirect_location:  # not `is_redirect`: that is every 3xx, 304 included
        raise FetchError(f"{url} answered a redirect ({response.status_code}); redirects are not followed")
    if response.status_code != 200:
        raise FetchError(f"{url} answered HTTP {response.status_code}")
    media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if not (media_type == "application/json" or media_type.endswith("+json")):
        raise FetchError(f"{url} answered {media_type or 'no content type'}, not JSON")
    length = response.headers.get("content-length", "")
    if length.isdigit() and int(length) > max_bytes:
        raise FetchError(f"{url} answered more than {max_bytes} bytes")


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


async def get_issuer_document(
    client: httpx.AsyncClient, issuer: Issuer, url: str, *, etag: str | None = None
) -> Fetched:
    """GET one of an issuer's documents with that issuer's limits, timeout and headers."""
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
    )


async def discover_jwks_uri(client: httpx.AsyncClient, issuer: Issuer) -> tuple[str, str]:
    """The first metadata document that answers for this issuer, and its `jwks_uri`."""
    errors = []
    for url in issuer.metadata_urls:
        try:
            fetched = await get_issuer_document(client, issuer, url)
        except FetchError as error:
            errors.append(str(error))
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
    raise FetchError("; ".join(errors))
