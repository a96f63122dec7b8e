"""Helpers of the integration tests: a clock the test moves, an event recorder, a stepped sleep.

No test sleeps for real to move time: the key store, the verifier and the local issuer all read
the same `Clock`, and the background refresher's waits go through `SteppedSleep`.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any
from urllib.parse import urlsplit

import httpx
from support import Clock

from jwks_middleware import AuthEvent, TokenVerifier
from jwks_middleware.testing import LocalIssuer

#: The `started_verifier` fixture: ``async with started_verifier(**issuer_options) as verifier:``.
VerifierFactory = Callable[..., AbstractAsyncContextManager[TokenVerifier]]

#: Longest a test waits for something that should happen at once (a background step).
STEP_TIMEOUT = 5.0


class EventLog:
    """An `on_event` hook that keeps every event."""

    def __init__(self) -> None:
        self.events: list[AuthEvent] = []

    def __call__(self, event: AuthEvent) -> None:
        self.events.append(event)

    def kinds(self) -> Counter[str]:
        return Counter(event.kind for event in self.events)

    def clear(self) -> None:
        self.events.clear()


class SteppedSleep:
    """A `sleep` for the background refresher: it records the delay asked for, waits until the
    test calls `release()`, then moves the clock to the end of that delay (unless the test
    moved it further meanwhile), as if the time had passed."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._asked: asyncio.Queue[float] = asyncio.Queue()
        self._permits: asyncio.Queue[None] = asyncio.Queue()

    async def __call__(self, delay: float) -> None:
        wake_at = self._clock() + delay
        self._asked.put_nowait(delay)
        await self._permits.get()
        self._clock.now = max(self._clock.now, wake_at)

    async def next_delay(self) -> float:
        """The delay of the refresher's next sleep (waits for it to start sleeping)."""
        return await asyncio.wait_for(self._asked.get(), STEP_TIMEOUT)

    def release(self) -> None:
        """Let the sleeping refresher wake up."""
        self._permits.put_nowait(None)


class CountingTransport(httpx.AsyncBaseTransport):
    """A transport that counts the requests it carries, then hands them to a real one."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self._inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def path_of(url: str) -> str:
    return urlsplit(url).path


def jwks_requests(issuer: LocalIssuer) -> int:
    """How many times the JWKS was requested."""
    return issuer.requests[path_of(issuer.jwks_uri)]


def discovery_requests(issuer: LocalIssuer) -> int:
    """How many times the OpenID Connect discovery document was requested."""
    return issuer.requests[path_of(issuer.discovery_url)]


def forged_token(claims: dict[str, Any], header: dict[str, Any]) -> str:
    """A token with these members and a signature that verifies nowhere: for floods, which must
    be refused before any signature is computed (cheap to make by the ten thousand)."""

    def b64(document: dict[str, Any]) -> str:
        raw = json.dumps(document, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return f"{b64(header)}.{b64(claims)}.{'A' * 342}"
