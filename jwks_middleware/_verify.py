"""`TokenVerifier`: the one place that decides whether a token is trusted.

Order of checks (cheap first, so floods of bad tokens cost no fetch): size and strict
parsing; header (alg, crit, b64, key references); trusted `iss`; the issuer's algorithm
and `typ` policy; time, audience and required claims; no key binding (`cnf`); only then
the key (which may refresh the issuer's keys) and the signature, checked with the key's
`cryptography` object as joserfc's algorithm defines it (`_algorithms.signature_check`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Coroutine, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any, NamedTuple

from ._claims import Claims
from ._errors import (
    AuthError,
    InvalidSignatureError,
    InvalidTokenError,
    MalformedTokenError,
    RevokedTokenError,
    UntrustedIssuerError,
)
from ._events import Events
from ._hooks import run_issuer_hooks
from ._introspection_cache import token_key
from ._introspectors import Introspectors
from ._issuer import Issuer
from ._jwk import VerificationKey
from ._jws import UnverifiedToken, parse_token
from ._keys.issuer_keys import IssuerKeys
from ._keys.store import IssuerResolver, KeyStore
from ._options import VerifierOptions, VerifierSettings
from ._policy import check_bearer, check_claims, check_header_policy
from ._token_cache import NO_KEYS, TokenCache, Verified

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["TokenVerifier", "own_or_given_verifier"]


def _not_cached(token: str) -> None:
    return None


class TokenVerifier:
    """Verifies bearer tokens against trusted issuers; usable on its own or by the middleware.

    `issuers` is a list of `Issuer` objects and resolvers (callables `iss` -> `Issuer | None`),
    or one resolver. The options (`VerifierOptions`: `http_client`, `clock`, `on_event`,
    `token_cache_size`, `max_token_bytes`, `max_resolved_issuers`) are those of
    `JWKSMiddleware` and `JWKSAuth` too. Repeated tokens are answered from a bounded cache
    (`token_cache_size=0` turns it off) whose entries never outlive the token's `exp` or the
    key that verified it.

    `cached(token)`: the claims of a token verified before whose verdict still holds, or None
    (then call `verify`); a dictionary lookup and a time check, nothing else. The middleware
    asks it first, then `begin(token)`: what `verify` does after a miss, awaiting nothing
    when nothing needs awaiting (it gives the claims, or a coroutine to await for them).
    """

    def __init__(
        self, issuers: Iterable[Issuer | IssuerResolver] | IssuerResolver, **options: Unpack[VerifierOptions]
    ) -> None:
        #: The options, with their defaults, checked here once.
        self.options = settings = VerifierSettings(**options)
        clock = self._clock = settings.clock
        self.events = Events(settings.on_event)
        self.key_store = KeyStore(
            issuers,
            http_client=settings.http_client,
            clock=clock,
            events=self.events,
            on_keys_removed=self._forget_tokens_of,
            max_resolved_issuers=settings.max_resolved_issuers,
        )
        token_cache_size = settings.token_cache_size
        self._max_token_bytes = settings.max_token_bytes
        self._cache = TokenCache(token_cache_size, clock) if token_cache_size else None
        # Tokens bound to a key (`cnf`) live in a cache of their own: `cached` and `verify`
        # never answer one, so a bound token can only pass where its proof is checked.
        self._bound_cache = TokenCache(token_cache_size, clock) if token_cache_size else None
        # An attribute, not a method: one call less on the path of every cached request.
        self.cached: Callable[[str], Claims | None] = (
            self._cache.get if self._cache is not None else _not_cached
        )
        self._introspectors = Introspectors(
            self.key_store.listed,
            http_client=settings.http_client,
            clock=clock,
            events=self.events,
            size=settings.max_resolved_issuers + len(self.key_store.listed),
        )
        #: Whether a token that is not a JWT goes to an issuer's introspection endpoint.
        self.takes_opaque_tokens = self._introspectors.opaque_issuer is not None
        if self.takes_opaque_tokens and self._cache is not None:
            self.cached = _by_digest(self._cache)

    async def verify(self, token: str) -> Claims:
        """The claims of a valid token; raise an `AuthError` subclass saying why not."""
        claims = self.cached(token)
        if claims is None:
            found = self.begin(token)
            claims = found if type(found) is Claims else await found
        return claims

    async def verify_bound(self, token: str) -> Claims:
        """The claims of a valid token that may be bound to a key (`cnf`, RFC 7800).

        For callers that check the proof of possession themselves (DPoP, RFC 9449; a client
        certificate, RFC 8705) right after this call: the binding is not checked here.
        """
        cache = self._bound_cache
        claims = cache.get(token) if cache is not None else None
        if claims is None:
            found = self.begin(token, bound=True)
            claims = found if type(found) is Claims else await found
        return claims

    def begin(self, token: str, *, bound: bool = False) -> Claims | Coroutine[Any, Any, Claims]:
        """Verify a token the cache did not answer, without awaiting when nothing needs to be
        awaited: its claims when its issuer's keys are loaded and there is nothing to ask
        (the common case), else the coroutine that finishes the work (awaiting a key fetch,
        the issuer's introspection endpoint, the issuer's hooks). Raise an `AuthError`
        subclass saying why the token is refused."""
        started = time.perf_counter()
        now = self._clock()
        issuer_name: str | None = None  # known once `iss` is found trusted
        try:
            opaque_issuer = self._introspectors.opaque_issuer
            if opaque_issuer is not None and token.count(".") != 2:  # not a compact JWS
                return self._verify_opaque(token, opaque_issuer, now, bound=bound, started=started)
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
                check_bearer(claims, issuer)
            key = keys.loaded_key(header.get("kid"), header["alg"])
            if key is None or issuer.asks_beyond_signature:
                return self._finish(_Checking(token, bound, started, now, unverified, keys, exp, nbf), key)
            result = _signed_claims(unverified, key, issuer)
            self._remember(token, result, keys, key, nbf, exp + issuer.leeway, bound=bound)
            self.events.verified(issuer_name, time.perf_counter() - started)
            return result
        except AuthError as error:
            self._refused(error, issuer_name, started)
            raise

    async def _finish(self, checking: _Checking, key: VerificationKey | None) -> Claims:
        """The rest of `begin`'s work on a JWT: find its key, which may refresh the issuer's
        keys; ask the issuer about it (`all_tokens`) and run the issuer's hooks."""
        keys, unverified = checking.keys, checking.unverified
        issuer = keys.issuer
        try:
            if key is None:
                key = await keys.find_key(unverified.header.get("kid"), unverified.header["alg"])
            claims = _signed_claims(unverified, key, issuer)
            valid_until = checking.exp + issuer.leeway
            if issuer.asks_beyond_signature:
                valid_until = await self._beyond_signature(
                    issuer, checking.token, claims, checking.now, valid_until
                )
            self._remember(checking.token, claims, keys, key, checking.nbf, valid_until, bound=checking.bound)
        except AuthError as error:
            self._refused(error, issuer.issuer, checking.started)
            raise
        self.events.verified(issuer.issuer, time.perf_counter() - checking.started)
        return claims

    def _remember(
        self,
        token: str,
        claims: Claims,
        keys: IssuerKeys,
        key: VerificationKey,
        nbf: float | None,
        valid_until: float,
        *,
        bound: bool,
    ) -> None:
        """Cache the verdict on a valid token, from its `nbf` (leeway included) until
        `valid_until`, while `key` stays in its issuer's keys."""
        cache = self._bound_cache if bound else self._cache
        if cache is not None:
            valid_from = nbf - keys.issuer.leeway if nbf is not None else -math.inf
            cache.put(Verified(token, claims, keys, key, valid_from, valid_until))

    def _refused(self, error: AuthError, issuer_name: str | None, started: float) -> None:
        self.events.emit(
            "token_refused",
            issuer_name,
            error.detail,
            reason=error.reason,
            duration=time.perf_counter() - started,
        )

    async def _verify_opaque(
        self, token: str, issuer: Issuer, now: float, *, bound: bool, started: float
    ) -> Claims:
        """The claims of a token that is not a JWT, from its issuer's introspection answer,
        checked by the same rules as a JWT's claims; verdicts are cached by the token's digest
        (bytes, which no token given as a string can equal)."""
        try:
            claims = await self._introspected_claims(token, issuer, now, bound=bound)
        except AuthError as error:
            self._refused(error, issuer.issuer, started)
            raise
        self.events.verified(issuer.issuer, time.perf_counter() - started)
        return claims

    async def _introspected_claims(self, token: str, issuer: Issuer, now: float, *, bound: bool) -> Claims:
        if len(token) > self._max_token_bytes:
            raise MalformedTokenError(f"token of {len(token)} bytes is larger than {self._max_token_bytes}")
        cache = self._bound_cache if bound else self._cache
        digest = token_key(token)
        claims = cache.get(digest) if cache is not None else None
        if claims is not None:
            return claims
        answer, fresh_until = await self._introspectors.of(issuer).answer(token)
        exp, nbf = check_claims(answer, issuer, now)
        if not bound:
            check_bearer(answer, issuer)
        result = Claims._adopt(answer, issuer.scope_claims, issuer.role_claims)
        # Until the answer's own freshness ends, however long ago it was asked.
        valid_until = await self._beyond_signature(
            issuer, None, result, now, min(exp + issuer.leeway, fresh_until)
        )
        if cache is not None:
            valid_from = nbf - issuer.leeway if nbf is not None else -math.inf
            cache.put(Verified(digest, result, NO_KEYS, None, valid_from, valid_until))
        return result

    async def _beyond_signature(
        self, issuer: Issuer, token: str | None, claims: Claims, now: float, valid_until: float
    ) -> float:
        """Ask the issuer whether its JWT is still active (`all_tokens`), then run its hooks;
        give how long the verdict may be reused."""
        introspection = issuer.introspection
        if token is not None and introspection is not None and introspection.all_tokens:
            try:
                _, fresh_until = await self._introspectors.of(issuer).answer(token)
            except InvalidTokenError:  # RFC 7662 section 2.2: revoked, or otherwise ended
                raise RevokedTokenError("the issuer says the token is no longer active") from None
            # Until the answer's own freshness ends, however long ago it was asked: a verdict
            # pushed out of the token cache and made again never stretches `cache_ttl`.
            valid_until = min(valid_until, fresh_until)
        if issuer.claims_check is not None or issuer.is_revoked is not None:
            await run_issuer_hooks(issuer.claims_check, issuer.is_revoked, claims)
            if issuer.is_revoked is not None:
                valid_until = min(valid_until, now + issuer.revocation_cache_ttl)
        return valid_until

    def issuer_of(self, claims: Claims) -> Issuer:
        """The trusted `Issuer` of claims this verifier made."""
        keys = self.key_store.lookup(claims.issuer)
        if keys is None:  # pragma: no cover - the verifier made these claims from a trusted `iss`
            raise UntrustedIssuerError("token 'iss' is no longer a trusted issuer")
        return keys.issuer

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


class _Checking(NamedTuple):
    """What `begin` found of a JWT whose verification goes on in `_finish`."""

    token: str
    bound: bool
    started: float  # for the duration of the verification, in events
    now: float
    unverified: UnverifiedToken
    keys: IssuerKeys
    exp: float
    nbf: float | None


def _signed_claims(unverified: UnverifiedToken, key: VerificationKey, issuer: Issuer) -> Claims:
    """The claims of a token whose signature `key` confirms; raise InvalidSignatureError."""
    try:
        valid = key.verify(unverified.header["alg"], unverified.signing_input, unverified.signature)
    except (ValueError, TypeError):
        valid = False
    if not valid:
        raise InvalidSignatureError("signature does not match the key")
    # The parsed payload is ours alone: adopted, not copied.
    return Claims._adopt(unverified.claims, issuer.scope_claims, issuer.role_claims)


def _by_digest(cache: TokenCache) -> Callable[[str], Claims | None]:
    """`cached` when opaque tokens are taken: a JWT is looked up as it is, any other token by
    its digest (how its verdict is stored: bytes, which no token given as a string can equal,
    so the digest of a token never passes for the token)."""

    def cached(token: str) -> Claims | None:
        return cache.get(token if token.count(".") == 2 else token_key(token))

    return cached


def own_or_given_verifier(
    issuers: Iterable[Issuer | IssuerResolver] | IssuerResolver | None,
    verifier: TokenVerifier | None,
    options: VerifierOptions,
) -> TokenVerifier:
    """The verifier of an adapter given either `issuers` (and options) or a ready `verifier`."""
    if (issuers is None) == (verifier is None):
        raise TypeError("give either issuers=... or verifier=...")
    if verifier is None:
        return TokenVerifier(issuers, **options)  # type: ignore[arg-type]  # not None: checked above
    if options:
        raise TypeError(f"{', '.join(sorted(options))}: options of the verifier, give them to TokenVerifier")
    return verifier
