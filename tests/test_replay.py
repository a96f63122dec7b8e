"""The in-memory replay store: remembers each proof for its window, bounded, and never
forgets a proof it could then accept again."""

from __future__ import annotations

import pytest
from support import NOW, Clock

from jwks_middleware._replay import DEFAULT_REPLAY_STORE_SIZE, MemoryReplayStore, ReplayStore

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clock() -> Clock:
    return Clock()


async def test_a_key_is_new_once(clock: Clock) -> None:
    store = MemoryReplayStore(clock=clock)
    assert await store.add("a", NOW + 60)
    assert not await store.add("a", NOW + 60)
    assert await store.add("b", NOW + 60)


async def test_a_key_is_remembered_until_its_expiry(clock: Clock) -> None:
    store = MemoryReplayStore(clock=clock)
    await store.add("a", NOW + 60.5)
    clock.now = NOW + 60.5
    assert not await store.add("a", NOW + 200)
    clock.now = NOW + 61.5
    assert await store.add("a", NOW + 200)


async def test_expired_keys_are_dropped(clock: Clock) -> None:
    store = MemoryReplayStore(clock=clock)
    for index in range(100):
        await store.add(f"k{index}", NOW + index)
    clock.now = NOW + 50.5
    await store.add("new", NOW + 300)
    assert store.size == 50  # keys expiring at 51 ... 99, and the new one


async def test_a_store_left_alone_for_long_empties_at_the_next_use(clock: Clock) -> None:
    store = MemoryReplayStore(clock=clock)
    for index in range(10):
        await store.add(f"k{index}", NOW + 10 * index)
    await store.add("far", NOW + 10**6)
    clock.now = NOW + 86_400
    assert await store.add("k0", NOW + 86_500)
    assert store.size == 2
    assert not await store.add("far", NOW + 86_500)


async def test_the_store_never_grows_past_its_bound(clock: Clock) -> None:
    store = MemoryReplayStore(3, clock=clock)
    for index in range(10):
        assert await store.add(f"k{index}", NOW + 60 + index)
    assert store.size == 3


async def test_when_full_the_soonest_expiring_key_is_evicted(clock: Clock) -> None:
    store = MemoryReplayStore(2, clock=clock)
    await store.add("late", NOW + 90)
    await store.add("early", NOW + 30)
    assert await store.add("new", NOW + 60)
    assert not await store.add("late", NOW + 90)  # still remembered


async def test_an_evicted_key_is_never_new_again(clock: Clock) -> None:
    # Evicting early must not open a replay: keys expiring no later than it are refused.
    store = MemoryReplayStore(2, clock=clock)
    await store.add("early", NOW + 30)
    await store.add("late", NOW + 90)
    await store.add("new", NOW + 60)  # evicts "early"
    assert not await store.add("early", NOW + 30)
    assert not await store.add("other-old", NOW + 29)
    assert await store.add("fresh", NOW + 95)


async def test_a_new_key_that_would_be_evicted_first_is_accepted_once(clock: Clock) -> None:
    store = MemoryReplayStore(2, clock=clock)
    await store.add("a", NOW + 60)
    await store.add("b", NOW + 90)
    assert await store.add("older", NOW + 30)
    assert not await store.add("older", NOW + 30)
    assert store.size == 2


async def test_a_flood_refuses_only_the_oldest_proofs(clock: Clock) -> None:
    # 1000 proofs a second into a store of 500: proofs made before the last half second are
    # refused, a proof made now still passes (its window ends last).
    store = MemoryReplayStore(500, clock=clock)
    for second in range(3):
        clock.now = NOW + second
        for index in range(1000):
            await store.add(f"{second}-{index}", clock.now + 300)
    assert await store.add("honest", clock.now + 301)
    assert not await store.add("a-proof-of-two-seconds-ago", clock.now + 298)
    assert store.size == 500


async def test_keys_are_kept_by_whole_seconds_never_shorter(clock: Clock) -> None:
    store = MemoryReplayStore(clock=clock)
    await store.add("a", NOW + 10.2)
    clock.now = NOW + 10.9
    assert not await store.add("a", NOW + 20)


def test_the_memory_store_is_a_replay_store() -> None:
    assert isinstance(MemoryReplayStore(), ReplayStore)


def test_the_bound_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_entries"):
        MemoryReplayStore(0)


def test_the_store_describes_itself() -> None:
    assert (
        repr(MemoryReplayStore()) == f"MemoryReplayStore(max_entries={DEFAULT_REPLAY_STORE_SIZE}, entries=0)"
    )
