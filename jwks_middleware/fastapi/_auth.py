"""`JWKSAuth`: where a request's claims come from (the middleware's, or verified here once per
request), the guards on them (`ClaimsDependency` objects), and the wiring into an app
(lifespan, refusal handler, the module-level dependencies' fallback). Imported only through
`jwks_middleware.fastapi`."""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

from fastapi import FastAPI, Security
from fastapi.security.base import SecurityBase
from starlette.applications import Starlette
from starlette.requests import HTTPConnection
from starlette.types import Scope

from .._authorization import (
    ClaimName,
    ClaimsCheck,
    all_roles,
    any_role,
    any_scope,
    claim_value,
    claims_rule,
    names,
)
from .._claims import Claims
from .._dpop_nonce import DPoPNonceMiddleware
from .._dpop_policy import DPoPPolicy
from .._errors import AuthError, AuthUnavailableError
from .._events import logger
from .._extract import TokenSources, bearer_credentials
from .._hooks import ClaimsRule
from .._issuer import Issuer
from .._keys.store import IssuerResolver
from .._mtls import CertificateSource
from .._options import VerifierOptions
from .._request import (
    CHALLENGES_SCOPE_KEY,
    REFUSAL_SCOPE_KEY,
    RequestClaims,
    app_challenges,
    claims_verified_by,
    completed_metadata,
    middleware_in_lifespan,
    verify_credentials,
)
from .._resource_audience import issuers_for_resource
from .._resource_metadata import ResourceMetadata, ResourceMetadataMiddleware
from .._responses import BEARER_ONLY, Challenges
from .._sender import SenderConstraints
from .._verify import TokenVerifier, own_or_given_verifier
from ._claims_dependency import ClaimsDependency
from ._openapi import bearer_scheme, describe_requirements
from ._refusals import AuthHTTPException, refusal_handler

if TYPE_CHECKING:
    from typing_extensions import Unpack

#: Attribute of `app.state` holding the `JWKSAuth` installed on an app.
APP_STATE_KEY: Final = "jwks_auth"
# Claims already verified for this request, per JWKSAuth: a token is verified once per request.
_VERIFIED_SCOPE_KEY: Final = "jwks_middleware.fastapi.verified"
# The scheme the request's token came with, per JWKSAuth that verified it ("bearer", "dpop").
_SCHEMES_SCOPE_KEY: Final = "jwks_middleware.fastapi.schemes"
_NOTHING_VERIFIES_APP: Final = (
    "a JWKSAuth without issuers relies on JWKSMiddleware, and none wraps this app: "
    "give JWKSAuth issuers=[...] (or verifier=...), or add JWKSMiddleware to the app"
)
_NOTHING_VERIFIES_REQUEST: Final = (
    "no claims: the request did not pass JWKSMiddleware (is its path excluded?) and no "
    "JWKSAuth with issuers verifies it (give JWKSAuth issuers, or install one on the app)"
)


class JWKSAuth:
    """Token verification for FastAPI dependencies, with or without `JWKSMiddleware`.

    `issuers` (a list of `Issuer`, or a resolver callable) or a ready `verifier`: the
    dependencies accept only claims this verifier produced, verifying the token here unless
    the middleware shares the verifier; the middleware's verdict never overrides them. Without
    either, the dependencies use the middleware's claims only (or the `JWKSAuth` installed on
    the app), and the app's start-up fails when no `JWKSMiddleware` wraps it.
    `realm` goes into every challenge (default: the middleware's realm). `scheme` is the
    OpenAPI security scheme: a FastAPI `HTTPBearer`, `OAuth2AuthorizationCodeBearer`,
    `OAuth2` or `OpenIdConnect` object, only read for its `model` and `scheme_name` (default:
    HTTP bearer, JWT, named `DEFAULT_SCHEME_NAME`). `cookie_name`, `websocket_query_param`,
    `websocket_subprotocol` (the route then accepts with ``subprotocol=`` that marker) and the
    verifier options (`VerifierOptions`) are those of `JWKSMiddleware`.

    Dependencies: `claims`, `optional_claims`, `require_scopes`, `require_any_scope`,
    `require_roles`, `require_any_role`, `require_claim`. Wiring: `install(app)`, or
    ``FastAPI(lifespan=auth.lifespan)`` plus the `refusal_handler`.
    """

    def __init__(
        self,
        issuers: Iterable[Issuer | IssuerResolver] | IssuerResolver | None = None,
        *,
        verifier: TokenVerifier | None = None,
        realm: str | None = None,
        scheme: SecurityBase | None = None,
        cookie_name: str | None = None,
        websocket_query_param: str | None = None,
        websocket_subprotocol: str | None = None,
        dpop: DPoPPolicy | None = None,
        client_certificate: CertificateSource | None = None,
        resource_metadata: ResourceMetadata | None = None,
        require_resource_audience: bool = True,
        **options: Unpack[VerifierOptions],
    ) -> None:
        if issuers is None and verifier is None:
            if options or dpop or client_certificate or resource_metadata:
                raise TypeError(
                    "verifier options, dpop, client_certificate and resource_metadata need issuers=..."
                )
        else:
            if resource_metadata is not None and issuers is not None and require_resource_audience:
                issuers = issuers_for_resource(issuers, resource_metadata.resource)  # RFC 8707
            verifier = own_or_given_verifier(issuers, verifier, options)
        #: Verifies tokens the middleware did not; None: rely on the middleware.
        self.verifier = verifier
        self.request_claims = RequestClaims()
        self.realm = realm
        self.constraints = SenderConstraints(
            dpop=dpop,
            client_certificate=client_certificate,
            clock=verifier.options.clock if verifier else time.time,
        )
        #: The RFC 9728 metadata, completed from the configuration (`install` serves it).
        self.metadata: ResourceMetadata | None = None
        self.challenges = Challenges(realm)
        if verifier is not None:
            if resource_metadata is not None:
                self.metadata = completed_metadata(resource_metadata, verifier, self.constraints)
            self.challenges = app_challenges(verifier, self.constraints, realm, self.metadata)
        self.sources = TokenSources(
            cookie_name=cookie_name,
            websocket_query_param=websocket_query_param,
            websocket_subprotocol=websocket_subprotocol,
        )
        self.scheme = bearer_scheme(scheme)
        #: Dependency: the `Claims` of the request; 401 without a valid token.
        self.claims = ClaimsDependency(self)
        #: Dependency: the `Claims`, or None for an anonymous request (a bad token: 401).
        self.optional_claims = ClaimsDependency(self, optional=True)

    # -- guards ------------------------------------------------------------------------------

    def require_scopes(self, *scopes: str) -> Any:
        """Guard: the token must carry every one of `scopes` (403 `insufficient_scope`).
        The scopes appear in the OpenAPI operation's security requirement."""
        return Security(self.claims, scopes=names(scopes, "require_scopes", "scope"))

    def require_any_scope(self, *scopes: str) -> Any:
        """Guard: the token must carry at least one of `scopes`."""
        return self._guard(any_scope(names(scopes, "require_any_scope", "scope")))

    def require_roles(self, *roles: str) -> Any:
        """Guard: the token must carry every one of `roles` (`Claims.roles`, configured by
        `Issuer(role_claims=...)`)."""
        return self._guard(all_roles(names(roles, "require_roles", "role")))

    def require_any_role(self, *roles: str) -> Any:
        """Guard: the token must carry at least one of `roles`."""
        return self._guard(any_role(names(roles, "require_any_role", "role")))

    def require_claim(self, name: ClaimName, *accepted_values: object) -> Any:
        """Guard on any claim: `name` (or a path into nested objects, like
        ``("realm_access", "roles")``) must be present and, when values are given, equal one of
        them (type included; a list claim must contain one of them)."""
        return self._guard(claim_value(name, accepted_values))

    def require_check(self, check: ClaimsRule, *, description: str | None = None) -> Any:
        """Guard: the app's own rule, `check(claims)` (sync or async), answering `True` to
        accept, `False` or a reason to refuse (403, the reason only logged; a check that
        raises: 503). `description` says what it requires in the OpenAPI operation."""
        return self._guard(claims_rule(check), description=description)

    def _guard(self, check: ClaimsCheck, *, description: str | None = None) -> Any:
        return Security(ClaimsDependency(self, check=check, description=description))

    # -- wiring ------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        """Lifespan of an app: preload keys and start refreshing them, stop on shutdown; and
        make this the `JWKSAuth` of the module-level dependencies for `app`."""
        _register(app, self)
        if isinstance(app, FastAPI):
            describe_requirements(app)
        if self.verifier is None:
            if not middleware_in_lifespan():  # every request would be refused: fail now
                raise ValueError(_NOTHING_VERIFIES_APP)
            yield
            return
        await self.verifier.start()
        try:
            yield
        finally:
            await self.verifier.aclose()

    def install(self, app: Starlette) -> None:
        """Wire this into `app` before it starts: `lifespan` around the app's own lifespan,
        `refusal_handler` for `AuthHTTPException`, and the module-level dependencies' fallback;
        with `resource_metadata`, the document served at its well-known path (no token), and
        with DPoP nonces, a `DPoP-Nonce` on every answer of a DPoP request."""
        if app.middleware_stack is not None:
            raise RuntimeError("install() must be called before the app starts")
        if _installed(app) is not None:
            raise ValueError("a JWKSAuth is installed on this app already")
        _register(app, self)
        app.add_exception_handler(AuthHTTPException, refusal_handler)
        nonces = self.constraints.dpop.nonces
        if nonces is not None and self.verifier is not None:
            app.add_middleware(DPoPNonceMiddleware, nonces=nonces, clock=self.verifier.options.clock)
        if self.metadata is not None:  # outermost: RFC 9728 section 3, served before anything
            app.add_middleware(ResourceMetadataMiddleware, metadata=self.metadata)
        app_lifespan = app.router.lifespan_context

        @contextlib.asynccontextmanager
        async def lifespan(lifespan_app: Any) -> AsyncIterator[Mapping[str, Any] | None]:
            async with self.lifespan(lifespan_app), app_lifespan(lifespan_app) as state:
                yield state

        app.router.lifespan_context = lifespan  # type: ignore[assignment]  # state passes through
        if isinstance(app, FastAPI):  # before it starts: the document may be asked for first
            describe_requirements(app)

    def ready(self) -> bool:
        """True when every configured issuer has usable keys (always true without a verifier)."""
        return self.verifier is None or self.verifier.ready()

    # -- internals ---------------------------------------------------------------------------

    def cached_claims(self, scope: Scope) -> Claims | None:
        """The claims of the request's `Bearer` token when this `JWKSAuth`'s own verifier has
        them cached, else None (then `claims_of`): a header scan and a cache lookup, as in
        the middleware."""
        verifier = self.verifier
        if verifier is None or not self.sources.header_only or scope["type"] != "http":
            return None
        candidate = bearer_credentials(scope["headers"])
        claims = verifier.cached(candidate) if candidate is not None else None
        if claims is not None:
            self.request_claims.put(scope, claims, verifier)
        return claims

    async def claims_of(self, connection: HTTPConnection) -> Claims | None:
        scope = connection.scope
        state: dict[str, Any] = scope.setdefault("state", {})
        if self.verifier is None and CHALLENGES_SCOPE_KEY in scope and "claims" in state:
            claims: Claims | None = state["claims"]  # the middleware's verdict
            if claims is None:
                _raise_refusal_left_to_routes(scope)
            return claims
        auth = self if self.verifier is not None else _installed(scope.get("app"))
        verifier = auth.verifier if auth is not None else None
        if auth is None or verifier is None:
            logger.error("request refused with 503: %s", _NOTHING_VERIFIES_REQUEST)
            raise AuthUnavailableError(_NOTHING_VERIFIES_REQUEST)
        # The middleware's claims, when it shares this verifier.
        claims = claims_verified_by(scope, verifier)
        if claims is not None:
            return claims
        # A repeated token costs a header scan and a cache lookup, as in the middleware.
        candidate = auth.sources.header_token(scope)
        claims = verifier.cached(candidate) if candidate is not None else None
        if claims is not None:
            self.request_claims.put(scope, claims, verifier)
            return claims
        return await auth.verify_request(scope, verifier)

    async def verify_request(self, scope: Scope, verifier: TokenVerifier) -> Claims | None:
        """Verify the request's token the full way, once per request for this `JWKSAuth`."""
        verified: dict[JWKSAuth, Claims | None] = scope.setdefault(_VERIFIED_SCOPE_KEY, {})
        if self in verified:
            return verified[self]
        credentials = self.sources.credentials(scope)
        if credentials is not None:
            scope.setdefault(_SCHEMES_SCOPE_KEY, {})[self] = credentials.scheme
        claims = None
        if credentials is not None:
            claims = await verify_credentials(verifier, self.constraints, scope, credentials)
        verified[self] = claims
        # The route sees its own verifier's verdict, as it would see the middleware's.
        self.request_claims.put(scope, claims, verifier)
        return claims

    def challenges_of(self, scope: Scope) -> Challenges:
        """The challenges of this request's refusals: those of whoever verified its token."""
        from_middleware: Challenges | None = scope.get(CHALLENGES_SCOPE_KEY)
        installed = _installed(scope.get("app"))
        auth = self if self.verifier is not None else installed
        if (
            auth is not None
            and auth.verifier is not None
            and (self.verifier is not None or from_middleware is None)
        ):
            used = scope.get(_SCHEMES_SCOPE_KEY, {}).get(auth, "bearer")
            challenges = auth.challenges.for_scheme(used)
        else:
            challenges = from_middleware or BEARER_ONLY
        realm = self.realm
        if realm is None and from_middleware is not None:
            realm = from_middleware.realm
        if realm is None and installed is not None:
            realm = installed.realm
        return challenges if challenges.realm == realm else dataclasses.replace(challenges, realm=realm)

    def __repr__(self) -> str:
        scheme = self.scheme.scheme_name
        return f"JWKSAuth(verifier={self.verifier!r}, realm={self.realm!r}, scheme={scheme!r})"


def _raise_refusal_left_to_routes(scope: Scope) -> None:
    """Raise the middleware's refusal of a token it left to routes with issuers of their own
    (`optional=True`); an anonymous request has none."""
    refusal: AuthError | None = scope.get(REFUSAL_SCOPE_KEY)
    if refusal is not None:
        raise refusal


def _register(app: Starlette, auth: JWKSAuth) -> None:
    installed = _installed(app)
    if installed is not None and installed is not auth:
        raise ValueError("another JWKSAuth is installed on this app")
    setattr(app.state, APP_STATE_KEY, auth)


def _installed(app: object) -> JWKSAuth | None:
    auth = getattr(getattr(app, "state", None), APP_STATE_KEY, None)
    return auth if isinstance(auth, JWKSAuth) else None
