"""`TokenVerifier`: the one place that decides whether a token is trusted.

Order of checks (cheap first, so floods of bad tokens cost no fetch): size and strict
parsing; header (alg, crit, b64, key references); trusted `iss`; the issuer's algorithm
and `typ` policy; time, audience and required claims; only then the key (which may
refresh the issuer's keys) and the signature, computed by joserfc.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import TracebackType

import httpx
from cachetools import TLRUCache

from ._algorithms import algorithm_model
from ._checks import check_claims, check_header_policy, numeric_date
from ._claims import Claims
from ._config import DEFAULT_MAX_TOKEN_BYTES, DEFAULT_RESOLVED_ISSUERS, DEFAULT_TOKEN_CACHE_SIZE
from ._errors import AuthError, InvalidSignatureError, UntrustedIssuerError
from ._events import EventHook, Events
from ._issuer import Issuer
from ._keys import VerificationKey
from ._keystore import IssuerKeys
from ._store import IssuerResolver, KeyStore
from ._token import parse_token

__all__ = ["TokenVerifier"]


@dataclass(frozen=True)
class _Verified:
    claims: Claims
    keys: IssuerKeys
    key: VerificationKey
    valid_from: float
    valid_until: float


def _entry_expiry(_token: str, entry: _Verified, _now: float) -> float:
    return entry.valid_until


class TokenVerifier:
    """Verifies bearer tokens against trusted issuers; usable on its own or by the middleware.

    `issuers` is a list of `Issuer` or a resolver callable (`iss` -> `Issuer | None`).
    Repeated tokens are answered from a bounded cache (`token_cache_size=0` turns it off)
    whose entries never outlive the token's `exp` or the key that verified it.
    """

    def __init__(
        self,
        issuers: Iterable[Issuer] | IssuerResolver,
        *,
        http_client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
        on_event: EventHook | None = None,
        token_cache_size: int = DEFAULT_TOKEN_CACHE_SIZE,
        max_token_bytes: int = DEFAULT_MAX_TOKEN_BYTES,
        max_resolved_issuers: int = DEFAULT_RESOLVED_ISSUERS,
    ) -> None:
        if token_cache_size < 0 or max_token_bytes < 256:
            raise ValueError("token_cache_size must be >= 0 and max_token_bytes >= 256")
        self._clock = clock
        self.events = Events(on_event)
        self.key_store = KeyStore(
            issuers,
            http_client=http_client,
            clock=clock,
            events=self.events,
            on_keys_removed=self._forget_tokens_of,
            max_resolved_issuers=max_resolved_issuers,
        )
        self._max_token_bytes = max_token_bytes
        self._cache: TLRUCache[str, _Verified] | None = (
            TLRUCache(token_cache_size, ttu=_entry_expiry, timer=clock) if token_cache_size else None
        )

    async def verify(self, token: str) -> Claims:
        """The claims of a valid token; raise an `AuthError` subclass saying why not."""
        now = self._clock()
        cache = self._cache
        if cache is not None:
            entry = cache.get(token)
            if entry is not None and entry.valid_from <= now <= entry.keys.usable_until:
                return entry.claims
        try:
            return await self._verify(token, now)
        except AuthError as error:
            self.events.emit("token_refused", None, error.detail, reason=error.reason)
            raise

    async def _verify(self, token: str, now: float) -> Claims:
        unverified = parse_token(token, max_bytes=self._max_token_bytes)
        header, claims = unverified.header, unverified.claims
        iss = claims.get("iss")
        keys = self.key_store.lookup(iss) if isinstance(iss, str) else None
        if keys is None:
            raise UntrustedIssuerError("token 'iss' is missing or not a trusted issuer")
        issuer = keys.issuer
        check_header_policy(header, issuer)
        check_claims(claims, issuer, now)
        alg = header["alg"]
        key = await keys.find_key(header.get("kid"), alg)
        try:
            valid = algorithm_model(alg).verify(unverified.signing_input, unverified.signature, key.key)
        except (ValueError, TypeError):
            valid = False
        if not valid:
            raise InvalidSignatureError("signature does not match the key")
        result = Claims(claims, scope_claims=issuer.scope_claims, role_claims=issuer.role_claims)
        if self._cache is not None:
            exp = numeric_date(claims, "exp") or now  # exp presence checked above
            nbf = numeric_date(claims, "nbf")
            self._cache[token] = _Verified(
                claims=result,
                keys=keys,
                key=key,
                valid_from=(nbf - issuer.leeway) if nbf is not None else float("-inf"),
                valid_until=exp + issuer.leeway,
            )
        return result

    def _forget_tokens_of(self, removed: frozenset[VerificationKey]) -> None:
        # A key dropped from its JWKS is revoked at once: so are the tokens it verified.
        cache = self._cache
        if cache is None:
            return
        for token in [token for token, entry in cache.items() if entry.key in removed]:
            cache.pop(token, None)

    async def start(self) -> None:
        """Load every configured issuer's keys and start the background refreshers."""
        await self.key_store.start()

    async def aclose(self) -> None:
        """Stop background work."""
        await self.key_store.aclose()

    def ready(self) -> bool:
        """True when every configured issuer has usable keys."""
        return self.key_store.ready()

    async def __aenter__(self) -> TokenVerifier:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"TokenVerifier(issuers={[keys.issuer.issuer for keys in self.key_store.issuers()]!r})"
