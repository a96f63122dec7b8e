"""`IssuerKeys`: one issuer's keys, kept fresh in the background and through outages.

Rules (DESIGN "Secure defaults", RFC 8725 section 3.10):
- keys are imported once per fetch into a new `KeyRing` that replaces the old one whole;
- an empty, non-JSON, non-200, oversize or redirecting answer never replaces good keys;
- after a failure the last good keys stay usable for `max_stale` past their freshness;
- unknown `kid`s trigger refreshes only as `RefreshBudget` allows, shared by every waiter;
  when it refuses, the refusal is immediate;
- background refreshes and retries follow `RefreshSchedule`; a `Retry-After` holds every
  fetch back, and each refresh ends by `fetch_deadline`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final, Literal

from .._config import DEFAULT_KEYS_MAX_AGE
from .._errors import KeysUnavailableError, StaleKeysError, UnknownKeyError
from .._events import Events, logger
from .._issuer import Issuer
from .._jwk import SkippedKey, VerificationKey, import_key_set
from .fetch import Fetcher, FetchError, deadline_of, discover_jwks_uri, get_issuer_document
from .refresh_budget import RefreshBudget
from .ring import KeyRing
from .schedule import RefreshSchedule

__all__ = ["IssuerKeys", "IssuerState"]

KeysRemoved = Callable[[frozenset[VerificationKey]], None]
Sleep = Callable[[float], Awaitable[object]]
# How an on-demand refresh went: this caller started the fetch, joined one already under way,
# or was refused by the cooldown (nothing fetched).
_Refreshed = Literal["started", "joined", "cooldown"]
#: Answers of a JWKS URL that say the key set is not there any more: discover it again (once
#: per run of failures, so an outage that answers 404 does not double the requests).
_MOVED: Final = frozenset({301, 308, 404, 410})


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
    #: No fetch before this time: the issuer answered 429 or 503 with `Retry-After`.
    retry_after_until: float | None = None


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
        self._fetch_started = 0.0
        self._clock = clock
        self._sleep = sleep  # the background refresher's wait, in `clock` seconds
        self._on_keys_removed = on_keys_removed
        self._ring: KeyRing | None = None
        self._skipped: tuple[SkippedKey, ...] = ()
        self._jwks_uri = issuer.jwks_uri
        self._rediscovered = False  # in this run of failures
        self._etag: str | None = None
        self._lifetime = float(DEFAULT_KEYS_MAX_AGE)
        self._last_success: float | None = None
        self._fresh_until = 0.0
        #: Keys may be used until then; past it they are too stale to trust.
        self.usable_until = float("inf")
        self._failures = 0
        self._last_error: str | None = None
        self._next_refresh = 0.0
        self._retry_after_until: float | None = None
        self._schedule = RefreshSchedule(issuer.max_refresh_interval)
        self._budget = RefreshBudget(issuer.refresh_cooldown, clock)
        self._http_warned = False
        self._inflight: asyncio.Task[None] | None = None
        self._background: asyncio.Task[None] | None = None
        self._fetches_keys = issuer.fetches_keys
        if issuer.static_keys is not None:
            self._ring = KeyRing(issuer.static_keys, issuer.algorithms)

    # -- the request path -------------------------------------------------------------

    def loaded_key(self, kid: str | None, alg: str) -> VerificationKey | None:
        """The key for a token header when the loaded keys are usable and hold it, else None
        (then `find_key`, which may refresh): the common case, without awaiting anything."""
        ring = self._ring
        if ring is None or self._clock() > self.usable_until:
            return None
        self.ensure_background()
        return ring.find_loaded(kid, alg)

    async def find_key(self, kid: str | None, alg: str) -> VerificationKey:
        """The key for a token header; refreshes at most as the cooldown allows."""
        # Cheap when it runs already; restarts a refresher that was never started (no lifespan)
        # or whose event loop is gone, so loaded keys keep being refreshed in the background.
        self.ensure_background()
        ring = await self._usable_ring()
        try:
            return ring.find(kid, alg)
        except UnknownKeyError:
            if kid is None or kid in ring.kids or not self._fetches_keys:
                raise
        self._events.emit("unknown_kid", self.issuer.issuer, f"kid {kid[:64]!r}")
        if self._budget.recently_unknown(kid):
            raise UnknownKeyError(f"kid {kid[:64]!r} is not in the key set (checked moments ago)")
        refreshed = await self._refresh_on_demand(kid)
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
                self._budget.mark_unknown(kid)
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

    async def _refresh_on_demand(self, kid: str | None = None) -> _Refreshed:
        """Join the running refresh, or start one if the budget (and `Retry-After`) allows."""
        task = self._running_fetch()
        refreshed: _Refreshed = "joined"
        if task is None:
            held_back = self._retry_after_until is not None and self._clock() < self._retry_after_until
            if held_back or not (self._budget.take() if kid is None else self._budget.take_for(kid)):
                return "cooldown"
            task, refreshed = self._start_fetch(), "started"
        await _join(task)
        return refreshed

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
        if not self._fetches_keys:
            return
        task = self._running_fetch()
        if task is None:
            self._budget.take(force=True)
            task = self._start_fetch()
        await _join(task)

    def _start_fetch(self) -> asyncio.Task[None]:
        if self.issuer.allow_http and not self._http_warned:
            self._http_warned = True
            self._events.emit(
                "plain_http_allowed",
                self.issuer.issuer,
                "allow_http=True: keys may be fetched over plain http, open to anyone on the network path",
            )
        task = self._inflight = asyncio.get_running_loop().create_task(self._fetch_and_swap())
        return task

    async def _fetch_and_swap(self) -> None:
        issuer = self.issuer
        self._fetch_started = time.perf_counter()  # for the events' `duration`
        deadline = deadline_of(issuer)  # one deadline for the whole refresh, discovery included
        try:
            async with self._fetcher.session() as client:
                if self._jwks_uri is None:
                    _, self._jwks_uri = await discover_jwks_uri(client, issuer, deadline=deadline)
                etag = self._etag if self._ring is not None else None
                fetched = await get_issuer_document(
                    client, issuer, self._jwks_uri, etag=etag, deadline=deadline
                )
                if fetched.not_modified:
                    self._events.emit(
                        "keys_not_modified", issuer.issuer, self._jwks_uri, duration=self._fetch_time()
                    )
                else:
                    self._swap(fetched.document)
        except FetchError as error:
            self._failed(str(error), error)
            return
        except ValueError as error:
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
        if fetched.max_age is not None:  # None: a 304 that keeps the stored lifetime
            self._lifetime = fetched.max_age
        self._last_success = now
        self._failures, self._last_error = 0, None
        self._rediscovered, self._retry_after_until = False, None
        self._fresh_until = now + self._lifetime
        self.usable_until = self._fresh_until + issuer.max_stale
        self._next_refresh = self._schedule.after_success(now, self._lifetime)

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
        self._budget.forget_unknown()
        self._events.emit(
            "keys_fetched",
            issuer.issuer,
            f"{len(keys)} keys from {self._jwks_uri}",
            duration=self._fetch_time(),
        )
        if removed and self._on_keys_removed is not None:
            self._on_keys_removed(removed)

    def _fetch_time(self) -> float:
        return time.perf_counter() - self._fetch_started

    def _failed(self, error: str, fetch_error: FetchError | None = None) -> None:
        now = self._clock()
        self._failures += 1
        self._last_error = error
        status = fetch_error.status if fetch_error is not None else None
        moved = status in _MOVED and self._jwks_uri is not None and self.issuer.jwks_uri is None
        if moved and not self._rediscovered:  # the discovered JWKS is gone: discover it again
            self._jwks_uri, self._rediscovered = None, True
        hold = self._schedule.honoured(fetch_error.retry_after if fetch_error is not None else None)
        self._retry_after_until = None if hold is None else now + hold
        self._next_refresh = self._schedule.after_failure(
            now, self._failures, self._lifetime, has_keys=self.ready(), hold=hold
        )
        self._events.emit("fetch_failed", self.issuer.issuer, error, duration=self._fetch_time())
        if self._ring is not None:
            kind = "stale_keys_in_use" if now <= self.usable_until else "keys_expired"
            self._events.emit(
                kind, self.issuer.issuer, f"last success {now - (self._last_success or now):.0f} s ago"
            )

    # -- background -------------------------------------------------------------------

    def ensure_background(self) -> None:
        """Start the refresher on the running event loop unless it runs already."""
        if not self._fetches_keys:
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
            next_refresh=self._next_refresh if self._fetches_keys else None,
            retry_after_until=self._retry_after_until,
        )


async def _join(task: asyncio.Task[None]) -> None:
    """Wait for a shared fetch. Unlike awaiting it (or a shield of it), a waiter that goes away
    (client disconnect) does not cancel it, and a fetch stopped by `stop()` (shutdown) ends the
    wait without raising CancelledError into requests that were not cancelled themselves."""
    await asyncio.wait((task,))


def _identity(key: VerificationKey) -> tuple[str | None, str, frozenset[str]]:
    return key.kid, key.thumbprint, key.algorithms
