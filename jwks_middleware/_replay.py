"""Replay stores: remember each DPoP proof's `jti` for as long as the proof could be accepted.

RFC 9449 section 11.1: a server detects replay by storing the `jti` of every proof it
accepted for the time window in which that proof would be accepted. `ReplayStore` is the
interface; `MemoryReplayStore` serves one process; `jwks_middleware.redis.RedisReplayStore`
serves a fleet (several workers or pods behind one hostname), where a proof replayed to
another worker is only caught by a store they share.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Final, Protocol, runtime_checkable

__all__ = ["DEFAULT_REPLAY_STORE_SIZE", "MemoryReplayStore", "ReplayStore"]

#: Most proofs a `MemoryReplayStore` remembers (about 20 MB of memory).
DEFAULT_REPLAY_STORE_SIZE: Final = 100_000


@runtime_checkable
class ReplayStore(Protocol):
    """Where the `jti` of accepted proofs is remembered (RFC 9449 section 11.1)."""

    async def add(self, key: str, expires_at: float) -> bool:
        """Remember `key` until `expires_at` (seconds since the epoch), atomically: True if it
        was new, False if it was already there or cannot be told apart from a replay.
        Raise on a failure of the store itself (the proof is then refused)."""
        ...


class MemoryReplayStore:
    """A bounded, expiring in-process `ReplayStore`: right for a single process.

    Entries are kept by the second of their expiry (rounded up, so never dropped early by
    rounding) in buckets, and dropped bucket by bucket as time passes: each call costs O(1)
    amortized, and the store never holds more than `max_entries` keys.

    When full, the entry that expires soonest (the oldest proof) is evicted, and from then on
    the store answers "not new" for every key expiring no later than the evicted one: a
    proof it may have forgotten is refused rather than replayed. Under a flood of accepted
    proofs this shortens the window of accepted proofs (the oldest are refused first) instead
    of either forgetting proofs or refusing fresh ones; an honest client sends a proof within
    a second of making it and is not affected until the flood fills the store within a second.
    """

    __slots__ = ("_buckets", "_clock", "_expiry", "_forgotten_until", "_low", "_max_entries")

    def __init__(
        self, max_entries: int = DEFAULT_REPLAY_STORE_SIZE, *, clock: Callable[[], float] = time.time
    ):
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._max_entries = max_entries
        self._clock = clock
        self._expiry: dict[str, int] = {}  # key -> second it expires at
        self._buckets: dict[int, list[str]] = {}  # second -> keys expiring then
        self._low = 0  # no bucket is older than this second
        # Keys expiring at or before this second may have been evicted: never "new" again.
        self._forgotten_until = -math.inf

    @property
    def size(self) -> int:
        """How many proofs are remembered now (expired ones go at the next `add`)."""
        return len(self._expiry)

    def __repr__(self) -> str:
        return f"MemoryReplayStore(max_entries={self._max_entries}, entries={len(self._expiry)})"

    async def add(self, key: str, expires_at: float) -> bool:
        """Remember `key` until `expires_at`; True if it was new (see the class docstring)."""
        self._drop_expired(self._clock())
        second = math.ceil(expires_at)
        if key in self._expiry or second <= self._forgotten_until:
            return False
        if len(self._expiry) >= self._max_entries:
            oldest = self._oldest_bucket()
            if second <= oldest:
                # The new entry would be the first evicted: accept it without keeping it.
                self._forgotten_until = second
                return True
            self._evict_one(oldest)
            self._forgotten_until = max(self._forgotten_until, oldest)
        self._expiry[key] = second
        bucket = self._buckets.get(second)
        if bucket is None:
            self._buckets[second] = [key]
            self._low = min(self._low, second)
        else:
            bucket.append(key)
        return True

    def _drop_expired(self, now: float) -> None:
        buckets = self._buckets
        if not buckets:
            self._low = math.floor(now)
            return
        if now - self._low > len(buckets):  # after a quiet spell: fewer buckets than seconds
            for second in [second for second in buckets if second < now]:
                for key in buckets.pop(second):
                    del self._expiry[key]
            self._low = min(buckets, default=math.floor(now))
            return
        # Each second is walked once, and each key dropped once: O(1) amortized per call.
        while self._low < now and buckets:
            for key in buckets.pop(self._low, ()):
                del self._expiry[key]
            self._low += 1

    def _oldest_bucket(self) -> int:
        while self._low not in self._buckets:
            self._low += 1
        return self._low

    def _evict_one(self, second: int) -> None:
        bucket = self._buckets[second]
        del self._expiry[bucket.pop()]
        if not bucket:
            del self._buckets[second]
