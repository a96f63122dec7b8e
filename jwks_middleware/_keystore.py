"""`IssuerKeys`: one issuer's keys, kept fresh in the background and through outages.

Rules (DESIGN "Secure defaults", RFC 8725 section 3.10):
- keys are imported once per fetch into a new `KeyRing` that replaces the old one whole;
- an empty, non-JSON, non-200, oversize or redirecting answer never replaces good keys;
- after a failure the last good keys stay usable for `max_stale` past their freshness;
- an unknown `kid` triggers at most one refresh per cooldown (plus one spare so a real
  rotation gets through), shared by every waiter; when rate limited, refusal is immediate.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from cachetools import TTLCache

from ._config import (
    REFRESH_AT,
    REFRESH_JITTER,
    RETRY_FACTOR,
    RETRY_INITIAL,
    RETRY_MAX,
    UNKNOWN_KID_CACHE_SIZE,
    UNKNOWN_KID_TTL,
)
from ._errors import KeysUnavailableError, StaleKeysError, UnknownKeyError
from ._events import Events, logger
from ._fetch import Fetcher, FetchError, discover_jwks_uri, get_issuer_document
from ._issuer import Issuer
from ._keyring import KeyRing
from ._keys import SkippedKey, VerificationKey, import_key_set

__all__ = ["IssuerKeys", "IssuerState"]

KeysRemoved = Callable[[frozenset[VerificationKey]], None]
Sleep = Callable[[float], Awaitable[object]]
# How an on-demand refresh went: this caller started the fetch, joined one already under way,
# or was refused by the cooldown (nothing fetched).
_Refreshed = Literal["started", "joined", "cooldown"]


@dataclass(frozen=True)
class IssuerState:
    """A snapshot of one issuer's key store, for health checks and the command line."""

    issuer: str
    ready: bool
    key_ids: tuple[str | None, ...]
    skipped: tuple[SkippedKey, ...]
    jwks_uri: str | None
    last_success: float | None
    age: float | None
    failures: int
    last_error: str | None
    fresh_until: float | None
    usable_until: float | None
    #: When the background refresher fetches next (after a failure: the backoff's retry time).
    next_refresh: float | None = None


class IssuerKeys:
    """Keys of one issuer: loaded on demand or at start-up, then refreshed in the background."""

    def __init__(
        self,
        issuer: Issuer,
        *,
        fetcher: Fetcher,
        events: Events,
        clock: Callable[[], float],
        on_keys_removed: KeysRemoved | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.issuer = issuer
        self._fetcher = fetcher
        self._events = events
        self._clock = clock
        self._sleep = sleep  # the background refresher's wait, in `clock` seconds
        self._on_keys_removed = on_keys_removed
        self._ring: KeyRing | None = None
        self._skipped: tuple[SkippedKey, ...] = ()
        self._jwks_uri = issuer.jwks_uri
        self._etag: str | None = None
        self._last_success: float | None = None
        self._fresh_until = 0.0
        #: Keys may be used until then; past it they are too stale to trust.
        self.usable_until = float("inf")
        self._failures = 0
        self._last_error: str | None = None
        self._next_refresh = 0.0
        # Token bucket of on-demand refreshes: capacity 2, one more per cooldown.
        self._allowance = 2.0
        self._allowance_at = clock()
        self._unknown_kids: TTLCache[str, bool] = TTLCache(
            UNKNOWN_KID_CACHE_SIZE, UNKNOWN_KID_TTL, timer=clock
        )
        self._inflight: asyncio.Task[None] | None = None
        self._background: asyncio.Task[None] | None = None
        if issuer.static_keys is not None:
            self._ring = KeyRing(issuer.static_keys, issuer.algorithms)

    # -- the request path -------------------------------------------------------------

    async def find_key(self, kid: str | None, alg: str) -> VerificationKey:
        """The key for a token header; refreshes at most as the cooldown allows."""
        # Cheap when it runs already; restarts a refresher that was never started (no lifespan)
        # or whose event loop is gone, so loaded keys keep being refreshed in the background.
        self.ensure_background()
        ring = await self._usable_ring()
        try:
            return ring.find(kid, alg)
        except UnknownKeyError:
            if kid is None or kid in ring.kids or not self.issuer.fetches_keys:
                raise
        self._events.emit("unknown_kid", self.issuer.issuer, f"kid {kid[:64]!r}")
        if kid in self._unknown_kids:
            raise UnknownKeyError(f"kid {kid[:64]!r} is not in the key set (checked moments ago)")
        refreshed = await self._refresh_on_demand()
        if refreshed == "cooldown":
            self._events.emit("refresh_cooldown", self.issuer.issuer, "unknown kid refused without a fetch")
            raise UnknownKeyError(f"kid {kid[:64]!r} is not in the key set; refresh is cooling down")
        ring = await self._usable_ring()
        try:
            return ring.find(kid, alg)
        except UnknownKeyError:
            # Only a fetch started after this token arrived proves the kid unknown: one joined
            # midway may have begun before the issuer published the key.
            if refreshed == "started":
                self._unknown_kids[kid] = True
            raise

    async def _usable_ring(self) -> KeyRing:
        ring = self._ring
        if ring is not None and self._clock() <= self.usable_until:
            return ring
        await self._refresh_on_demand()
        ring = self._ring
        if ring is None:
            why = self._last_error or "the fetch was stopped or is cooling down"
            raise KeysUnavailableError(f"keys of {self.issuer.issuer} could not be loaded: {why}")
        if self._clock() > self.usable_until:
            raise StaleKeysError(f"keys are older than max_stale; last error: {self._last_error}")
        return ring

    async def _refresh_on_demand(self) -> _Refreshed:
        """Join the running refresh, or start one if the cooldown allows."""
        task = self._running_fetch()
        refreshed: _Refreshed = "joined"
        if task is None:
            if not self._take_allowance():
                return "cooldown"
            task, refreshed = self._start_fetch(), "started"
        await _join(task)
        return refreshed

    def _take_allowance(self, *, force: bool = False) -> bool:
        """Token bucket of fetches: capacity 2, one more per cooldown; each attempt takes one.

        Counted from the last *attempt*, background ones included, so a refresh that just
        failed is not repeated at once; the second token lets a rotation published right
        after a background refresh through. `force` takes one even from an empty bucket.
        """
        now = self._clock()
        cooldown = self.issuer.refresh_cooldown
        elapsed = max(0.0, now - self._allowance_at)  # a clock set back refills nothing
        allowance = min(2.0, self._allowance + (elapsed / cooldown if cooldown else 2.0))
        self._allowance_at = now
        if allowance < 1.0 and not force:
            self._allowance = allowance
            return False
        self._allowance = max(0.0, allowance - 1.0)
        return True

    def _running_fetch(self) -> asyncio.Task[None] | None:
        task = self._inflight
        if task is None or task.done() or task.get_loop() is not asyncio.get_running_loop():
            return None
        return task

    # -- refreshing -------------------------------------------------------------------

    async def refresh(self) -> None:
        """Fetch the key set now, sharing a fetch already under way (single flight).

        Failures are recorded (`state()`, events), never raised: the last good keys stay.
        """
        if not self.issuer.fetches_keys:
            return
        task = self._running_fetch()
        if task is None:
            self._take_allowance(force=True)
            task = self._start_fetch()
        await _join(task)

    def _start_fetch(self) -> asyncio.Task[None]:
        task = self._inflight = asyncio.get_running_loop().create_task(self._fetch_and_swap())
        return task

    async def _fetch_and_swap(self) -> None:
        issuer = self.issuer
        try:
            async with self._fetcher.session() as client:
                if self._jwks_uri is None:
                    _, self._jwks_uri = await discover_jwks_uri(client, issuer)
                fetched = await get_issuer_document(
                    client, issuer, self._jwks_uri, etag=self._etag if self._ring is not None else None
                )
                if fetched.not_modified:
                    self._events.emit("keys_not_modified", issuer.issuer, self._jwks_uri)
                else:
                    self._swap(fetched.document)
        except (FetchError, ValueError) as error:
            self._failed(str(error))
            return
        except Exception as error:  # noqa: BLE001
            # Whatever the network or a document throws at us, the refresher must survive and
            # the last good keys stay (an odd URL in a discovery document, a transport bug).
            logger.exception("unexpected error while fetching the keys of %s", issuer.issuer)
            self._failed(f"unexpected {type(error).__name__}")
            return
        now = self._clock()
        self._etag = fetched.etag
        self._last_success = now
        self._failures, self._last_error = 0, None
        self._fresh_until = now + fetched.max_age
        self.usable_until = self._fresh_until + issuer.max_stale
        self._next_refresh = now + fetched.max_age * REFRESH_AT * _jitter()

    def _swap(self, document: object) -> None:
        issuer = self.issuer
        imported = import_key_set(document, max_keys=issuer.max_keys)
        for skipped in imported.skipped:
            self._events.emit("key_skipped", issuer.issuer, f"kid {skipped.kid!r}: {skipped.reason}")
        if not imported.keys:
            raise FetchError("the key set holds no usable signing key")
        old = self._ring.keys if self._ring is not None else ()
        # Unchanged keys keep their identity, so tokens they verified stay cached.
        kept = {_identity(key): key for key in old}
        keys = [kept.get(_identity(key), key) for key in imported.keys]
        removed = frozenset(old) - frozenset(keys)
        self._ring = KeyRing(keys, issuer.algorithms)
        self._skipped = imported.skipped
        self._unknown_kids.clear()
        self._events.emit("keys_fetched", issuer.issuer, f"{len(keys)} keys from {self._jwks_uri}")
        if removed and self._on_keys_removed is not None:
            self._on_keys_removed(removed)

    def _failed(self, error: str) -> None:
        now = self._clock()
        self._failures += 1
        self._last_error = error
        if self.issuer.jwks_uri is None:
            self._jwks_uri = None  # discover again next time: the JWKS may have moved
        delay = min(RETRY_MAX, RETRY_INITIAL * RETRY_FACTOR ** (self._failures - 1))
        self._next_refresh = now + delay * _jitter()
        self._events.emit("fetch_failed", self.issuer.issuer, error)
        if self._ring is not None:
            kind = "stale_keys_in_use" if now <= self.usable_until else "keys_expired"
            self._events.emit(
                kind, self.issuer.issuer, f"last success {now - (self._last_success or now):.0f} s ago"
            )

    # -- background -------------------------------------------------------------------

    def ensure_background(self) -> None:
        """Start the refresher on the running event loop unless it runs already."""
        if not self.issuer.fetches_keys:
            return
        task = self._background
        loop = asyncio.get_running_loop()
        if task is None or task.done() or task.get_loop() is not loop:
            self._background = loop.create_task(self._run())

    async def _run(self) -> None:
        while True:
            await self._sleep(max(0.0, self._next_refresh - self._clock()))
            # Not due when an on-demand refresh (a new kid) moved the schedule meanwhile.
            if self.due():
                await self.refresh()

    async def start(self) -> None:
        """Load keys now (failures are logged, not raised) and start the background refresher."""
        if self._ring is None:
            await self.refresh()
        self.ensure_background()

    async def stop(self) -> None:
        """Stop the background refresher and any fetch under way."""
        for task in (self._background, self._inflight):
            if task is not None and not task.done() and task.get_loop() is asyncio.get_running_loop():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._background = self._inflight = None

    def stop_soon(self) -> None:
        """Cancel the background refresher without waiting (an evicted issuer)."""
        task = self._background
        if task is not None and not task.done() and not task.get_loop().is_closed():
            task.get_loop().call_soon_threadsafe(task.cancel)

    # -- state ------------------------------------------------------------------------

    def ready(self) -> bool:
        """Whether usable keys are loaded."""
        return self._ring is not None and self._clock() <= self.usable_until

    def due(self) -> bool:
        """Whether a background refresh is due (for tests and schedulers)."""
        return self._clock() >= self._next_refresh

    def state(self) -> IssuerState:
        now = self._clock()
        ring = self._ring
        return IssuerState(
            issuer=self.issuer.issuer,
            ready=self.ready(),
            key_ids=tuple(key.kid for key in ring.keys) if ring else (),
            skipped=self._skipped,
            jwks_uri=self._jwks_uri,
            last_success=self._last_success,
            age=None if self._last_success is None else now - self._last_success,
            failures=self._failures,
            last_error=self._last_error,
            fresh_until=self._fresh_until if self._last_success is not None else None,
            usable_until=self.usable_until if self._last_success is not None else None,
            next_refresh=self._next_refresh if self.issuer.fetches_keys else None,
        )


async def _join(task: asyncio.Task[None]) -> None:
    """Wait for a shared fetch. Unlike awaiting it (or a shield of it), a waiter that goes away
    (client disconnect) does not cancel it, and a fetch stopped by `stop()` (shutdown) ends the
    wait without raising CancelledError into requests that were not cancelled themselves."""
    await asyncio.wait((task,))


def _identity(key: VerificationKey) -> tuple[str | None, str, frozenset[str]]:
    return key.kid, key.thumbprint, key.algorithms


def _jitter() -> float:
    # Spreads refreshes of many workers; not security sensitive.
    return 1.0 - REFRESH_JITTER + 2 * REFRESH_JITTER * random.random()  # noqa: S311
