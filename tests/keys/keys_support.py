"""What the key-layer tests share: an issuer answered in memory and `IssuerKeys` made for it."""

from __future__ import annotations

import asyncio
from typing import Any, Final

import httpx
from support import Clock

from jwks_middleware import AuthEvent
from jwks_middleware._events import Events
from jwks_middleware._keys.fetch import Fetcher
from jwks_middleware._keys.issuer_keys import IssuerKeys
from jwks_middleware.testing import LocalIssuer

COOLDOWN: Final = 30.0


class InMemoryIssuer(httpx.AsyncBaseTransport):
    """A LocalIssuer answered in memory; counts JWKS requests and can hold answers back.

    While `hold` is set, an answer is made when the request arrives (so it shows the keys of
    that moment) but delivered only once `hold` is released.
    """

    def __init__(self, issuer: LocalIssuer) -> None:
        self.issuer = issuer
        self._inner = httpx.ASGITransport(app=issuer.asgi_app())
        self.jwks_requests = 0
        self.hold: asyncio.Event | None = None
        self.arrived = asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url == httpx.URL(self.issuer.jwks_uri):
            self.jwks_requests += 1
        response = await self._inner.handle_async_request(request)
        body = await response.aread()
        self.arrived.set()
        if self.hold is not None:
            await self.hold.wait()
        return httpx.Response(response.status_code, headers=response.headers, content=body)


def make_keys(
    issuer: LocalIssuer, client: httpx.AsyncClient, clock: Clock, events: list[AuthEvent], **options: Any
) -> IssuerKeys:
    options.setdefault("refresh_cooldown", COOLDOWN)
    options.setdefault("jwks_uri", issuer.jwks_uri)
    return IssuerKeys(
        issuer.config(**options), fetcher=Fetcher(client), events=Events(events.append), clock=clock
    )
