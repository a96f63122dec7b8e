"""Fixtures of the integration tests: a real issuer server on 127.0.0.1 and a fake clock.

The server (`LocalIssuer.serve()`) answers over real sockets in a thread; the test controls
its answers (faults, rotation) and reads its request counters. Time is a `Clock` shared by
the issuer (token dates) and the key store (freshness, cooldowns, backoff).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from integration_support import EventLog, VerifierFactory
from support import Clock

from jwks_middleware import TokenVerifier
from jwks_middleware.testing import LocalIssuer


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def event_log() -> EventLog:
    return EventLog()


@pytest.fixture
def issuer(clock: Clock) -> Iterator[LocalIssuer]:
    """A local issuer served on 127.0.0.1 (RS256, `Cache-Control: max-age=900`, ETags)."""
    with LocalIssuer.serve(clock=clock) as served:
        yield served


@pytest.fixture
def started_verifier(issuer: LocalIssuer, clock: Clock, event_log: EventLog) -> VerifierFactory:
    """``async with started_verifier(**issuer_options) as verifier:`` a `TokenVerifier` trusting
    `issuer` (with these `Issuer` options), started (keys preloaded) and closed at the end."""

    @asynccontextmanager
    async def factory(*, start: bool = True, **issuer_options: Any) -> AsyncIterator[TokenVerifier]:
        verifier = TokenVerifier([issuer.config(**issuer_options)], clock=clock, on_event=event_log)
        try:
            if start:
                await verifier.start()
            yield verifier
        finally:
            await verifier.aclose()

    return factory
