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
from dataclasses import dataclass, field
from typing import Any

import httpx

from ._client_auth import AUTH_METHODS, AuthMethod, PrivateKey, client_credentials, import_private_key
from ._config import (
    DEFAULT_FETCH_DEADLINE,
    DEFAULT_INTROSPECTION_CACHE_SIZE,
    DEFAULT_INTROSPECTION_MAX_STALE,
    DEFAULT_INTROSPECTION_TTL,
    DEFAULT_MAX_DOCUMENT_BYTES,
    DEFAULT_TIMEOUT,
    INACTIVE_TOKEN_CACHE_SIZE,
    INACTIVE_TOKEN_TTL,
)
from ._errors import AuthUnavailableError, InvalidTokenError
from ._events import Events
from ._introspection_cache import AnswerCache, CachedAnswer, token_key
from ._introspection_endpoint import EndpointFinder, MetadataSource
from ._issuer import check_fetch_url
from ._keys.fetch import Fetcher, FetchError, HTTPClient, post_form

__all__ = ["Introspection", "Introspector", "MetadataSource"]


@dataclass(frozen=True)
class Introspection:
    """How to introspect one issuer's tokens (RFC 7662).

    `client_id` and, by `auth_method`, `client_secret` (`client_secret_basic`,
    `client_secret_post`) or `private_key` (`private_key_jwt`: a joserfc key, a PEM private
    key or a private JWK) authenticate this API to the issuer. `assertion_audience` is the
    `aud` of a `private_key_jwt` assertion (default: the introspection endpoint's URL, as
    OpenID Connect Core section 9 and Okta want; give the issuer identifier for servers
    that want that). `endpoint`: None reads `introspection_endpoint` from the issuer's
    discovery document; it must be https (http only on loopback hosts, or with the issuer's
    `allow_http`).

    Answers are reused for at most min(the token's `exp`, `cache_ttl`) seconds, which is
    also how long a token revoked at the issuer may still be accepted; at most `cache_size`
    of them. While the endpoint is down, an answer is used up to `max_stale` seconds longer
    (never past `exp`). `all_tokens=True` introspects this issuer's JWTs too (for issuers
    that revoke them); otherwise only tokens that are not JWTs are introspected.
    """

    client_id: str
    client_secret: str | None = field(default=None, repr=False)
    auth_method: AuthMethod = "client_secret_basic"
    private_key: Any = field(default=None, repr=False)
    endpoint: str | None = None
    assertion_audience: str | None = None
    cache_ttl: float = DEFAULT_INTROSPECTION_TTL
    cache_size: int = DEFAULT_INTROSPECTION_CACHE_SIZE
    max_stale: float = DEFAULT_INTROSPECTION_MAX_STALE
    all_tokens: bool = False
    #: The imported `private_key` and its algorithm.
    signing_key: tuple[PrivateKey, str] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.client_id, str) or not self.client_id:
            raise TypeError("client_id must be a non-empty string")
        if self.auth_method not in AUTH_METHODS:
            raise ValueError(
                f"auth_method must be one of {', '.join(AUTH_METHODS)}, not {self.auth_method!r}"
            )
        if self.auth_method == "private_key_jwt":
            if self.private_key is None or self.client_secret is not None:
                raise ValueError("private_key_jwt takes a private_key and no client_secret")
            object.__setattr__(self, "signing_key", import_private_key(self.private_key))
        else:
            if not isinstance(self.client_secret, str) or not self.client_secret:
                raise TypeError(f"{self.auth_method} needs a client_secret (a non-empty string)")
            if self.private_key is not None:
                raise ValueError("a private_key is only used with auth_method='private_key_jwt'")
        if self.endpoint is not None:
            # The https rule itself (loopback or `allow_http` aside) is applied by the
            # Introspector, which knows the issuer's `allow_http`; here, only the shape.
            check_fetch_url(self.endpoint, allow_http=True)
        for name in ("cache_ttl", "max_stale"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0 <= value < math.inf:
                raise ValueError(f"{name} must be a finite number of seconds, 0 or more")
        if not isinstance(self.cache_size, int) or self.cache_size < 1:
            raise ValueError("cache_size must be a positive integer")


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
        self._in_flight: dict[bytes, asyncio.Future[Mapping[str, Any]]] = {}

    def __repr__(self) -> str:
        return f"Introspector({self.issuer!r}, client_id={self.config.client_id!r})"

    async def introspect(self, token: str) -> dict[str, Any]:
        """The members of the issuer's answer for an active token (`active` left out, `iss`
        set to this issuer when the answer names none).

        Raises `InvalidTokenError` when the issuer says the token is not active (or answers
        an object without ``active: true``), `AuthUnavailableError` when it cannot be asked.
        """
        key = token_key(token)
        entry = self._active.get(key)
        if entry is not None and self._clock() < entry.fresh_until:
            return dict(entry.claims or {})
        if self._inactive.get(key) is not None:
            raise InvalidTokenError("the issuer said the token is not active (a remembered answer)")
        flight = self._in_flight.get(key)
        if flight is None:
            flight = asyncio.ensure_future(self._ask(token, key))
            self._in_flight[key] = flight
            flight.add_done_callback(lambda done: self._landed(key, done))
        # Shielded: a request that goes away does not cancel the answer the others wait for.
        return dict(await asyncio.shield(flight))

    def forget(self, token: str) -> None:
        """Drop the cached answer for `token` (after a logout or revocation the app learnt of)."""
        key = token_key(token)
        self._active.forget(key)
        self._inactive.forget(key)

    def clear(self) -> None:
        """Drop every cached answer."""
        self._active.clear()
        self._inactive.clear()

    def _landed(self, key: bytes, flight: asyncio.Future[Mapping[str, Any]]) -> None:
        del self._in_flight[key]
        if not flight.cancelled():
            flight.exception()  # retrieved, even when every waiter went away

    async def _ask(self, token: str, key: bytes) -> Mapping[str, Any]:
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

    def _unavailable(self, key: bytes, detail: str, *, refused: bool = False) -> Mapping[str, Any]:
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
            return stale.claims
        self._events.emit("introspection_failed", self.issuer, detail)
        raise AuthUnavailableError(f"the token could not be introspected: {detail}")

    def _judge(self, document: Any, key: bytes) -> Mapping[str, Any]:
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
        self._remember(key, claims)
        return claims

    def _remember(self, key: bytes, claims: Mapping[str, Any]) -> None:
        now, config = self._clock(), self.config
        exp = claims.get("exp", math.inf)
        if isinstance(exp, bool) or not isinstance(exp, (int, float)):
            return  # a malformed `exp` is the claim checks' to refuse; never cached
        fresh_until = min(exp, now + config.cache_ttl)
        usable_until = min(exp, fresh_until + config.max_stale)
        if usable_until > now:
            self._active.put(key, CachedAnswer(claims, fresh_until, usable_until))
