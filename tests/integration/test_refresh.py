"""Refreshing in the background: conditional requests (ETag, 304), Cache-Control deciding the
next refresh, the refresher task itself, backoff after failures, events, an injected client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from integration_support import (
    CountingTransport,
    EventLog,
    FakeClock,
    SteppedSleep,
    VerifierFactory,
    jwks_requests,
    path_of,
)

from jwks_middleware import KeysUnavailableError, TokenVerifier, UnknownKeyError
from jwks_middleware._events import Events
from jwks_middleware._fetch import Fetcher
from jwks_middleware._keystore import IssuerKeys
from jwks_middleware.testing import LocalIssuer

pytestmark = pytest.mark.anyio

#: The refresh starts at 80 % of the key set's lifetime, give or take 10 % of jitter.
EARLIEST, LATEST = 0.8 * 0.9, 0.8 * 1.1


def conditional_requests(issuer: LocalIssuer) -> list[str]:
    """The `If-None-Match` of every JWKS request that carried one."""
    jwks = path_of(issuer.jwks_uri)
    return [
        request.headers["if-none-match"]
        for request in issuer.request_log
        if request.path == jwks and "if-none-match" in request.headers
    ]


async def test_unchanged_jwks_answers_304_and_keeps_the_keys(
    issuer: LocalIssuer, clock: FakeClock, started_verifier: VerifierFactory, event_log: EventLog
) -> None:
    async with started_verifier() as verifier:
        keys = verifier.key_store.lookup(issuer.url)
        assert keys is not None
        loaded = keys.state()
        for _ in range(3):
            clock.advance(901)
            assert keys.due()
            await keys.refresh()
            state = keys.state()
            assert state.key_ids == loaded.key_ids
            assert state.last_success == clock()
            assert state.fresh_until == clock() + 900
            assert not keys.due()
        assert jwks_requests(issuer) == 4
        assert len(conditional_requests(issuer)) == 3  # each answered 304
        assert len(set(conditional_requests(issuer))) == 1
        assert event_log.kinds()["keys_not_modified"] == 3
        assert event_log.kinds()["keys_fetched"] == 1
        assert verifier.events.counters[issuer.url, "keys_not_modified"] == 3
        await verifier.verify(issuer.issue())

        # A changed key set has a new ETag: a full answer, with the new keys.
        issuer.publish_next_key()
        clock.advance(901)
        await keys.refresh()
        assert keys.state().key_ids == issuer.published_kids
        assert event_log.kinds()["keys_fetched"] == 2
        assert event_log.kinds()["keys_not_modified"] == 3


@pytest.mark.parametrize(
    ("max_age", "lifetime"),
    [(None, 900), (60, 300), (300, 300), (3600, 3600), (86400, 86400), (10**7, 86400)],
)
async def test_cache_control_max_age_clamped_to_5_minutes_24_hours_sets_the_next_refresh(
    issuer: LocalIssuer,
    clock: FakeClock,
    started_verifier: VerifierFactory,
    max_age: int | None,
    lifetime: int,
) -> None:
    issuer.cache_max_age = max_age
    async with started_verifier() as verifier:
        keys = verifier.key_store.lookup(issuer.url)
        assert keys is not None
        loaded_at = clock()
        state = keys.state()
        assert state.fresh_until == loaded_at + lifetime
        assert state.next_refresh is not None
        assert loaded_at + EARLIEST * lifetime <= state.next_refresh <= loaded_at + LATEST * lifetime

        clock.advance(EARLIEST * lifetime - 1)
        assert not keys.due()
        clock.advance((LATEST - EARLIEST) * lifetime + 2)
        assert keys.due()
        assert jwks_requests(issuer) == 1


async def test_consecutive_failures_lengthen_the_retry_delay_and_a_success_resets_it(
    issuer: LocalIssuer, clock: FakeClock, started_verifier: VerifierFactory
) -> None:
    async with started_verifier(jwks_uri=issuer.jwks_uri) as verifier:
        keys = verifier.key_store.lookup(issuer.url)
        assert keys is not None
        issuer.fail_with(500)
        clock.advance(901)
        delays = []
        for failures in range(1, 11):
            await keys.refresh()
            state = keys.state()
            assert state.failures == failures
            assert state.next_refresh is not None
            delay = state.next_refresh - clock()
            expected = min(300.0, 2.0 ** (failures - 1))  # 1, 2, 4, ... s, at most 5 min
            assert 0.9 * expected <= delay <= 1.1 * expected
            delays.append(delay)
            clock.advance(0.9 * expected - 0.01)
            assert not keys.due()
            clock.advance(0.2 * expected + 0.02)
            assert keys.due()
        assert delays[:9] == sorted(delays[:9])
        assert jwks_requests(issuer) == 11

        issuer.recover()
        await keys.refresh()
        state = keys.state()
        assert (state.failures, state.last_error) == (0, None)
        assert state.next_refresh is not None
        assert EARLIEST * 900 <= state.next_refresh - clock() <= LATEST * 900


@pytest.fixture
async def background_keys(
    issuer: LocalIssuer, clock: FakeClock, event_log: EventLog
) -> AsyncIterator[tuple[IssuerKeys, SteppedSleep]]:
    sleep = SteppedSleep(clock)
    keys = IssuerKeys(issuer.config(), fetcher=Fetcher(), events=Events(event_log), clock=clock, sleep=sleep)
    try:
        yield keys, sleep
    finally:
        await keys.stop()


async def test_the_background_refresher_refreshes_when_due_and_backs_off_on_failure(
    issuer: LocalIssuer, clock: FakeClock, background_keys: tuple[IssuerKeys, SteppedSleep]
) -> None:
    keys, sleep = background_keys
    await keys.start()
    assert jwks_requests(issuer) == 1

    # It sleeps until the refresh is due (80 % of max-age 900 s), then fetches (a 304).
    assert EARLIEST * 900 <= await sleep.next_delay() <= LATEST * 900
    sleep.release()
    assert EARLIEST * 900 <= await sleep.next_delay() <= LATEST * 900
    assert jwks_requests(issuer) == 2
    assert conditional_requests(issuer) != []

    # The issuer fails: retries after about 1, 2, 4, 8 s.
    issuer.fail_with(500)
    for expected in (1, 2, 4, 8):
        sleep.release()
        delay = await sleep.next_delay()
        assert 0.9 * expected <= delay <= 1.1 * expected
        assert keys.state().failures == expected.bit_length()
    assert keys.ready()

    # It is back: one success, and the next refresh is a full lifetime away again.
    issuer.recover()
    sleep.release()
    assert EARLIEST * 900 <= await sleep.next_delay() <= LATEST * 900
    assert keys.state().failures == 0

    await keys.stop()
    assert not issuer.requests.total() > 2 + 2 * 4 + 2  # nothing more after stop()


async def test_the_refresher_skips_a_refresh_made_unnecessary_by_an_on_demand_one(
    issuer: LocalIssuer,
    clock: FakeClock,
    background_keys: tuple[IssuerKeys, SteppedSleep],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("jwks_middleware._keystore._jitter", lambda: 1.0)
    keys, sleep = background_keys
    await keys.start()
    assert await sleep.next_delay() == 720
    clock.advance(100)
    issuer.rotate()
    await keys.find_key(issuer.kid, "RS256")  # the new kid: fetched on demand
    assert jwks_requests(issuer) == 2

    sleep.release()  # wakes at the old refresh time, now not due any more
    assert await sleep.next_delay() == 100
    assert jwks_requests(issuer) == 2
    sleep.release()
    assert await sleep.next_delay() == 720
    assert jwks_requests(issuer) == 3


async def test_an_unexpected_error_during_a_fetch_does_not_stop_the_refresher(
    issuer: LocalIssuer, clock: FakeClock, event_log: EventLog, caplog: pytest.LogCaptureFixture
) -> None:
    class Exploding(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            raise RuntimeError("a transport bug")

    sleep = SteppedSleep(clock)
    async with httpx.AsyncClient(transport=Exploding()) as client:
        keys = IssuerKeys(
            issuer.config(), fetcher=Fetcher(client), events=Events(event_log), clock=clock, sleep=sleep
        )
        await keys.start()
        assert keys.state().last_error == "unexpected RuntimeError"
        assert 0.9 <= await sleep.next_delay() <= 1.1  # still scheduled, with backoff
        sleep.release()
        assert 1.8 <= await sleep.next_delay() <= 2.2
        assert keys.state().failures == 2
        await keys.stop()
    assert "unexpected error while fetching the keys" in caplog.text


async def test_events_and_state_tell_what_the_key_store_did(
    issuer: LocalIssuer, clock: FakeClock, started_verifier: VerifierFactory, event_log: EventLog
) -> None:
    async with started_verifier(refresh_cooldown=30, max_stale=600, jwks_uri=issuer.jwks_uri) as verifier:
        keys = verifier.key_store.lookup(issuer.url)
        assert keys is not None
        loaded_at = clock()
        state = keys.state()
        assert (state.issuer, state.ready, state.jwks_uri) == (issuer.url, True, issuer.jwks_uri)
        assert (state.key_ids, state.skipped) == (issuer.published_kids, ())
        assert (state.last_success, state.age, state.failures, state.last_error) == (loaded_at, 0, 0, None)
        assert (state.fresh_until, state.usable_until) == (loaded_at + 900, loaded_at + 1500)

        clock.advance(901)
        await keys.refresh()  # 304
        issuer.fail_with(500)
        clock.advance(100)
        await keys.refresh()  # fails: stale keys in use
        state = keys.state()
        assert (state.last_success, state.age, state.failures) == (loaded_at + 901, 100, 1)
        assert state.last_error is not None
        assert "HTTP 500" in state.last_error

        # kid-a: a fetch (it fails); kid-a again: remembered as unknown, no fetch; kid-b: the
        # cooldown's budget is spent, refused without a fetch.
        for kid in ("kid-a", "kid-a", "kid-b"):
            with pytest.raises(UnknownKeyError):
                await verifier.verify(issuer.issue(headers={"kid": kid}))
        clock.advance(2000)  # past max_stale
        assert not keys.state().ready
        with pytest.raises(Exception, match="older than max_stale"):
            await verifier.verify(issuer.issue())

    kinds = event_log.kinds()
    expected = {
        "keys_fetched": 1,
        "keys_not_modified": 1,
        "fetch_failed": 3,
        "stale_keys_in_use": 2,
        "keys_expired": 1,
        "unknown_kid": 3,
        "refresh_cooldown": 1,
        "token_refused": 4,
    }
    assert dict(kinds) == expected
    counters = verifier.events.counters
    for kind, count in expected.items():
        if kind != "token_refused":
            assert counters[issuer.url, kind] == count
    # Refusals of tokens that name this (trusted) issuer are counted under it.
    assert counters[issuer.url, "token_refused:unknown_key"] == 3
    assert counters[issuer.url, "token_refused:stale_keys"] == 1
    assert {event.issuer for event in event_log.events} == {issuer.url}


async def test_an_injected_http_client_is_used_and_left_open(issuer: LocalIssuer, clock: FakeClock) -> None:
    transport = CountingTransport()
    client = httpx.AsyncClient(transport=transport, headers={"X-Client": "injected"}, follow_redirects=True)
    async with TokenVerifier([issuer.config()], clock=clock, http_client=client) as verifier:
        assert verifier.ready()
        assert [request.url.path for request in transport.requests] == [
            path_of(issuer.discovery_url),
            path_of(issuer.jwks_uri),
        ]
        assert all(request.headers["x-client"] == "injected" for request in issuer.request_log)

        # The client's follow_redirects=True does not make the key store follow a redirect.
        issuer.redirect(f"{issuer.url}/elsewhere.json", path=issuer.jwks_uri)
        keys = verifier.key_store.lookup(issuer.url)
        assert keys is not None
        clock.advance(901)
        await keys.refresh()
        assert keys.state().failures == 1
        assert issuer.requests[path_of(f"{issuer.url}/elsewhere.json")] == 0
        assert len(transport.requests) == 3
    assert not client.is_closed  # the caller's client: the caller closes it
    await client.aclose()


async def test_shutdown_during_a_cold_fetch_refuses_the_waiting_request_with_503(
    issuer: LocalIssuer, clock: FakeClock
) -> None:
    issuer.slow_down(5.0)
    verifier = TokenVerifier([issuer.config()], clock=clock)
    waiting = asyncio.ensure_future(verifier.verify(issuer.issue()))
    assert await asyncio.to_thread(issuer.wait_for_requests, 1)

    await verifier.aclose()  # cancels the fetch under way

    # The request waiting on that fetch is refused, not cancelled (its own task was not).
    with pytest.raises(KeysUnavailableError):
        await asyncio.wait_for(waiting, 1)
    assert not verifier.ready()
