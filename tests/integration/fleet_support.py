"""A fleet of processes against one issuer, in virtual time: each member is an `IssuerKeys` of
its own (as in a process of its own), all fetching from one in-memory issuer that counts requests.

The background refresher of each member is played by `Fleet.run_until`: it refreshes every member
whose refresh is due, in time order, moving the shared `Clock` from one refresh to the next.
"""

from __future__ import annotations

import hashlib
import heapq
import json
from collections import Counter
from typing import Any

import httpx
from support import Clock

from jwks_middleware._events import Events
from jwks_middleware._keys.fetch import Fetcher
from jwks_middleware._keys.issuer_keys import IssuerKeys
from jwks_middleware.testing import LocalIssuer

HOUR = 3600.0


class FleetIssuer(httpx.AsyncBaseTransport):
    """A `LocalIssuer`'s discovery and JWKS documents answered in memory, with ETags and
    `Cache-Control`; `outage` makes every answer that status instead. Requests are timed with the
    fleet's clock."""

    def __init__(self, issuer: LocalIssuer, clock: Clock) -> None:
        self.issuer = issuer
        self.clock = clock
        #: `max-age` of the answers (None: no `Cache-Control`), also sent on 304s unless
        #: `cache_control_on_304` is False.
        self.max_age: int | None = 900
        self.cache_control_on_304 = True
        self.outage: int | None = None
        self.retry_after: str | None = None
        #: (clock time, path) of every request.
        self.requests: list[tuple[float, str]] = []
        self._discovery_path = httpx.URL(issuer.discovery_url).path
        self._served: tuple[tuple[str, ...], bytes, str] | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.requests.append((self.clock(), path))
        if self.outage is not None:
            headers = {"Retry-After": self.retry_after} if self.retry_after is not None else {}
            return httpx.Response(self.outage, headers=headers)
        if path == self._discovery_path:
            return httpx.Response(200, json=self.issuer.metadata())
        body, etag = self._jwks()
        cache = {"Cache-Control": f"max-age={self.max_age}"} if self.max_age is not None else {}
        if request.headers.get("if-none-match") == etag:
            return httpx.Response(304, headers={"ETag": etag, **(cache if self.cache_control_on_304 else {})})
        return httpx.Response(
            200, content=body, headers={"Content-Type": "application/json", "ETag": etag, **cache}
        )

    def _jwks(self) -> tuple[bytes, str]:
        kids = self.issuer.published_kids
        if self._served is None or self._served[0] != kids:
            body = json.dumps(self.issuer.jwks()).encode()
            self._served = (kids, body, f'"{hashlib.sha256(body).hexdigest()[:16]}"')
        return self._served[1], self._served[2]

    def count(self, start: float, end: float, path: str | None = None) -> int:
        """Requests received in [start, end), to `path` or in all."""
        return sum(1 for when, where in self.requests if start <= when < end and path in (None, where))

    def busiest(self, start: float, end: float, window: float) -> int:
        """Most requests received in one window of [start, end) cut into windows of `window` s."""
        counts = Counter(int((when - start) // window) for when, _ in self.requests if start <= when < end)
        return max(counts.values(), default=0)


class Fleet:
    """`size` members, each its own `IssuerKeys`, sharing one issuer and one clock."""

    def __init__(self, size: int, issuer: LocalIssuer, clock: Clock, **issuer_options: Any) -> None:
        self.clock = clock
        self.transport = FleetIssuer(issuer, clock)
        self.client = httpx.AsyncClient(transport=self.transport)
        config = issuer.config(**issuer_options)
        fetcher = Fetcher(self.client)
        self.members = [
            IssuerKeys(config, fetcher=fetcher, events=Events(), clock=clock) for _ in range(size)
        ]

    async def start(self) -> None:
        """Every member loads its keys now: a deploy, or a restart of the whole fleet."""
        for member in self.members:
            await member.refresh()

    async def run_until(self, end: float) -> None:
        """Play every member's background refresher until `end`."""
        due = [(member.state().next_refresh or end, index) for index, member in enumerate(self.members)]
        heapq.heapify(due)
        while due and due[0][0] < end:
            when, index = heapq.heappop(due)
            member = self.members[index]
            self.clock.now = max(self.clock.now, when)
            if member.due():
                await member.refresh()
            heapq.heappush(due, (member.state().next_refresh or end, index))
        self.clock.now = max(self.clock.now, end)

    async def aclose(self) -> None:
        await self.client.aclose()
