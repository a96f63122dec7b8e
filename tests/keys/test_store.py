"""`KeyStore`: the trusted issuers, from a fixed list or a resolver, and what eviction stops."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from keys_support import InMemoryIssuer, make_keys
from support import Clock

from jwks_middleware import AuthEvent, Issuer
from jwks_middleware._events import Events
from jwks_middleware._keys.issuer_keys import IssuerKeys
from jwks_middleware._keys.store import KeyStore
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


def store(issuers: Any, clock: Clock, client: httpx.AsyncClient | None = None, **options: Any) -> KeyStore:
    return KeyStore(issuers, http_client=client, clock=clock, events=Events(), **options)


def test_a_store_needs_issuers_each_configured_once(issuer: LocalIssuer, clock: Clock) -> None:
    with pytest.raises(ValueError, match="at least one issuer"):
        store([], clock)
    with pytest.raises(ValueError, match="configured twice"):
        store([issuer.config(), issuer.config()], clock)
    with pytest.raises(TypeError, match="Issuer objects or resolvers, not str"):
        store([issuer.url], clock)


async def test_a_fixed_list_trusts_only_its_issuers(
    issuer: LocalIssuer, clock: Clock, client: httpx.AsyncClient, server: InMemoryIssuer
) -> None:
    other = LocalIssuer("https://other.example.test", clock=clock)
    keys = store([issuer.config(jwks_uri=issuer.jwks_uri), other.config(jwks=other.jwks())], clock, client)
    assert not keys.ready()
    assert [state.issuer for state in keys.states()] == [issuer.url, other.url]
    assert keys.lookup("https://unknown.example.test") is None
    assert keys.lookup(issuer.url + "/") is None  # `iss` matches exactly

    await keys.start()

    assert keys.ready()
    assert server.jwks_requests == 1
    found = keys.lookup(issuer.url)
    assert found is not None
    assert found.issuer.issuer == issuer.url
    await keys.aclose()


async def test_a_resolver_decides_which_issuers_are_trusted(issuer: LocalIssuer, clock: Clock) -> None:
    asked: list[str] = []
    tenants = {f"https://tenant-{n}.example.test" for n in range(4)}

    def resolver(iss: str) -> Issuer | None:
        asked.append(iss)
        if iss == "https://liar.example.test":
            return Issuer("https://someone-else.example.test", audience="api", jwks=issuer.jwks())
        return Issuer(iss, audience="api", jwks=issuer.jwks()) if iss in tenants else None

    keys = store(resolver, clock, max_resolved_issuers=2)
    assert keys.ready()  # nothing resolved yet, nothing missing
    assert keys.lookup("https://unknown.example.test") is None
    assert keys.issuers() == []
    with pytest.raises(ValueError, match="another iss"):
        keys.lookup("https://liar.example.test")

    first = keys.lookup("https://tenant-0.example.test")
    assert first is not None
    assert keys.lookup("https://tenant-0.example.test") is first
    assert asked.count("https://tenant-0.example.test") == 1  # remembered, not asked again
    keys.lookup("https://tenant-1.example.test")
    keys.lookup("https://tenant-0.example.test")  # now the most recently used
    keys.lookup("https://tenant-2.example.test")  # evicts tenant-1, the least recently used
    assert [found.issuer.issuer for found in keys.issuers()] == [
        "https://tenant-0.example.test",
        "https://tenant-2.example.test",
    ]
    await keys.start()  # resolved issuers are not preloaded
    await keys.aclose()


async def test_an_evicted_issuer_stops_its_refresher(
    issuer: LocalIssuer, clock: Clock, client: httpx.AsyncClient
) -> None:
    def resolver(iss: str) -> Issuer:
        return Issuer(iss, audience="api", jwks_uri=issuer.jwks_uri)

    keys = store(resolver, clock, client, max_resolved_issuers=1)
    before = asyncio.all_tasks()
    first = keys.lookup("https://tenant-0.example.test")
    assert first is not None
    first.ensure_background()
    (refresher,) = asyncio.all_tasks() - before
    keys.lookup("https://tenant-1.example.test")
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert refresher.cancelled()
    await keys.aclose()
