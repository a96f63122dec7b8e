"""The refresh budget, through `IssuerKeys`: how many fetches unknown `kid`s may cause, and which
`kid`s earn one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from keys_support import COOLDOWN, InMemoryIssuer, make_keys
from support import Clock

from jwks_middleware import AuthEvent, UnknownKeyError
from jwks_middleware._config import UNKNOWN_KID_TTL
from jwks_middleware._keys.issuer_keys import IssuerKeys
from jwks_middleware.testing import LocalIssuer

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def issuer(clock: Clock) -> LocalIssuer:
    return LocalIssuer(clock=clock)


@pytest.fixture
async def server(issuer: LocalIssuer) -> InMemoryIssuer:
    return InMemoryIssuer(issuer)


@pytest.fixture
async def client(server: InMemoryIssuer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=server) as client:
        yield client


@pytest.fixture
def events() -> list[AuthEvent]:
    return []


@pytest.fixture
async def keys(
    issuer: LocalIssuer, client: httpx.AsyncClient, clock: Clock, events: list[AuthEvent]
) -> AsyncIterator[IssuerKeys]:
    keys = make_keys(issuer, client, clock, events)
    yield keys
    await keys.stop()


async def refused_without_fetch(keys: IssuerKeys, server: InMemoryIssuer, kid: str) -> str:
    before = server.jwks_requests
    with pytest.raises(UnknownKeyError) as refused:
        await keys.find_key(kid, "RS256")
    assert server.jwks_requests == before
    return refused.value.detail


async def refused_after_one_fetch(keys: IssuerKeys, server: InMemoryIssuer, kid: str) -> None:
    before = server.jwks_requests
    with pytest.raises(UnknownKeyError):
        await keys.find_key(kid, "RS256")
    assert server.jwks_requests == before + 1


async def test_unknown_kids_fetch_at_most_twice_then_once_per_cooldown(
    keys: IssuerKeys, server: InMemoryIssuer, clock: Clock, events: list[AuthEvent]
) -> None:
    await keys.start()  # the start-up fetch takes one of the two tokens
    assert server.jwks_requests == 1
    await refused_after_one_fetch(keys, server, "kid-1")
    assert "cooling down" in await refused_without_fetch(keys, server, "kid-2")
    clock.advance(COOLDOWN / 2)
    await refused_without_fetch(keys, server, "kid-3")
    clock.advance(COOLDOWN / 2)
    await refused_after_one_fetch(keys, server, "kid-4")
    await refused_without_fetch(keys, server, "kid-5")
    clock.advance(10 * COOLDOWN)  # the bucket holds two at most
    await refused_after_one_fetch(keys, server, "kid-6")
    await refused_after_one_fetch(keys, server, "kid-7")
    await refused_without_fetch(keys, server, "kid-8")
    kinds = [event.kind for event in events]
    assert kinds.count("unknown_kid") == 8
    assert kinds.count("refresh_cooldown") == 4


async def test_background_refreshes_spend_the_same_budget(
    keys: IssuerKeys, server: InMemoryIssuer, clock: Clock
) -> None:
    await keys.start()
    await refused_after_one_fetch(keys, server, "kid-1")  # the bucket is empty now
    clock.advance(COOLDOWN - 1)
    await keys.refresh()  # a background refresh: it spends the token that has almost grown back
    clock.advance(1)
    await refused_without_fetch(keys, server, "kid-2")
    clock.advance(COOLDOWN)
    await refused_after_one_fetch(keys, server, "kid-3")


async def test_a_clock_set_back_does_not_drain_the_budget(
    keys: IssuerKeys, server: InMemoryIssuer, clock: Clock
) -> None:
    await keys.start()
    clock.advance(-3600)
    await refused_after_one_fetch(keys, server, "kid-1")  # the token left is still there


async def test_without_cooldown_every_new_kid_fetches_but_unknown_ones_are_remembered(
    issuer: LocalIssuer, client: httpx.AsyncClient, server: InMemoryIssuer, clock: Clock
) -> None:
    keys = make_keys(issuer, client, clock, [], refresh_cooldown=0)
    await keys.start()
    for kid in ("kid-1", "kid-2", "kid-3"):
        await refused_after_one_fetch(keys, server, kid)
    assert "moments ago" in await refused_without_fetch(keys, server, "kid-1")
    clock.advance(UNKNOWN_KID_TTL + 1)
    await refused_after_one_fetch(keys, server, "kid-1")


async def test_a_kid_refused_by_the_cooldown_earns_a_fetch_when_it_comes_back_a_second_later(
    keys: IssuerKeys, server: InMemoryIssuer, clock: Clock
) -> None:
    await keys.start()
    await refused_after_one_fetch(keys, server, "stray")  # the bucket is empty now
    await refused_without_fetch(keys, server, "kid-1")
    clock.advance(0.5)
    await refused_without_fetch(keys, server, "kid-1")  # back too soon: one client's retry
    clock.advance(0.5)
    await refused_after_one_fetch(keys, server, "kid-1")  # still in use a second later
    # That budget holds one fetch per cooldown.
    await refused_without_fetch(keys, server, "kid-2")
    clock.advance(1)
    await refused_without_fetch(keys, server, "kid-2")
    clock.advance(COOLDOWN / 2)
    await refused_without_fetch(keys, server, "kid-3")  # half a cooldown: nothing has grown back
    clock.advance(COOLDOWN / 2)
    await refused_after_one_fetch(keys, server, "kid-3")  # the bucket again


async def test_a_kid_a_fetch_proved_unknown_never_earns_the_repeated_kid_fetch(
    keys: IssuerKeys, server: InMemoryIssuer, clock: Clock
) -> None:
    await keys.start()
    await refused_after_one_fetch(keys, server, "stray")
    assert "moments ago" in await refused_without_fetch(keys, server, "stray")
    clock.advance(UNKNOWN_KID_TTL + 1)
    await refused_without_fetch(keys, server, "stray")  # the bucket refuses it...
    clock.advance(2)
    assert "cooling down" in await refused_without_fetch(
        keys, server, "stray"
    )  # ...and so does the other budget
