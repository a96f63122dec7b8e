"""A fleet of processes, each with its own key store, stays gentle with one issuer: the
refreshes after anything the whole fleet lives at once spread over the whole interval, keys
published ahead of use reach everyone before use, and an outage costs at most twice the
requests of normal times. Counted in requests, in virtual time."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterator

import pytest
from fleet_support import HOUR, Fleet
from support import Clock

from jwks_middleware.testing import LocalIssuer

pytestmark = pytest.mark.anyio

#: Members of the fleet (benchmarks/bench_fleet.py measures 1,000; fewer keep this quick).
SIZE = 250
#: The issuer's `max-age` (900 s): refreshes come every 80 % of it.
INTERVAL = 720.0
WINDOW = INTERVAL / 5
OUTAGE = 45 * 60.0


@pytest.fixture(autouse=True)
def seeded() -> Iterator[None]:
    """Counts are reproducible: each member's random slot comes from a seeded generator."""
    state = random.getstate()
    random.seed(20240601)
    yield
    random.setstate(state)


@pytest.fixture
def local_issuer(clock: Clock) -> LocalIssuer:
    return LocalIssuer(clock=clock)


@pytest.fixture
async def fleet(local_issuer: LocalIssuer, clock: Clock) -> AsyncIterator[Fleet]:
    fleet = Fleet(SIZE, local_issuer, clock, jwks_uri=local_issuer.jwks_uri)
    yield fleet
    await fleet.aclose()


def steady(fleet: Fleet, start: float, end: float) -> float:
    """Requests per window in [start, end)."""
    return fleet.transport.count(start, end) / ((end - start) / WINDOW)


async def test_after_a_fleet_restart_the_refreshes_spread_over_the_whole_interval(
    fleet: Fleet, clock: Clock
) -> None:
    await fleet.start()  # the whole fleet restarts in the same second
    started = clock()
    assert fleet.transport.count(started, started + 1) == SIZE
    end = started + 1 + 4 * INTERVAL
    await fleet.run_until(end)

    # No window much busier than the average one, and one refresh per member per interval (the
    # first one 10-110 % of an interval after the restart).
    assert fleet.transport.busiest(started + 1, end, WINDOW) <= 1.4 * steady(fleet, started + 1, end)
    assert 3.8 * SIZE <= fleet.transport.count(started + 1, end) <= 4 * SIZE


async def test_after_an_immediate_rotation_the_refreshes_stay_spread(
    fleet: Fleet, local_issuer: LocalIssuer, clock: Clock
) -> None:
    await fleet.start()
    await fleet.run_until(clock() + 2 * INTERVAL)
    new_kid = local_issuer.rotate()  # published and used at once: every member fetches now
    rotated = clock()
    for member in fleet.members:
        assert (await member.find_key(new_kid, "RS256")).kid == new_kid
    assert fleet.transport.count(rotated, rotated + 1) == SIZE

    end = rotated + 1 + 3 * INTERVAL
    await fleet.run_until(end)
    assert fleet.transport.busiest(rotated + 1, end, WINDOW) <= 1.4 * steady(fleet, rotated + 1, end)


async def test_a_45_minute_outage_costs_at_most_twice_the_requests_of_45_normal_minutes(
    fleet: Fleet, clock: Clock
) -> None:
    await fleet.start()
    await fleet.run_until(clock() + 2 * INTERVAL)
    normal_start = clock()
    await fleet.run_until(normal_start + OUTAGE)
    normal = fleet.transport.count(normal_start, normal_start + OUTAGE)

    fleet.transport.outage = 503
    outage_start = clock()
    await fleet.run_until(outage_start + OUTAGE)
    during = fleet.transport.count(outage_start, outage_start + OUTAGE)
    assert all(member.ready() for member in fleet.members)  # the last good keys serve
    assert during <= 2 * normal

    # Back: everyone recovers within an interval, without bunching afterwards.
    fleet.transport.outage = None
    recovered = clock()
    await fleet.run_until(recovered + INTERVAL * 1.5)
    assert all(member.state().failures == 0 for member in fleet.members)
    end = clock() + 3 * INTERVAL
    after = clock()
    await fleet.run_until(end)
    assert fleet.transport.busiest(after, end, WINDOW) <= 1.4 * steady(fleet, after, end)


async def test_an_outage_answering_retry_after_is_asked_no_sooner(fleet: Fleet, clock: Clock) -> None:
    await fleet.start()
    await fleet.run_until(clock() + 2 * INTERVAL)
    fleet.transport.outage, fleet.transport.retry_after = 429, "1800"
    outage_start = clock()
    await fleet.run_until(outage_start + OUTAGE)
    # Each member fails once at its slot, then waits the 30 minutes it was asked to.
    assert fleet.transport.count(outage_start, outage_start + OUTAGE) <= 2 * SIZE


async def test_keys_published_an_hour_before_use_reach_every_member_before_use(
    fleet: Fleet, local_issuer: LocalIssuer, clock: Clock
) -> None:
    fleet.transport.max_age = 86400  # the issuer says: look again tomorrow
    await fleet.start()
    await fleet.run_until(clock() + 2 * HOUR)
    day_start = clock()
    next_kid = local_issuer.publish_next_key()
    await fleet.run_until(clock() + HOUR)  # every member refreshed once (304s until the publication)
    assert all(next_kid in member.state().key_ids for member in fleet.members)
    # About one request per member per hour: 24 a day, where max-age alone would make it 1.
    assert fleet.transport.count(day_start - 2 * HOUR + 1, day_start + HOUR) <= 3 * SIZE

    local_issuer.switch_signer()
    first_use = clock()
    for member in fleet.members:
        assert (await member.find_key(next_kid, "RS256")).kid == next_kid
    assert fleet.transport.count(first_use, first_use + 1) == 0
