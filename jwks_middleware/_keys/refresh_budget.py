"""`RefreshBudget`: how many fetches unknown `kid`s may cause, and which `kid`s earn one.

Two budgets, each refilled by one fetch per cooldown:
- the bucket (capacity 2) is spent by any fetch: the first unknown `kid`s, background
  refreshes, retries. A flood of random `kid`s gets one fetch per cooldown plus the spare.
- the repeated-`kid` budget (capacity 1) is spent only by a `kid` the bucket refused and that
  is presented again at least `REPEATED_KID_DELAY` later. A real rotation's new `kid` comes
  back again and again from valid clients, so it gets through within seconds even when a
  stray `kid` just emptied the bucket; a flood's random `kid`s never come back. A `kid` that a
  fetch proved unknown is denied this budget for `UNKNOWN_KID_MEMORY`, so a client that keeps
  sending a stray token cannot keep spending it.
At most 3 on-demand fetches in a burst, then 2 per cooldown, whatever the traffic.
"""

from __future__ import annotations

from collections.abc import Callable

from cachetools import TTLCache

from .._config import REPEATED_KID_DELAY, UNKNOWN_KID_CACHE_SIZE, UNKNOWN_KID_MEMORY, UNKNOWN_KID_TTL

__all__ = ["RefreshBudget"]

_BUCKET = 2.0
_REPEATED = 1.0


class RefreshBudget:
    """The on-demand fetch budgets of one issuer, and the `kid`s they remember."""

    def __init__(self, cooldown: float, clock: Callable[[], float]) -> None:
        self._cooldown = cooldown
        self._clock = clock
        self._bucket = _BUCKET
        self._repeated = _REPEATED
        self._filled_at = clock()
        #: kid -> when the bucket first refused it.
        self._refused: TTLCache[str, float] = TTLCache(
            UNKNOWN_KID_CACHE_SIZE, max(cooldown, 2 * REPEATED_KID_DELAY), timer=clock
        )
        #: kid -> when a fetch started after it arrived did not bring it.
        self._unknown: TTLCache[str, float] = TTLCache(
            UNKNOWN_KID_CACHE_SIZE, UNKNOWN_KID_MEMORY, timer=clock
        )

    def take(self, *, force: bool = False) -> bool:
        """Spend one fetch from the bucket, if it holds one; `force` takes it even from an empty one.

        Counted from the last *attempt*, background ones included, so a refresh that just failed
        is not repeated at once; the second fetch in the bucket lets a rotation published right
        after a background refresh through.
        """
        self._refill()
        if self._bucket < 1.0 and not force:
            return False
        self._bucket = max(0.0, self._bucket - 1.0)
        return True

    def take_for(self, kid: str) -> bool:
        """Spend a fetch for an unknown `kid`: from the bucket, or from the repeated-`kid` budget
        when the bucket refused this `kid` at least `REPEATED_KID_DELAY` ago."""
        if self.take():
            return True
        now = self._clock()
        first_refused = self._refused.get(kid)
        if first_refused is None:
            self._refused[kid] = now
            return False
        if now - first_refused < REPEATED_KID_DELAY or kid in self._unknown or self._repeated < 1.0:
            return False
        self._repeated -= 1.0
        del self._refused[kid]
        return True

    def recently_unknown(self, kid: str) -> bool:
        """Whether a fetch proved this `kid` unknown moments ago (refused without a fetch)."""
        proven = self._unknown.get(kid)
        return proven is not None and self._clock() - proven < UNKNOWN_KID_TTL

    def mark_unknown(self, kid: str) -> None:
        """A fetch started after this `kid` arrived did not bring it."""
        self._unknown[kid] = self._clock()

    def forget_unknown(self) -> None:
        """A new key set arrived: no `kid` is known to be unknown any more."""
        self._unknown.clear()

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._filled_at)  # a clock set back refills nothing
        grown = elapsed / self._cooldown if self._cooldown else _BUCKET
        self._bucket = min(_BUCKET, self._bucket + grown)
        self._repeated = min(_REPEATED, self._repeated + grown)
        self._filled_at = now
