"""Token introspection (RFC 7662): ask the issuer what an opaque token means.

`Introspection` is one issuer's configuration; `Introspector` asks that issuer's
`introspection_endpoint` about tokens and remembers the answers:

- a POST of ``token=...&token_type_hint=access_token`` with client authentication
  (`_client_auth.py`), through the one network module (`_keys/fetch.py`): https only (http on
  loopback, or with the issuer's `allow_http`), no redirects, a size cap, timeouts and one
  overall deadline;
- `active: true` gives the answer's members (`scope`, `client_id`, `sub`, `exp`, `aud`, `iss`,
  ...) for the same claim checks as a JWT; anything else is `InvalidTokenError`;
- an endpoint that cannot be reached, refuses the client or answers garbage is
  `AuthUnavailableError` (503), never a verdict on the token;
- answers are cached by a hash of the token (`_introspection_cache.py`) for at most
  min(`exp`, `cache_ttl`), `active: false` for `INACTIVE_TOKEN_TTL`; concurrent requests for
  one token share one POST; while the endpoint is down, an answer up to `max_stale` seconds past
  its `cache_ttl` is still used, never past the token's `exp`.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeAlias

import httpx

from ._client_auth import client_credentials
from ._config import (
    DEFAULT_FETCH_DEADLINE,
    DEFAULT_MAX_DOCUMENT_BYTES,
    DEFAULT_TIMEOUT,
    INACTIVE_TOKEN_CACHE_SIZE,
    INACTIVE_TOKEN_TTL,
)
from ._errors import AuthUnavailableError, InvalidTokenError
from ._events import Events
from ._introspection_cache import AnswerCache, CachedAnswer, token_key
from ._introspection_config import Introspection
from ._introspection_endpoint import EndpointFinder, MetadataSource
from ._keys.fetch import Fetcher, FetchError, HTTPClient, post_form
from ._urls import check_fetch_url

__all__ = ["Introspection", "Introspector", "MetadataSource"]

#: An active answer's members, and until when they may be reused.
_Answer: TypeAlias = tuple[Mapping[str, Any], float]


class Introspector:
    """Asks one issuer's introspection endpoint about tokens, with a cache (see the module).

    `discovery_url`: where to find `introspection_endpoint` when the configuration gives
    none: a metadata URL, or an async callable returning the metadata (the key store's, say);
    None tries the issuer's OpenID Connect and RFC 8414 documents. `allow_http`, `timeout`,
    `fetch_deadline` and `max_bytes` are the issuer's fetch limits.
    """

    def __init__(
        self,
        issuer: str,
        config: Introspection,
        *,
        http_client: HTTPClient | None = None,
        clock: Callable[[], float] = time.time,
        events: Events | None = None,
        discovery_url: MetadataSource = None,
        allow_http: bool = False,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        fetch_deadline: float = DEFAULT_FETCH_DEADLINE,
        max_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES,
    ) -> None:
        if config.endpoint is not None:
            check_fetch_url(config.endpoint, allow_http=allow_http)
        self.issuer = issuer
        self.config = config
        self._fetcher = Fetcher(http_client)
        self._clock = clock
        self._events = events if events is not None else Events()
        self._limits = (timeout, max_bytes, allow_http)
        self._deadline = fetch_deadline
        self._endpoint = EndpointFinder(
            issuer,
            config.endpoint,
            discovery_url,
            timeout=timeout,
            max_bytes=max_bytes,
            allow_http=allow_http,
        )
        self._active = AnswerCache(config.cache_size, clock)
        self._inactive = AnswerCache(min(config.cache_size, INACTIVE_TOKEN_CACHE_SIZE), clock)
        self._in_flight: dict[bytes, asyncio.Future[_Answer]] = {}

    def __repr__(self) -> str:
        return f"Introspector({self.issuer!r}, client_id={self.config.client_id!r})"

    async def introspect(self, token: str) -> dict[str, Any]:
        """The members of the issuer's answer for an active token (`active` left out, `iss`
        set to this issuer when the answer names none).

        Raises `InvalidTokenError` when the issuer says the token is not active (or answers
        an object without ``active: true``), `AuthUnavailableError` when it cannot be asked.
        """
        return (await self.answer(token))[0]

    async def answer(self, token: str) -> tuple[dict[str, Any], float]:
        """`introspect`, and until when (seconds since the epoch) the answer may be reused:
        the end of its freshness however long ago it was asked, so that a verdict built on
        it never outlives `cache_ttl` (a stale answer, while the endpoint is down: at most
        `cache_ttl` more, never past its `max_stale`)."""
        key = token_key(token)
        entry = self._active.get(key)
        if entry is not None and self._clock() < entry.fresh_until:
            return dict(entry.claims or {}), entry.fresh_until
        if self._inactive.get(key) is not None:
            raise InvalidTokenError("the issuer said the token is not active (a remembered answer)")
        flight = self._in_flight.get(key)
        if flight is None:
            flight = asyncio.ensure_future(self._ask(token, key))
            self._in_flight[key] = flight
            flight.add_done_callback(lambda done: self._landed(key, done))
        # Shielded: a request that goes away does not cancel the answer the others wait for.
        claims, until = await asyncio.shield(flight)
        return dict(claims), until

    def forget(self, token: str) -> None:
        """Drop the cached answer for `token` (after a logout or revocation the app learnt of)."""
        key = token_key(token)
        self._active.forget(key)
        self._inactive.forget(key)

    def clear(self) -> None:
        """Drop every cached answer."""
        self._active.clear()
        self._inactive.clear()

    def _landed(self, key: bytes, flight: asyncio.Future[_Answer]) -> None:
        del self._in_flight[key]
        if not flight.cancelled():
            flight.exception()  # retrieved, even when every waiter went away

    async def _ask(self, token: str, key: bytes) -> _Answer:
        try:
            document = await self._post(token)
        except FetchError as error:
            return self._unavailable(key, str(error), refused=error.status in (401, 403))
        except Exception as error:  # noqa: BLE001 - whatever happens, a 503, never a 500
            self._events.emit("unexpected_error", self.issuer, f"introspection: {type(error).__name__}")
            return self._unavailable(key, f"introspection failed ({type(error).__name__})")
        return self._judge(document, key)

    async def _post(self, token: str) -> Any:
        timeout, max_bytes, allow_http = self._limits
        deadline = asyncio.get_running_loop().time() + self._deadline
        async with self._fetcher.session() as client:
            endpoint = await self._endpoint.find(client, deadline)
            config = self.config
            form, headers = client_credentials(
                config.auth_method,
                config.client_id,
                client_secret=config.client_secret,
                private_key=config.signing_key,
                audience=config.assertion_audience or endpoint,
                now=self._clock(),
            )
            # RFC 7662 section 2.1: the token, a hint, and the client's own authentication.
            form = {"token": token, "token_type_hint": "access_token", **form}
            return await post_form(
                client,
                endpoint,
                form,
                headers=headers,
                max_bytes=max_bytes,
                timeout=timeout,
                deadline=deadline,
                allow_http=allow_http,
            )

    def _unavailable(self, key: bytes, detail: str, *, refused: bool = False) -> _Answer:
        if refused:
            # RFC 7662 section 2.3: 401 means this API's own credentials were refused; the
            # token was not judged, so it is no reason to refuse it, and the operator must act.
            self._events.emit(
                "introspection_unauthorized",
                self.issuer,
                f"the introspection endpoint refused this API's client credentials "
                f"(client_id {self.config.client_id!r}, {self.config.auth_method}): {detail}",
            )
            raise AuthUnavailableError(f"introspection refused the client credentials: {detail}")
        stale = self._active.get(key)
        if stale is not None and stale.claims is not None:
            self._events.emit("introspection_failed", self.issuer, f"{detail}; a cached answer is used")
            return stale.claims, min(stale.usable_until, self._clock() + self.config.cache_ttl)
        self._events.emit("introspection_failed", self.issuer, detail)
        raise AuthUnavailableError(f"the token could not be introspected: {detail}")

    def _judge(self, document: Any, key: bytes) -> _Answer:
        if not isinstance(document, dict):
            raise InvalidTokenError("the introspection answer is not a JSON object")
        active = document.get("active")
        if active is not True:
            # RFC 7662 section 2.2: `active` is a required boolean; anything but true is not
            # an active token. Only a real `false` is remembered.
            if active is False:
                now = self._clock()
                until = now + min(INACTIVE_TOKEN_TTL, self.config.cache_ttl)
                self._inactive.put(key, CachedAnswer(None, until, until))
            raise InvalidTokenError("the issuer says the token is not active")
        claims = {name: value for name, value in document.items() if name != "active"}
        claims.setdefault("iss", self.issuer)
        return claims, self._remember(key, claims)

    def _remember(self, key: bytes, claims: Mapping[str, Any]) -> float:
        """Cache an active answer; give until when it is fresh."""
        now, config = self._clock(), self.config
        exp = claims.get("exp", math.inf)
        if isinstance(exp, bool) or not isinstance(exp, (int, float)):
            return now  # a malformed `exp` is the claim checks' to refuse; never cached
        fresh_until = min(exp, now + config.cache_ttl)
        usable_until = min(exp, fresh_until + config.max_stale)
        if usable_until > now:
            self._active.put(key, CachedAnswer(claims, fresh_until, usable_until))
        return fresh_until
