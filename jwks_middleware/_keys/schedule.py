"""`RefreshSchedule`: when one process refreshes an issuer's keys in the background.

A fleet of processes, each with its own key store, must stay gentle with one issuer:
- each process owns a random slot (`phase`) within the refresh interval and refreshes at
  that slot of every interval, whatever happened before: after a deploy, a restart, a rotation
  or a recovery, which the whole fleet lives at once, the next refreshes still spread over the
  whole interval instead of bunching (the interval is a share of `max-age`, capped);
- a failed fetch is retried sooner, but never more often than the schedule of
  `_retry_delay`, and never before a `Retry-After` the issuer sent.
"""

from __future__ import annotations

import math
import random

from .._config import (
    REFRESH_AT,
    REFRESH_GAP,
    RETRY_FACTOR,
    RETRY_INITIAL,
    RETRY_SPREAD,
    RETRY_WITH_KEYS,
)

__all__ = ["RefreshSchedule"]


class RefreshSchedule:
    """Next background refresh times of one issuer in one process (times in `clock` seconds)."""

    def __init__(self, max_interval: float, *, phase: float | None = None) -> None:
        self.max_interval = max_interval
        # Not security sensitive: it only spreads the processes of a fleet over the interval.
        self.phase = random.random() if phase is None else phase  # noqa: S311

    def interval(self, lifetime: float) -> float:
        """Time between two refreshes: most of the key set's lifetime, at most `max_interval`."""
        return min(REFRESH_AT * lifetime, self.max_interval)

    def after_success(self, now: float, lifetime: float) -> float:
        """This process's next slot, at least a small gap after the fetch that just ended.

        Slots are `phase` of the way into each interval, counted from the epoch, so they do not
        move with the fetch: a routine refresh lands on the next slot exactly one interval later.
        """
        interval = self.interval(lifetime)
        offset = self.phase * interval
        periods = math.ceil((now + REFRESH_GAP * interval - offset) / interval)
        return periods * interval + offset

    def after_failure(
        self, now: float, failures: int, lifetime: float, *, has_keys: bool, hold: float | None = None
    ) -> float:
        """When to try again after `failures` failed fetches in a row; never within `hold`
        seconds (a `Retry-After`, as `honoured`)."""
        interval = self.interval(lifetime)
        delay = _retry_delay(failures, interval, has_keys=has_keys)
        delay *= 1.0 + RETRY_SPREAD * random.random()  # noqa: S311 - spreads retries only
        return now + max(delay, hold or 0.0)

    def honoured(self, retry_after: float | None) -> float | None:
        """How much of a `Retry-After` is honoured: all of it, up to `max_interval`."""
        return None if retry_after is None else min(retry_after, self.max_interval)


def _retry_delay(failures: int, interval: float, *, has_keys: bool) -> float:
    # Without keys nothing can be verified: retry within seconds. With the last good keys in
    # use, nothing is urgent: start at a share of the interval, so that an outage costs the
    # issuer at most about twice the requests of normal times.
    first = RETRY_WITH_KEYS * interval if has_keys else RETRY_INITIAL
    return min(interval, first * RETRY_FACTOR ** min(failures - 1, 64))
