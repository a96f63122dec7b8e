"""`IssuerKeys` with an in-memory issuer: cold loads, the unknown-kid negative cache, single
flight, the background refresher, and plain http by opt-in.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from keys_support import InMemoryIssuer, make_keys
from support import Clock

from jwks_middleware import AuthEvent, DisallowedAlgorithmError, KeysUnavailableError, UnknownKeyError
from jwks_middleware._events import Events
from jwks_middleware._keys.fetch import Fetcher
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


async def test_static_keys_are_ready_at_once_and_never_fetched(
    issuer: LocalIssuer, clock: Clock, server: InMemoryIssuer, client: httpx.AsyncClient
) -> None:
    keys = IssuerKeys(
        issuer.config(jwks=issuer.jwks()), fetcher=Fetcher(client), events=Events(), clock=clock
    )
    assert keys.ready()
    await keys.start()
    await keys.refresh()
    assert (await keys.find_key(issuer.kid, "RS256")).kid == issuer.kid
    with pytest.raises(UnknownKeyError):
        await keys.find_key("another-kid", "RS256")
    assert server.jwks_requests == 0
    state = keys.state()
    assert (state.ready, state.key_ids, state.next_refresh, state.last_success) == (
        True,
        (issuer.kid,),
        None,
        None,
    )
    await keys.stop()


async def test_the_first_lookup_loads_the_keys(
    keys: IssuerKeys, issuer: LocalIssuer, server: InMemoryIssuer
) -> None:
    state = keys.state()
    assert (state.ready, state.last_success, state.age, state.fresh_until, state.usable_until) == (
        False,
        None,
        None,
        None,
        None,
    )
    found = await asyncio.gather(*(keys.find_key(issuer.kid, "RS256") for _ in range(20)))
    assert {key.kid for key in found} == {issuer.kid}
    assert server.jwks_requests == 1
    assert keys.ready()


async def test_keys_that_never_loaded_answer_503_and_say_why(
    keys: IssuerKeys, issuer: LocalIssuer, server: InMemoryIssuer
) -> None:
    issuer.fail_with(500)
    with pytest.raises(KeysUnavailableError, match="HTTP 500") as refused:
        await keys.find_key(issuer.kid, "RS256")
    assert refused.value.status_code == 503
    with pytest.raises(KeysUnavailableError):
        await keys.find_key(issuer.kid, "RS256")
    with pytest.raises(KeysUnavailableError):
        await keys.find_key(issuer.kid, "RS256")  # the budget is spent: no fetch
    assert server.jwks_requests == 2


async def test_a_token_without_kid_or_with_a_known_kid_never_triggers_a_refresh(
    keys: IssuerKeys, issuer: LocalIssuer, server: InMemoryIssuer
) -> None:
    assert (await keys.find_key(None, "RS256")).kid == issuer.kid  # the only key that fits
    with pytest.raises(DisallowedAlgorithmError):
        await keys.find_key(issuer.kid, "ES256")  # a known kid of another key type
    with pytest.raises(UnknownKeyError, match="no key fits"):
        await keys.find_key(None, "ES256")
    assert server.jwks_requests == 1


async def test_a_refresh_that_brings_the_kid_clears_the_negative_cache(
    keys: IssuerKeys, issuer: LocalIssuer, server: InMemoryIssuer
) -> None:
    await keys.start()
    served = issuer.jwks()
    new_kid = issuer.publish_next_key()
    issuer.serve_jwks(served)  # published, but not served yet (a CDN lagging behind)
    await refused_after_one_fetch(keys, server, new_kid)
    await refused_without_fetch(keys, server, new_kid)

    issuer.serve_jwks(None)
    await keys.refresh()

    assert (await keys.find_key(new_kid, "RS256")).kid == new_kid
    assert server.jwks_requests == 3


async def test_a_fetch_joined_midway_does_not_mark_a_new_kid_unknown(
    keys: IssuerKeys, issuer: LocalIssuer, server: InMemoryIssuer, clock: Clock
) -> None:
    await keys.start()
    clock.advance(900)  # a background refresh is due
    server.hold, server.arrived = asyncio.Event(), asyncio.Event()
    background = asyncio.ensure_future(keys.refresh())
    await server.arrived.wait()  # the background fetch has read the old key set
    new_kid = issuer.rotate()
    joined = asyncio.ensure_future(keys.find_key(new_kid, "RS256"))
    await asyncio.sleep(0)
    server.hold.set()
    await background
    with pytest.raises(UnknownKeyError):
        await joined  # the key set it waited for predates the key
    server.hold = None

    # The next token of that kid is not refused from the negative cache: it fetches.
    assert (await keys.find_key(new_kid, "RS256")).kid == new_kid
    assert server.jwks_requests == 3


async def test_a_waiter_that_goes_away_does_not_cancel_the_shared_fetch(
    keys: IssuerKeys, issuer: LocalIssuer, server: InMemoryIssuer
) -> None:
    server.hold = asyncio.Event()
    leaving = asyncio.ensure_future(keys.find_key(issuer.kid, "RS256"))
    await server.arrived.wait()
    staying = asyncio.ensure_future(keys.find_key(issuer.kid, "RS256"))
    await asyncio.sleep(0)
    leaving.cancel()  # a client disconnects
    server.hold.set()
    assert (await staying).kid == issuer.kid
    assert leaving.cancelled()
    assert server.jwks_requests == 1


async def test_start_runs_one_refresher_and_stop_ends_it(keys: IssuerKeys) -> None:
    before = asyncio.all_tasks()
    await keys.start()
    await keys.start()
    keys.ensure_background()
    running = asyncio.all_tasks() - before
    assert len(running) == 1
    await keys.stop()
    assert all(task.done() for task in running)
    await keys.stop()  # twice is fine


async def test_a_lookup_restarts_a_refresher_that_ended(keys: IssuerKeys, issuer: LocalIssuer) -> None:
    before = asyncio.all_tasks()
    await keys.start()
    (refresher,) = asyncio.all_tasks() - before
    refresher.cancel()
    await asyncio.sleep(0)
    await keys.find_key(issuer.kid, "RS256")
    (restarted,) = asyncio.all_tasks() - before
    assert restarted is not refresher
    assert not restarted.done()


async def test_stop_soon_cancels_the_refresher_without_waiting(keys: IssuerKeys) -> None:
    keys.stop_soon()  # nothing to stop yet
    before = asyncio.all_tasks()
    await keys.start()
    (refresher,) = asyncio.all_tasks() - before
    keys.stop_soon()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert refresher.cancelled()


async def test_plain_http_on_a_private_host_works_by_opt_in_and_warns_once_at_start_up(
    clock: Clock, events: list[AuthEvent], caplog: pytest.LogCaptureFixture
) -> None:
    compose = LocalIssuer("http://keycloak:8080/realms/acme", clock=clock)  # a docker-compose service
    with pytest.raises(ValueError, match=r"allow_http=True"):
        compose.config()
    async with compose.http_client() as client:
        keys = IssuerKeys(
            compose.config(allow_http=True),
            fetcher=Fetcher(client),
            events=Events(events.append),
            clock=clock,
        )
        await keys.start()
        await keys.refresh()
        assert (await keys.find_key(compose.kid, "RS256")).kid == compose.kid
        await keys.stop()
    (warning,) = [event for event in events if event.kind == "plain_http_allowed"]
    assert warning.issuer == compose.url
    assert "allow_http=True" in warning.detail
    assert "WARNING" in caplog.text
    assert "plain_http_allowed" in caplog.text


async def test_allow_http_also_applies_to_the_jwks_uri_found_in_discovery(
    clock: Clock, events: list[AuthEvent]
) -> None:
    compose = LocalIssuer("http://keycloak:8080/realms/acme", clock=clock)
    async with compose.http_client() as client:
        keys = IssuerKeys(
            compose.config(allow_http=True),
            fetcher=Fetcher(client),
            events=Events(events.append),
            clock=clock,
        )
        await keys.start()
        assert keys.state().jwks_uri == compose.jwks_uri  # http://keycloak:8080/...: fetched
        assert keys.ready()
        await keys.stop()
        https = LocalIssuer("https://sso.example.test/realms/acme", clock=clock)
        https.serve_metadata({**https.metadata(), "jwks_uri": compose.jwks_uri})
        async with https.http_client() as https_client:
            strict = IssuerKeys(https.config(), fetcher=Fetcher(https_client), events=Events(), clock=clock)
            await strict.start()
            error = strict.state().last_error
            assert error is not None
            assert "allow_http=True" in error
            await strict.stop()
