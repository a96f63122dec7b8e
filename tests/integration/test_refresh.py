"""Refreshing in the background: conditional requests (ETag, 304), Cache-Control deciding the
next refresh (capped at an hour), the refresher task itself, backoff after failures,
Retry-After, events, an injected client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from integration_support import (
    CountingTransport,
    EventLog,
    SteppedSleep,
    VerifierFactory,
    discovery_requests,
    jwks_requests,
    path_of,
)
from support import Clock

from jwks_middleware import KeysUnavailableError, TokenVerifier, UnknownKeyError
from jwks_middleware._events import Events
from jwks_middleware._keys.fetch import Fetcher
from jwks_middleware._keys.issuer_keys import IssuerKeys
from jwks_middleware.testing import LocalIssuer

pytestmark = pytest.mark.anyio

#: Refreshes come every 80 % of the key set's lifetime (at most an hour), at this process's
#: own slot in that interval: the first one 10 % to 110 % of an interval after a fetch.
EARLIEST, LATEST = 0.1, 1.1
#: The interval of the local issuer's documents (`max-age=900`).
INTERVAL = 0.8 * 900


def conditional_requests(issuer: LocalIssuer) -> list[str]:
    """The `If-None-Match` of every JWKS request that carried one."""
    jwks = path_of(issuer.jwks_uri)
    return [
        request.headers["if-none-match"]
        for request in issuer.request_log
        if request.path == jwks and "if-none-match" in request.headers
    ]


async def test_unchanged_jwks_answers_304_and_keeps_the_keys(
    issuer: LocalIssuer, clock: Clock, started_verifier: VerifierFactory, event_log: EventLog
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
    ("max_age", "lifetime", "interval"),
    [
        (None, 900, 720),
        (60, 300, 240),
        (300, 300, 240),
        (3600, 3600, 2880),
        (86400, 86400, 3600),  # at least hourly: keys published ahead of use arrive in time
        (10**7, 86400, 3600),
    ],
)
async def test_cache_control_max_age_clamped_to_5_minutes_24_hours_sets_the_next_refresh(
    issuer: LocalIssuer,
    clock: Clock,
    started_verifier: VerifierFactory,
    max_age: int | None,
    lifetime: int,
    interval: float,
) -> None:
    issuer.cache_max_age = max_age
    async with started_verifier() as verifier:
        keys = verifier.key_store.lookup(issuer.url)
        assert keys is not None
        loaded_at = clock()
        state = keys.state()
        assert state.fresh_until == loaded_at + lifetime
        assert state.next_refresh is not None
        assert loaded_at + EARLIEST * interval <= state.next_refresh <= loaded_at + LATEST * interval

        clock.advance(EARLIEST * interval - 1)
        assert not keys.due()
        clock.advance((LATEST - EARLIEST) * interval + 2)
        assert keys.due()
        assert jwks_requests(issuer) == 1


async def test_max_refresh_interval_caps_the_interval_below_an_hour(
    issuer: LocalIssuer, clock: Clock, started_verifier: VerifierFactory
) -> None:
    issuer.cache_max_age = 86400
    async with started_verifier(max_refresh_interval=600) as verifier:
        keys = verifier.key_store.lookup(issuer.url)
        assert keys is not None
        clock.advance(LATEST * 600 + 1)
        assert keys.due()
        await keys.refresh()
        state = keys.state()
        assert state.next_refresh == pytest.approx(clock() + 600)  # a routine refresh: one interval
        assert state.fresh_until == clock() + 86400


async def test_a_304_without_cache_control_keeps_the_stored_lifetime(
    issuer: LocalIssuer, clock: Clock, started_verifier: VerifierFactory
) -> None:
    issuer.cache_max_age = 86400
    async with started_verifier() as verifier:
        keys = verifier.key_store.lookup(issuer.url)
        assert keys is not None
        issuer.cache_max_age = None  # RFC 9111 section 4.3.4: the stored lifetime stands
        for _ in range(3):
            clock.advance(3601)
            await keys.refresh()
            assert keys.state().fresh_until == clock() + 86400
        assert len(conditional_requests(issuer)) == 3

        # A full answer without Cache-Control gets the 15-minute default.
        issuer.publish_next_key()
        clock.advance(3601)
        await keys.refresh()
        assert keys.state().fresh_until == clock() + 900


async def test_consecutive_failures_lengthen_the_retry_delay_and_a_success_resets_it(
    issuer: LocalIssuer, clock: Clock, started_verifier: VerifierFactory
) -> None:
    async with started_verifier(jwks_uri=issuer.jwks_uri) as verifier:
        keys = verifier.key_store.lookup(issuer.url)
        assert keys is not None
        issuer.fail_with(500)
        clock.advance(901)
        for failures in range(1, 7):
            await keys.refresh()
            state = keys.state()
            assert state.failures == failures
            assert state.next_refresh is not None
            # The last good keys are in use: nothing is urgent. A quarter of the interval, then
            # twice as long each time, at most the interval; stretched by up to half, never shorter.
            expected = min(INTERVAL, INTERVAL / 4 * 2 ** (failures - 1))
            assert expected <= state.next_refresh - clock() <= 1.5 * expected
            clock.advance(expected - 0.01)
            assert not keys.due()
            clock.advance(0.5 * expected + 0.02)
            assert keys.due()
        assert jwks_requests(issuer) == 7

        issuer.recover()
        await keys.refresh()
        state = keys.state()
        assert (state.failures, state.last_error) == (0, None)
        assert state.next_refresh is not None
        assert EARLIEST * INTERVAL <= state.next_refresh - clock() <= LATEST * INTERVAL


async def test_without_keys_retries_start_within_seconds(
    issuer: LocalIssuer, clock: Clock, started_verifier: VerifierFactory
) -> None:
    issuer.fail_with(500)
    async with started_verifier(jwks_uri=issuer.jwks_uri) as verifier:
        keys = verifier.key_store.lookup(issuer.url)
        assert keys is not None
        for failures in range(1, 12):
            state = keys.state()
            assert state.failures == failures
            assert state.next_refresh is not None
            expected = min(INTERVAL, 2.0 ** (failures - 1))  # 1, 2, 4, ... s, at most the interval
            assert expected <= state.next_refresh - clock() <= 1.5 * expected
            clock.advance(state.next_refresh - clock())
            await keys.refresh()


@pytest.mark.parametrize("status", [429, 503])
async def test_retry_after_holds_every_fetch_back(
    issuer: LocalIssuer, clock: Clock, started_verifier: VerifierFactory, status: int
) -> None:
    async with started_verifier(jwks_uri=issuer.jwks_uri, refresh_cooldown=30) as verifier:
        keys = verifier.key_store.lookup(issuer.url)
        assert keys is not None
        issuer.fail_with(status, headers={"Retry-After": "600"})
        clock.advance(901)
        await keys.refresh()
        state = keys.state()
        assert state.retry_after_until == clock() + 600
        assert state.next_refresh is not None
        assert state.next_refresh >= clock() + 600
        assert state.last_error is not None
        assert "(Retry-After 600 s)" in state.last_error

        # A new kid is refused at once, not fetched, until the issuer's time has come.
        requests = jwks_requests(issuer)
        issuer.recover()
        new_kid = issuer.rotate()
        clock.advance(599)
        with pytest.raises(UnknownKeyError, match="cooling down"):
            await verifier.verify(issuer.issue(sub="early"))
        assert jwks_requests(issuer) == requests
        clock.advance(1)
        assert (await verifier.verify(issuer.issue(sub="in time"))).subject == "in time"
        assert jwks_requests(issuer) == requests + 1
        assert new_kid in keys.state().key_ids
        assert keys.state().retry_after_until is None


async def test_retry_after_is_honoured_up_to_max_refresh_interval_and_only_on_429_and_503(
    issuer: LocalIssuer, clock: Clock, started_verifier: VerifierFactory
) -> None:
    async with started_verifier(jwks_uri=issuer.jwks_uri) as verifier:
        keys = verifier.key_store.lookup(issuer.url)
        assert keys is not None
        issuer.fail_with(503, headers={"Retry-After": "86400"})
        clock.advance(901)
        await keys.refresh()
        assert keys.state().retry_after_until == clock() + 3600

        issuer.fail_with(500, headers={"Retry-After": "86400"})
        await keys.refresh()
        assert keys.state().retry_after_until is None


@pytest.fixture
async def background_keys(
    issuer: LocalIssuer, clock: Clock, event_log: EventLog
) -> AsyncIterator[tuple[IssuerKeys, SteppedSleep]]:
    sleep = SteppedSleep(clock)
    keys = IssuerKeys(issuer.config(), fetcher=Fetcher(), events=Events(event_log), clock=clock, sleep=sleep)
    try:
        yield keys, sleep
    finally:
        await keys.stop()


async def test_the_background_refresher_refreshes_when_due_and_backs_off_on_failure(
    issuer: LocalIssuer, clock: Clock, background_keys: tuple[IssuerKeys, SteppedSleep]
) -> None:
    keys, sleep = background_keys
    await keys.start()
    assert jwks_requests(issuer) == 1

    # It sleeps until its slot in the interval (80 % of max-age 900 s), then fetches (a 304);
    # from then on it refreshes at that slot of every interval.
    assert EARLIEST * INTERVAL <= await sleep.next_delay() <= LATEST * INTERVAL
    sleep.release()
    assert await sleep.next_delay() == pytest.approx(INTERVAL)
    assert jwks_requests(issuer) == 2
    assert conditional_requests(issuer) != []

    # The issuer fails: retries after a quarter, a half, then a whole interval (stretched by up
    # to half), while the last good keys serve.
    issuer.fail_with(500)
    for failures, expected in enumerate((INTERVAL / 4, INTERVAL / 2, INTERVAL, INTERVAL), start=1):
        sleep.release()
        delay = await sleep.next_delay()
        assert expected <= delay <= 1.5 * expected
        assert keys.state().failures == failures
    assert keys.ready()

    # It is back: one success, and the next refresh is at the process's slot again.
    issuer.recover()
    sleep.release()
    assert EARLIEST * INTERVAL <= await sleep.next_delay() <= LATEST * INTERVAL
    assert keys.state().failures == 0

    await keys.stop()
    # Nothing more after stop(); the discovered JWKS URL was kept through the failures.
    assert (discovery_requests(issuer), jwks_requests(issuer)) == (1, 1 + 1 + 4 + 1)


async def test_an_on_demand_fetch_does_not_move_the_refreshers_slot(
    issuer: LocalIssuer, clock: Clock, background_keys: tuple[IssuerKeys, SteppedSleep]
) -> None:
    keys, sleep = background_keys
    await keys.start()
    slot_delay = await sleep.next_delay()
    slot = clock() + slot_delay
    # A rotation, well before the slot: every process of a fleet fetches in that same second,
    # and must not all refresh together from then on.
    clock.advance(max(0.0, slot_delay - 0.1 * INTERVAL) / 2)
    issuer.rotate()
    await keys.find_key(issuer.kid, "RS256")  # the new kid: fetched on demand
    assert jwks_requests(issuer) == 2
    assert keys.state().next_refresh == slot

    sleep.release()  # wakes at the slot: refreshes as planned
    assert await sleep.next_delay() == pytest.approx(INTERVAL)
    assert jwks_requests(issuer) == 3


async def test_an_on_demand_fetch_just_before_the_slot_skips_that_refresh(
    issuer: LocalIssuer, clock: Clock, background_keys: tuple[IssuerKeys, SteppedSleep]
) -> None:
    keys, sleep = background_keys
    await keys.start()
    slot_delay = await sleep.next_delay()
    clock.advance(slot_delay - 1)  # a second before the slot
    issuer.rotate()
    await keys.find_key(issuer.kid, "RS256")
    assert keys.state().next_refresh == pytest.approx(clock() + 1 + INTERVAL)  # no fetch back to back

    sleep.release()  # wakes at the old slot: not due any more, sleeps to the next one
    assert await sleep.next_delay() == pytest.approx(INTERVAL)
    assert jwks_requests(issuer) == 2
    sleep.release()
    assert await sleep.next_delay() == pytest.approx(INTERVAL)
    assert jwks_requests(issuer) == 3


async def test_an_unexpected_error_during_a_fetch_does_not_stop_the_refresher(
    issuer: LocalIssuer, clock: Clock, event_log: EventLog, caplog: pytest.LogCaptureFixture
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
        assert 1.0 <= await sleep.next_delay() <= 1.5  # still scheduled, with backoff
        sleep.release()
        assert 2.0 <= await sleep.next_delay() <= 3.0
        assert keys.state().failures == 2
        await keys.stop()
    assert "unexpected error while fetching the keys" in caplog.text


async def test_events_and_state_tell_what_the_key_store_did(
    issuer: LocalIssuer, clock: Clock, started_verifier: VerifierFactory, event_log: EventLog
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


async def test_an_injected_http_client_is_used_and_left_open(issuer: LocalIssuer, clock: Clock) -> None:
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
    issuer: LocalIssuer, clock: Clock
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
