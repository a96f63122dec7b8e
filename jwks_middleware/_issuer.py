"""`Issuer`: what one token issuer is trusted for, and where its keys come from."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from typing import Any, Final, Literal, get_args
from urllib.parse import urlsplit

import httpx

from ._algorithms import ASYMMETRIC_ALGORITHMS, HMAC_ALGORITHMS, check_algorithms
from ._config import (
    DEFAULT_FETCH_DEADLINE,
    DEFAULT_LEEWAY,
    DEFAULT_MAX_DOCUMENT_BYTES,
    DEFAULT_MAX_KEYS,
    DEFAULT_MAX_REFRESH_INTERVAL,
    DEFAULT_MAX_STALE,
    DEFAULT_REFRESH_COOLDOWN,
    DEFAULT_REVOCATION_CACHE_TTL,
    DEFAULT_TIMEOUT,
    MAX_LEEWAY,
    MAX_REVOCATION_CACHE_TTL,
    MIN_REFRESH_INTERVAL,
)
from ._hooks import ClaimsRule, RevocationHook
from ._introspection_config import Introspection
from ._jwk import VerificationKey, import_key_set, import_pem, import_secret
from ._urls import check_fetch_url

__all__ = ["DEFAULT_TOKEN_TYPES", "Binding", "ClaimPath", "FetchHeaders", "Issuer"]

#: `typ` header values accepted by default (compared case-insensitively, RFC 7515 section 4.1.9);
#: a token without `typ` is accepted too unless the RFC 9068 profile is on.
DEFAULT_TOKEN_TYPES: Final = frozenset({"jwt", "at+jwt", "application/at+jwt"})
_ACCESS_TOKEN_TYPES: Final = frozenset({"at+jwt", "application/at+jwt"})
#: Claims RFC 9068 section 2.2 requires in a JWT access token.
_ACCESS_TOKEN_CLAIMS: Final = ("iss", "exp", "aud", "sub", "client_id", "iat", "jti")

ClaimPath = str | tuple[str, ...]
#: Whether an issuer's tokens bound to a key (DPoP, a client certificate) are refused (they are
#: not bearer tokens, and nothing checks their proof), accepted with their proof next to plain
#: bearer tokens, or required: every token of the issuer must be bound, and its proof checked.
Binding = Literal["refused", "accepted", "required"]
_BINDINGS: Final = get_args(Binding)
#: Headers for the key fetches: fixed, or made anew for each fetch (a short-lived API token).
FetchHeaders = Mapping[str, str] | Callable[[], Awaitable[Mapping[str, str]]]


class Issuer:
    """One trusted token issuer: its `iss`, accepted audiences, algorithms and key source.

    Keys come from exactly one source: `jwks_uri`, a static `jwks` document, a PEM
    `public_key`, a shared `secret` (HS256/384/512), or, when none is given, the
    `jwks_uri` of the issuer's discovery document. `aliases` are other exact spellings of
    `iss` the same issuer signs with (Google: `accounts.google.com`), sharing its keys.

    Fetching: URLs must be https (http only on loopback hosts, or anywhere with
    `allow_http=True`, meant for private networks such as `http://keycloak:8080`; a warning
    event says so when keys are first fetched). `timeout` bounds each connect and read,
    `fetch_deadline` (seconds, default 10) a whole refresh however slowly the answer trickles
    in. Background refreshes follow `Cache-Control: max-age` but come at least every
    `max_refresh_interval` seconds (default 1 h). `refresh_cooldown` limits refreshes for
    unknown `kid`s; the last good keys serve through an outage for `max_stale` seconds.

    Sender-constrained tokens: `dpop` (RFC 9449, ``Authorization: DPoP`` with a proof) and
    `certificate_bound` (RFC 8705, `cnf.x5t#S256` and the TLS client certificate) are each
    ``"refused"`` (default: such tokens are refused), ``"accepted"`` (with their proof, next
    to bearer tokens) or ``"required"`` (every token of this issuer must be bound).

    Beyond the signature: `introspection` asks the issuer about tokens that are not JWTs (and,
    with `all_tokens`, about its JWTs too: RFC 7662); `claims_check` is the app's own rule on
    the claims (`True` accepts, `False` or a reason refuses: 401); `is_revoked` says whether a
    token was revoked (a `jti` denylist, a logout). A token's verdict, hooks included, is reused
    for at most `revocation_cache_ttl` seconds when `is_revoked` is set (and at most the
    introspection's `cache_ttl` with `all_tokens`); without them, until the token expires.
    """

    def __init__(
        self,
        issuer: str,
        *,
        aliases: Iterable[str] = (),
        audience: str | Iterable[str] | None = None,
        verify_audience: bool = True,
        jwks_uri: str | None = None,
        discovery_url: str | None = None,
        jwks: Mapping[str, Any] | None = None,
        public_key: str | bytes | None = None,
        secret: str | bytes | None = None,
        algorithms: Iterable[str] | None = None,
        leeway: float = DEFAULT_LEEWAY,
        token_types: Iterable[str] | None = None,
        access_token_profile: bool = False,
        required_claims: Iterable[str] = (),
        claim_values: Mapping[str, str | Iterable[str]] | None = None,
        scope_claims: Iterable[ClaimPath] = ("scope", "scp", "permissions"),
        role_claims: Iterable[ClaimPath] = ("roles",),
        fetch_headers: FetchHeaders | None = None,
        max_stale: float = DEFAULT_MAX_STALE,
        refresh_cooldown: float = DEFAULT_REFRESH_COOLDOWN,
        max_keys: int = DEFAULT_MAX_KEYS,
        max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        fetch_deadline: float = DEFAULT_FETCH_DEADLINE,
        max_refresh_interval: float = DEFAULT_MAX_REFRESH_INTERVAL,
        allow_http: bool = False,
        dpop: Binding = "refused",
        certificate_bound: Binding = "refused",
        introspection: Introspection | None = None,
        claims_check: ClaimsRule | None = None,
        is_revoked: RevocationHook | None = None,
        revocation_cache_ttl: float = DEFAULT_REVOCATION_CACHE_TTL,
    ) -> None:
        if not isinstance(issuer, str) or not issuer:
            raise ValueError("issuer must be a non-empty string: the exact `iss` value of its tokens")
        self.issuer = issuer
        self.aliases = frozenset(_strings(aliases, "aliases")) - {issuer}
        self.audiences = _audiences(audience)
        if verify_audience and not self.audiences:
            raise ValueError(
                "give the API's audience (audience=...); turn the check off only with "
                "verify_audience=False when another claim binds tokens to this API"
            )
        self.verify_audience = verify_audience
        sources = [name for name, value in _sources(jwks_uri, jwks, public_key, secret) if value is not None]
        if len(sources) > 1:
            raise ValueError(f"give one key source, not {' and '.join(sources)}")
        if discovery_url is not None and sources:
            raise ValueError("discovery_url is only used when no other key source is given")
        self.jwks_uri = jwks_uri
        self.discovery_url = discovery_url
        self.allow_http = allow_http
        self.static_keys: tuple[VerificationKey, ...] | None = None
        if jwks is not None:
            self.static_keys = import_key_set(jwks, max_keys=max_keys).keys
            if not self.static_keys:
                raise ValueError("the static JWKS holds no usable signing key")
        elif public_key is not None:
            self.static_keys = (import_pem(public_key),)
        elif secret is not None:
            self.static_keys = (import_secret(secret),)
        else:
            check_fetch_url(jwks_uri or discovery_url or issuer, allow_http=allow_http)
        self.algorithms = check_algorithms(
            algorithms if algorithms is not None else (HMAC_ALGORITHMS if secret else ASYMMETRIC_ALGORITHMS),
            has_secret=secret is not None,
        )
        if not 0 <= leeway <= MAX_LEEWAY:
            raise ValueError(f"leeway must be between 0 and {MAX_LEEWAY} seconds")
        self.leeway = float(leeway)
        self.access_token_profile = access_token_profile
        if access_token_profile:
            self.token_types = _ACCESS_TOKEN_TYPES
        elif token_types is None:
            self.token_types = DEFAULT_TOKEN_TYPES
        else:
            self.token_types = frozenset(_strings(token_types, "token_types", lower=True))
        required = set(_strings(required_claims, "required_claims"))
        if access_token_profile:
            required.update(_ACCESS_TOKEN_CLAIMS)
        self.required_claims = frozenset(required)
        self.claim_values = {
            name: frozenset(_strings([values] if isinstance(values, str) else values, name))
            for name, values in (claim_values or {}).items()
        }
        self.scope_claims = tuple(_paths(scope_claims))
        self.role_claims = tuple(_paths(role_claims))
        self.fetch_headers: dict[str, str] | Callable[[], Awaitable[Mapping[str, str]]] = (
            fetch_headers if callable(fetch_headers) else dict(fetch_headers or {})
        )
        if max_stale < 0 or refresh_cooldown < 0:
            raise ValueError("max_stale and refresh_cooldown must not be negative")
        if max_keys < 1 or max_document_bytes < 1024:
            raise ValueError("max_keys must be positive and max_document_bytes at least 1024")
        self.max_stale = float(max_stale)
        self.refresh_cooldown = float(refresh_cooldown)
        self.max_keys = max_keys
        self.max_document_bytes = max_document_bytes
        self.timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        if not fetch_deadline > 0:
            raise ValueError("fetch_deadline must be a positive number of seconds")
        if not max_refresh_interval >= MIN_REFRESH_INTERVAL:
            raise ValueError(f"max_refresh_interval must be at least {MIN_REFRESH_INTERVAL:g} seconds")
        self.fetch_deadline = float(fetch_deadline)
        self.max_refresh_interval = float(max_refresh_interval)
        if dpop not in _BINDINGS or certificate_bound not in _BINDINGS:
            raise ValueError(f"dpop and certificate_bound must be one of {', '.join(_BINDINGS)}")
        if dpop == certificate_bound == "required":
            raise ValueError("a token cannot be required to be both DPoP-bound and certificate-bound")
        self.dpop: Binding = dpop
        self.certificate_bound: Binding = certificate_bound
        if introspection is not None and not isinstance(introspection, Introspection):
            raise TypeError("introspection must be an Introspection")
        if introspection is not None and introspection.endpoint is not None:
            check_fetch_url(introspection.endpoint, allow_http=allow_http)
        self.introspection = introspection
        for name, hook in (("claims_check", claims_check), ("is_revoked", is_revoked)):
            if hook is not None and not callable(hook):
                raise TypeError(f"{name} must be a callable taking the Claims")
        if not 0 < revocation_cache_ttl <= MAX_REVOCATION_CACHE_TTL:
            raise ValueError(
                f"revocation_cache_ttl must be more than 0 and at most {MAX_REVOCATION_CACHE_TTL:g} seconds"
            )
        self.claims_check = claims_check
        self.is_revoked = is_revoked
        self.revocation_cache_ttl = float(revocation_cache_ttl)
        #: Whether a verified JWT of this issuer is also asked of the issuer or the app's hooks.
        self.asks_beyond_signature = (
            claims_check is not None
            or is_revoked is not None
            or (introspection is not None and introspection.all_tokens)
        )

    @property
    def fetches_keys(self) -> bool:
        """Whether keys come from the network (a JWKS URL or discovery)."""
        return self.static_keys is None

    @property
    def metadata_urls(self) -> tuple[str, ...]:
        """Discovery documents tried in order: OpenID Connect, then RFC 8414."""
        if self.discovery_url is not None:
            return (self.discovery_url,)
        parts = urlsplit(self.issuer)
        origin, path = f"{parts.scheme}://{parts.netloc}", parts.path.rstrip("/")
        return (
            f"{origin}{path}/.well-known/openid-configuration",  # OpenID Connect Discovery 1.0 §4
            f"{origin}/.well-known/oauth-authorization-server{path}",  # RFC 8414 section 3.1
        )

    def __repr__(self) -> str:
        source = (
            "secret"
            if self.algorithms <= frozenset(HMAC_ALGORITHMS)
            else "static keys"
            if self.static_keys is not None
            else self.jwks_uri or "discovery"
        )
        audience = sorted(self.audiences) if self.verify_audience else "not checked"
        return f"Issuer({self.issuer!r}, audience={audience!r}, keys={source!r})"


def _sources(
    jwks_uri: str | None, jwks: object, public_key: object, secret: object
) -> Iterable[tuple[str, object]]:
    return (("jwks_uri", jwks_uri), ("jwks", jwks), ("public_key", public_key), ("secret", secret))


def _audiences(audience: str | Iterable[str] | None) -> frozenset[str]:
    if audience is None:
        return frozenset()
    return frozenset(_strings([audience] if isinstance(audience, str) else audience, "audience"))


def _strings(values: Iterable[str], what: str, *, lower: bool = False) -> Collection[str]:
    if isinstance(values, (str, bytes)):
        raise TypeError(f"{what} must be a list of strings")
    result = []
    for value in values:
        if not isinstance(value, str) or not value:
            raise TypeError(f"{what} must hold non-empty strings")
        result.append(value.lower() if lower else value)
    return result


def _paths(paths: Iterable[ClaimPath]) -> Iterable[tuple[str, ...]]:
    for path in paths:
        parts = (path,) if isinstance(path, str) else tuple(path)
        if not parts or not all(isinstance(part, str) and part for part in parts):
            raise TypeError("a claim path is a claim name or a tuple of names")
        yield parts
