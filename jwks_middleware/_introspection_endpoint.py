"""Where an issuer's introspection endpoint is: configured, or read from its metadata once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeAlias
from urllib.parse import urlsplit

import httpx

from ._keys.fetch import Fetcher, FetchError, HTTPClient

__all__ = ["EndpointFinder", "MetadataSource"]

#: Where the metadata comes from: a URL, or an async callable that returns the document.
MetadataSource: TypeAlias = "str | Callable[[], Awaitable[Mapping[str, Any]]] | None"


class EndpointFinder:
    """The introspection endpoint of one issuer: the configured URL, or the metadata's
    `introspection_endpoint` (RFC 8414 section 2), looked up on first use and kept.

    A failed lookup is not remembered: the next introspection tries again. Concurrent
    lookups share one.
    """

    def __init__(
        self,
        issuer: str,
        endpoint: str | None,
        source: MetadataSource,
        *,
        timeout: httpx.Timeout,
        max_bytes: int,
        allow_http: bool,
    ) -> None:
        self._issuer = issuer
        self._endpoint = endpoint
        self._source = source
        self._limits = (timeout, max_bytes, allow_http)
        self._lock = asyncio.Lock()

    async def find(self, client: HTTPClient, deadline: float) -> str:
        """The endpoint's URL; FetchError when the metadata cannot say."""
        if self._endpoint is not None:
            return self._endpoint
        async with self._lock:
            if self._endpoint is None:
                remaining = deadline - asyncio.get_running_loop().time()
                try:
                    metadata = await asyncio.wait_for(self._metadata(client), max(remaining, 0))
                except asyncio.TimeoutError:
                    raise FetchError("the issuer's metadata did not arrive in time", reached=False) from None
                self._endpoint = self._endpoint_in(metadata)
            return self._endpoint

    async def _metadata(self, client: HTTPClient) -> object:
        if callable(self._source):
            try:
                return await self._source()
            except Exception as error:  # noqa: BLE001 - the caller's callable; a 503, never a 500
                raise FetchError(f"the metadata source raised {type(error).__name__}") from None
        urls = [self._source] if self._source is not None else _metadata_urls(self._issuer)
        timeout, max_bytes, allow_http = self._limits
        messages = []
        for url in urls:
            try:
                fetched = await Fetcher.get_json(
                    client, url, max_bytes=max_bytes, timeout=timeout, allow_http=allow_http
                )
            except FetchError as error:
                messages.append(str(error))
                if error.server_trouble:
                    break  # a server that is down is not asked twice
                continue
            return fetched.document
        raise FetchError("; ".join(messages), reached=False)

    def _endpoint_in(self, metadata: object) -> str:
        if not isinstance(metadata, Mapping):
            raise FetchError("the issuer's metadata is not a JSON object")
        # OpenID Connect Discovery 1.0 section 4.3 / RFC 8414 section 3.3: the document must
        # name this issuer exactly, or its endpoints are not this issuer's.
        if metadata.get("issuer") != self._issuer:
            raise FetchError(f"the metadata names issuer {str(metadata.get('issuer'))[:100]!r}")
        endpoint = metadata.get("introspection_endpoint")
        if not isinstance(endpoint, str) or not endpoint:
            raise FetchError("the issuer's metadata has no introspection_endpoint")
        return endpoint


def _metadata_urls(issuer: str) -> list[str]:
    # The same documents as `Issuer.metadata_urls`, in the same order.
    parts = urlsplit(issuer)
    origin, path = f"{parts.scheme}://{parts.netloc}", parts.path.rstrip("/")
    return [
        f"{origin}{path}/.well-known/openid-configuration",  # OpenID Connect Discovery 1.0 section 4
        f"{origin}/.well-known/oauth-authorization-server{path}",  # RFC 8414 section 3.1
    ]
