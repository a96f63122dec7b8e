"""`TokenVerifier`: the one place that decides whether a token is trusted.

Order of checks (cheap first, so floods of bad tokens cost no fetch): size and strict
parsing; header (alg, crit, b64, key references); trusted `iss`; the issuer's algorithm
and `typ` policy; time, audience and required claims; no key binding (`cnf`); only then
the key (which may refresh the issuer's keys) and the signature, checked with the key's
`cryptography` object as joserfc's algorithm defines it (`_algorithms.signature_check`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from types import TracebackType

from ._claims import Claims
from ._config import DEFAULT_MAX_TOKEN_BYTES, DEFAULT_RESOLVED_ISSUERS, DEFAULT_TOKEN_CACHE_SIZE
from ._errors import AuthError, InvalidSignatureError, UntrustedIssuerError
from ._events import EventHook, Events
from ._issuer import Issuer
from ._jwk import VerificationKey
from ._jws import parse_token
from ._keys.fetch import HTTPClient
from ._keys.issuer_keys import IssuerKeys
from ._keys.store import IssuerResolver, KeyStore
from ._policy import check_bearer, check_claims, check_header_policy

__all__ = ["TokenCache", "TokenVerifier"]

# Characters at the end of a token that key the cache (see `TokenCache`).
_KEY_CHARS = 32


class _Verified:
    """A verified token, its claims, and what bounds the verdict."""

    __slots__ = ("claims", "key", "keys", "token", "valid_from", "valid_until")

    def __init__(
        self,
        token: str,
        claims: Claims,
        keys: IssuerKeys,
        key: VerificationKey,
        valid_from: float,
        valid_until: float,
    ) -> None:
        self.token = token
        self.claims = claims
        self.keys = keys
        self.key = key
        self.valid_from = valid_from
        self.valid_until = valid_until


class TokenCache:
    """Verified tokens, so that a repeated token costs a dictionary lookup and a time check.

    Guarantees: at most `size` tokens (two generations of at most `size // 2`); an entry is
    served only from the token's `nbf` until before its `exp` (leeway included) and while the
    keys of its issuer are usable, and is dropped when the key that verified it leaves the JWKS.

    Why not cachetools' `TLRUCache` (the first design): every lookup and insert there goes
    through a timer context, an expiry heap and an LRU linked list, about 3 us a request,
    more than the rest of the cached path. Here a lookup is one or two `dict.get` calls:

    - Generations: new entries go to `young`; when it is full it becomes `old` and the previous
      `old` is dropped whole (O(1), no per-entry bookkeeping). A hit in `old` copies the entry
      into `young`, so tokens in use survive; roughly LRU.
    - Key: the last 32 characters of the token (the end of its signature), a cheap string to
      hash instead of the whole ~1 KiB token; the entry keeps the whole token and a hit
      requires it to be equal, so a forged token sharing a signature's end is a miss and is
      verified in full. Only verified tokens are stored, and distinct valid signatures do not
      share 192 bits, so one token cannot push out another.
    - Lifetime: the validity is checked on every hit; an entry found past its `exp` is
      dropped, the others go with their generation at the latest.
    """

    __slots__ = ("_clock", "_generation_size", "_old", "_young")

    def __init__(self, size: int, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._generation_size = max(1, size // 2)
        self._young: dict[str, _Verified] = {}
        self._old: dict[str, _Verified] = {}

    def get(self, token: str) -> Claims | None:
        """The claims of `token` if it is cached and still valid now, else None."""
        key = token[-_KEY_CHARS:]
        entry = self._young.get(key)
        if entry is None:
            entry = self._old.get(key)
            if entry is None or entry.token != token:
                return None
            self._insert(key, entry)  # in use: keep it through the next generation change
        elif entry.token != token:
            return None
        now = self._clock()
        # RFC 7519 section 4.1.4: valid strictly before `exp` (plus leeway), as on first sight.
        if entry.valid_from <= now < entry.valid_until and now <= entry.keys.usable_until:
            return entry.claims
        if now >= entry.valid_until:  # expired for good
            self._young.pop(key, None)
            self._old.pop(key, None)
        return None

    def put(self, entry: _Verified) -> None:
        """Remember a verified token."""
        self._insert(entry.token[-_KEY_CHARS:], entry)

    def _insert(self, key: str, entry: _Verified) -> None:
        young = self._young
        if len(young) >= self._generation_size:
            self._old = young
            young = self._young = {}
        young[key] = entry

    def forget(self, removed: frozenset[VerificationKey]) -> None:
        """Drop every token verified by one of these keys."""
        for generation in (self._young, self._old):
            for key in [key for key, entry in generation.items() if entry.key in removed]:
                del generation[key]


def _not_cached(token: str) -> None:
    return None


class TokenVerifier:
    """Verifies bearer tokens against trusted issuers; usable on its own or by the middleware.

    `issuers` is a list of `Issuer` or a resolver callable (`iss` -> `Issuer | None`).
    Repeated tokens are answered from a bounded cache (`token_cache_size=0` turns it off)
    whose entries never outlive the token's `exp` or the key that verified it.

    `cached(token)`: the claims of a token verified before whose verdict still holds, or None
    (then call `verify`); a dictionary lookup and a time check, nothing else. The middleware
    asks it first.
    """

    def __init__(
        self,
        issuers: Iterable[Issuer] | IssuerResolver,
        *,
        http_client: HTTPClient | None = None,
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
        self._cache = TokenCache(token_cache_size, clock) if token_cache_size else None
        # Tokens bound to a key (`cnf`) live in a cache of their own: `cached` and `verify`
        # never answer one, so a bound token can only pass where its proof is checked.
        self._bound_cache = TokenCache(token_cache_size, clock) if token_cache_size else None
        # An attribute, not a method: one call less on the path of every cached request.
        self.cached: Callable[[str], Claims | None] = (
            self._cache.get if self._cache is not None else _not_cached
        )

    async def verify(self, token: str) -> Claims:
        """The claims of a valid token; raise an `AuthError` subclass saying why not."""
        claims = self.cached(token)
        if claims is None:
            claims = await self._verify_new(token)
        return claims

    async def verify_bound(self, token: str) -> Claims:
        """The claims of a valid token that may be bound to a key (`cnf`, RFC 7800).

        For callers that check the proof of possession themselves (DPoP, RFC 9449; a client
        certificate, RFC 8705) right after this call: the binding is not checked here.
        """
        cache = self._bound_cache
        claims = cache.get(token) if cache is not None else None
        if claims is None:
            claims = await self._verify_new(token, bound=True)
        return claims

    async def _verify_new(self, token: str, *, bound: bool = False) -> Claims:
        """`verify` for a token the caller just failed to find in the cache."""
        started = time.perf_counter()
        now = self._clock()
        issuer_name: str | None = None  # known once `iss` is found trusted
        try:
            unverified = parse_token(token, max_bytes=self._max_token_bytes)
            header, claims = unverified.header, unverified.claims
            iss = claims.get("iss")
            keys = self.key_store.lookup(iss) if isinstance(iss, str) else None
            if keys is None:
                raise UntrustedIssuerError("token 'iss' is missing or not a trusted issuer")
            issuer = keys.issuer
            issuer_name = issuer.issuer
            check_header_policy(header, issuer)
            exp, nbf = check_claims(claims, issuer, now)
            if not bound:
                check_bearer(claims)
            alg = header["alg"]
            key = await keys.find_key(header.get("kid"), alg)
            try:
                valid = key.verify(alg, unverified.signing_input, unverified.signature)
            except (ValueError, TypeError):
                valid = False
            if not valid:
                raise InvalidSignatureError("signature does not match the key")
            # The parsed payload is ours alone: adopted, not copied.
            result = Claims._adopt(claims, issuer.scope_claims, issuer.role_claims, self)
            cache = self._bound_cache if bound else self._cache
            if cache is not None:
                leeway = issuer.leeway
                valid_from = nbf - leeway if nbf is not None else float("-inf")
                cache.put(_Verified(token, result, keys, key, valid_from, exp + leeway))
            self.events.verified(issuer_name, time.perf_counter() - started)
            return result
        except AuthError as error:
            self.events.emit(
                "token_refused",
                issuer_name,
                error.detail,
                reason=error.reason,
                duration=time.perf_counter() - started,
            )
            raise

    def _forget_tokens_of(self, removed: frozenset[VerificationKey]) -> None:
        # A key dropped from its JWKS is revoked at once: so are the tokens it verified.
        for cache in (self._cache, self._bound_cache):
            if cache is not None:
                cache.forget(removed)

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
