"""FastAPI adapters: dependencies that give a route the token's `Claims`, and guards on scopes,
roles and claims that show in the OpenAPI document (and so in Swagger UI's "Authorize").

With the middleware, the dependencies read what it verified (`request.state.claims`)::

    from jwks_middleware.fastapi import AuthClaims, require_scopes

    app = FastAPI()
    app.add_middleware(JWKSMiddleware, issuers=[issuer], realm="api")

    @app.get("/items", dependencies=[require_scopes("read:items")])
    async def items(claims: AuthClaims) -> dict[str, str | None]: ...

Without it, a `JWKSAuth` verifies tokens itself, with the same `TokenVerifier` and the same
token extraction rules, its key store started and stopped with the app's lifespan::

    auth = JWKSAuth(issuers=[issuer], realm="api")
    app = FastAPI()
    auth.install(app)  # lifespan, refusal handler, fallback of the module-level dependencies

    @app.get("/items")
    async def items(claims: Claims = auth.require_scopes("read:items")) -> ...: ...

Names:

- `current_claims`, `optional_claims`: dependencies giving `Claims` (401 without a valid
  token), or `Claims | None` (None for an anonymous request; a bad token is still refused).
  `AuthClaims` and `OptionalAuthClaims` are the `Annotated` aliases of both.
- `require_scopes(*scopes)` (every one), `require_any_scope`, `require_roles` (every one, from
  `Claims.roles`), `require_any_role`, `require_claim(name, *accepted_values)`: guards for
  ``dependencies=[...]`` of a route or a router, or a parameter default
  (``claims: Claims = require_scopes("read:items")``). They are FastAPI `Security`
  dependencies: `require_scopes` lists its scopes in the operation's security requirement,
  the others list the scheme only (a requirement's scopes are all required; roles and claims
  are no OAuth scopes).
- `JWKSAuth`: the same dependencies bound to its own verifier, realm and OpenAPI scheme
  (HTTP bearer by default; any FastAPI `OAuth2AuthorizationCodeBearer` or `OpenIdConnect`
  object for Swagger UI to obtain tokens; see `swagger_ui_oauth` for PKCE).
- `AuthHTTPException`, `refusal_handler`: how refusals leave the dependencies (below).

Where claims come from, for every dependency: the middleware's, when it authenticated the
request; otherwise the dependency's `JWKSAuth` verifies the token (the module-level
dependencies use the `JWKSAuth` installed on the app). A token is verified at most once per
request, however many dependencies ask, and the claims are left in `request.state.claims`.

Refusals are the middleware's, byte for byte (status, `WWW-Authenticate` challenge with
`realm`, `Cache-Control: no-store`, JSON body ``{"error", "error_description"}``), when
`refusal_handler` is installed for `AuthHTTPException`: `JWKSAuth.install` does it, or
``app.add_exception_handler(AuthHTTPException, refusal_handler)``. A dependency can only stop
a request by raising, and FastAPI's default handler would wrap the body as
``{"detail": {...}}`` (status and headers still the same). On WebSocket routes the handler
refuses the handshake before `accept`: a 401/403 denial response where the server supports
the `websocket.http.response` extension, close code 1008 otherwise.
"""

# No `from __future__ import annotations`: FastAPI reads the annotations of
# `ClaimsDependency.__call__` at run time, and older FastAPI releases resolve the string
# annotations of a callable object in an empty namespace (it has no `__globals__`).

import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from typing import Annotated, Any, Final, TypeAlias

try:
    from fastapi import HTTPException, Security
    from fastapi.openapi.models import SecuritySchemeType
    from fastapi.security import HTTPBearer, SecurityScopes
    from fastapi.security.base import SecurityBase
except ImportError as error:  # tested with FastAPI hidden
    raise ImportError(
        'jwks_middleware.fastapi needs FastAPI: pip install "jwks-middleware[fastapi]"'
    ) from error

import httpx
from starlette.applications import Starlette
from starlette.authentication import AuthCredentials, UnauthenticatedUser
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from ._claims import Claims
from ._config import DEFAULT_MAX_TOKEN_BYTES, DEFAULT_TOKEN_CACHE_SIZE
from ._decorators import missing_scopes
from ._errors import AuthError, InsufficientScopeError, MissingTokenError
from ._events import EventHook
from ._extract import TokenSources
from ._guards import ClaimName, ClaimsCheck, all_roles, any_role, any_scope, claim_value, names
from ._issuer import Issuer
from ._middleware import REALM_SCOPE_KEY, ClaimsUser, verify_or_refuse
from ._responses import error_body, refusal_headers, send_refusal
from ._store import IssuerResolver
from ._verify import TokenVerifier

__all__ = [
    "APP_STATE_KEY",
    "DEFAULT_SCHEME_NAME",
    "AuthClaims",
    "AuthHTTPException",
    "ClaimsDependency",
    "JWKSAuth",
    "OptionalAuthClaims",
    "current_claims",
    "optional_claims",
    "refusal_handler",
    "require_any_role",
    "require_any_scope",
    "require_claim",
    "require_roles",
    "require_scopes",
    "swagger_ui_oauth",
]

#: Attribute of `app.state` holding the `JWKSAuth` installed on an app.
APP_STATE_KEY: Final = "jwks_auth"
#: OpenAPI name of the default security scheme (HTTP bearer, JWT).
DEFAULT_SCHEME_NAME: Final = "JWT"
# Claims already verified for this request, per JWKSAuth: a token is verified once per request.
_VERIFIED_SCOPE_KEY: Final = "jwks_middleware.fastapi.verified"


class AuthHTTPException(HTTPException):
    """A refusal raised by the dependencies: `error` (an `AuthError`) answered in `realm`.

    Its status and headers are the middleware's; its `detail` is the middleware's JSON body.
    """

    def __init__(self, error: AuthError, realm: str | None) -> None:
        self.error = error
        self.realm = realm
        super().__init__(error.status_code, detail=error_body(error), headers=_headers(error, realm))


class _Refusal(Response):
    """The middleware's refusal as a response: HTTP, or a WebSocket handshake denial."""

    def __init__(self, error: AuthError, realm: str | None) -> None:
        self.error, self.realm = error, realm
        body = json.dumps(error_body(error), separators=(",", ":")).encode()
        super().__init__(body, status_code=error.status_code, headers=_headers(error, realm))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await send_refusal(self.error, scope, receive, send, self.realm)
        else:
            await super().__call__(scope, receive, send)


def _headers(error: AuthError, realm: str | None) -> dict[str, str]:
    return {name.decode("latin-1"): value.decode("latin-1") for name, value in refusal_headers(error, realm)}


async def refusal_handler(request: Request, exc: Exception) -> Response:
    """Exception handler answering `AuthHTTPException` exactly as the middleware refuses."""
    if not isinstance(exc, AuthHTTPException):
        raise TypeError("refusal_handler handles AuthHTTPException only")
    return _Refusal(exc.error, exc.realm)


class ClaimsDependency(SecurityBase):
    """A FastAPI dependency giving the verified `Claims` of a request, seen by OpenAPI as its
    `JWKSAuth`'s security scheme. It enforces the `scopes` of the `Security(...)` declarations
    above it (`SecurityScopes`), then its own `check`. Made by `JWKSAuth`; `current_claims`
    and `optional_claims` are two of them."""

    def __init__(self, auth: "JWKSAuth", *, optional: bool = False, check: ClaimsCheck | None = None) -> None:
        self.model = auth.scheme.model
        self.scheme_name = auth.scheme.scheme_name
        self.auth = auth
        self.optional = optional
        self.check = check

    async def __call__(self, connection: HTTPConnection, security_scopes: SecurityScopes) -> Claims | None:
        auth = self.auth
        try:
            claims = await auth._claims_of(connection)
            if claims is None:
                if self.optional:
                    return None
                raise MissingTokenError()
            required = security_scopes.scopes
            missing = missing_scopes(claims, required)
            if missing:
                raise InsufficientScopeError(required, missing)
            error = self.check(claims) if self.check is not None else None
            if error is not None:
                raise error
        except AuthError as error:
            raise AuthHTTPException(error, auth._realm_of(connection.scope)) from None
        return claims

    def __repr__(self) -> str:
        return f"ClaimsDependency(scheme={self.scheme_name!r}, optional={self.optional})"


class JWKSAuth:
    """Token verification for FastAPI dependencies, with or without `JWKSMiddleware`.

    `issuers` (a list of `Issuer`, or a resolver callable) or a ready `verifier`: tokens of
    requests the middleware did not authenticate are verified here. Without either, the
    dependencies use the middleware's claims only (or the `JWKSAuth` installed on the app).
    `realm` goes into every challenge (default: the middleware's realm). `scheme` is the
    OpenAPI security scheme: a FastAPI `HTTPBearer`, `OAuth2AuthorizationCodeBearer`,
    `OAuth2` or `OpenIdConnect` object, only read for its `model` and `scheme_name` (default:
    HTTP bearer, JWT, named `DEFAULT_SCHEME_NAME`). `cookie_name`, `websocket_query_param` and
    the verifier options are those of `JWKSMiddleware`.

    Dependencies: `claims`, `optional_claims`, `require_scopes`, `require_any_scope`,
    `require_roles`, `require_any_role`, `require_claim`. Wiring: `install(app)`, or
    ``FastAPI(lifespan=auth.lifespan)`` plus the `refusal_handler`.
    """

    def __init__(
        self,
        issuers: Iterable[Issuer] | IssuerResolver | None = None,
        *,
        verifier: TokenVerifier | None = None,
        realm: str | None = None,
        scheme: SecurityBase | None = None,
        cookie_name: str | None = None,
        websocket_query_param: str | None = None,
        http_client: httpx.AsyncClient | None = None,
        on_event: EventHook | None = None,
        token_cache_size: int = DEFAULT_TOKEN_CACHE_SIZE,
        max_token_bytes: int = DEFAULT_MAX_TOKEN_BYTES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if issuers is not None and verifier is not None:
            raise TypeError("give issuers=... or verifier=..., not both")
        if issuers is not None:
            verifier = TokenVerifier(
                issuers,
                http_client=http_client,
                clock=clock,
                on_event=on_event,
                token_cache_size=token_cache_size,
                max_token_bytes=max_token_bytes,
            )
        #: Verifies tokens the middleware did not; None: rely on the middleware.
        self.verifier = verifier
        self.realm = realm
        self.sources = TokenSources(cookie_name=cookie_name, websocket_query_param=websocket_query_param)
        self.scheme = _bearer_scheme(scheme)
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

    def _guard(self, check: ClaimsCheck) -> Any:
        return Security(ClaimsDependency(self, check=check))

    # -- wiring ------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        """Lifespan of an app: preload keys and start refreshing them, stop on shutdown; and
        make this the `JWKSAuth` of the module-level dependencies for `app`."""
        _register(app, self)
        if self.verifier is None:
            yield
            return
        await self.verifier.start()
        try:
            yield
        finally:
            await self.verifier.aclose()

    def install(self, app: Starlette) -> None:
        """Wire this into `app` before it starts: `lifespan` around the app's own lifespan,
        `refusal_handler` for `AuthHTTPException`, and the module-level dependencies' fallback."""
        if app.middleware_stack is not None:
            raise RuntimeError("install() must be called before the app starts")
        if _installed(app) is not None:
            raise ValueError("a JWKSAuth is installed on this app already")
        _register(app, self)
        app.add_exception_handler(AuthHTTPException, refusal_handler)
        app_lifespan = app.router.lifespan_context

        @contextlib.asynccontextmanager
        async def lifespan(lifespan_app: Any) -> AsyncIterator[Mapping[str, Any] | None]:
            async with self.lifespan(lifespan_app), app_lifespan(lifespan_app) as state:
                yield state

        app.router.lifespan_context = lifespan  # type: ignore[assignment]  # state passes through

    def ready(self) -> bool:
        """True when every configured issuer has usable keys (always true without a verifier)."""
        return self.verifier is None or self.verifier.ready()

    # -- internals ---------------------------------------------------------------------------

    async def _claims_of(self, connection: HTTPConnection) -> Claims | None:
        scope = connection.scope
        state: dict[str, Any] = scope.setdefault("state", {})
        if REALM_SCOPE_KEY in scope and "claims" in state:
            claims: Claims | None = state["claims"]  # the middleware authenticated this request
            return claims
        auth = self if self.verifier is not None else _installed(scope.get("app"))
        if auth is None or auth.verifier is None:
            raise RuntimeError(
                "no claims: the request did not pass JWKSMiddleware (is its path excluded?) and no "
                "JWKSAuth with issuers verifies it (give JWKSAuth issuers, or install one on the app)"
            )
        verified: dict[JWKSAuth, Claims | None] = scope.setdefault(_VERIFIED_SCOPE_KEY, {})
        if auth in verified:
            return verified[auth]
        token = auth.sources.token(scope)
        claims = None if token is None else await verify_or_refuse(auth.verifier, token)
        verified[auth] = claims
        # The same view of the request as with the middleware.
        state["claims"] = claims
        if claims is None:
            scope["auth"], scope["user"] = AuthCredentials(), UnauthenticatedUser()
        else:
            scope["auth"], scope["user"] = AuthCredentials(sorted(claims.scopes)), ClaimsUser(claims)
        return claims

    def _realm_of(self, scope: Scope) -> str | None:
        if self.realm is not None:
            return self.realm
        realm: str | None = scope.get(REALM_SCOPE_KEY)
        if realm is not None:
            return realm
        installed = _installed(scope.get("app"))
        return installed.realm if installed is not None else None

    def __repr__(self) -> str:
        scheme = self.scheme.scheme_name
        return f"JWKSAuth(verifier={self.verifier!r}, realm={self.realm!r}, scheme={scheme!r})"


def swagger_ui_oauth(client_id: str, *, scopes: Iterable[str] = ()) -> dict[str, Any]:
    """Swagger UI's OAuth settings for the authorization code flow with PKCE (a public client,
    no secret): ``FastAPI(swagger_ui_init_oauth=swagger_ui_oauth("my-client", scopes=[...]))``.
    The issuer must accept the redirect URI ``<app>/docs/oauth2-redirect``."""
    if not isinstance(client_id, str) or not client_id:
        raise ValueError("client_id must be a non-empty string")
    settings: dict[str, Any] = {"clientId": client_id, "usePkceWithAuthorizationCodeGrant": True}
    scope_list = tuple(scopes)
    if scope_list:
        settings["scopes"] = " ".join(names(scope_list, "swagger_ui_oauth", "scope"))
    return settings


def _bearer_scheme(scheme: SecurityBase | None) -> SecurityBase:
    if scheme is None:
        return HTTPBearer(
            bearerFormat="JWT",
            scheme_name=DEFAULT_SCHEME_NAME,
            description="A JWT access token from a trusted issuer: `Authorization: Bearer <token>`.",
        )
    if not isinstance(scheme, SecurityBase):
        raise TypeError("scheme must be a FastAPI security scheme, e.g. HTTPBearer() or OpenIdConnect()")
    kind = scheme.model.type_
    bearer = kind == SecuritySchemeType.http and getattr(scheme.model, "scheme", "").lower() == "bearer"
    if not bearer and kind not in (SecuritySchemeType.oauth2, SecuritySchemeType.openIdConnect):
        raise ValueError("scheme must describe bearer tokens: HTTP bearer, OAuth2 or OpenID Connect")
    return scheme


def _register(app: Starlette, auth: JWKSAuth) -> None:
    installed = _installed(app)
    if installed is not None and installed is not auth:
        raise ValueError("another JWKSAuth is installed on this app")
    setattr(app.state, APP_STATE_KEY, auth)


def _installed(app: object) -> JWKSAuth | None:
    auth = getattr(getattr(app, "state", None), APP_STATE_KEY, None)
    return auth if isinstance(auth, JWKSAuth) else None


_DEFAULT: Final = JWKSAuth()

#: Dependency: the `Claims` of the request (401 without a valid token); the middleware's, or
#: verified by the `JWKSAuth` installed on the app. OpenAPI: the HTTP bearer scheme.
current_claims: Final = _DEFAULT.claims
#: Dependency: the `Claims`, or None for an anonymous request; a token sent must be valid.
optional_claims: Final = _DEFAULT.optional_claims
#: ``claims: AuthClaims`` in a route's parameters: the request's `Claims`.
AuthClaims: TypeAlias = Annotated[Claims, Security(current_claims)]
#: ``claims: OptionalAuthClaims``: the request's `Claims`, or None when anonymous.
OptionalAuthClaims: TypeAlias = Annotated[Claims | None, Security(optional_claims)]


def require_scopes(*scopes: str) -> Any:
    """Guard: every one of `scopes` (403 `insufficient_scope` otherwise); listed in OpenAPI."""
    return _DEFAULT.require_scopes(*scopes)


def require_any_scope(*scopes: str) -> Any:
    """Guard: at least one of `scopes`."""
    return _DEFAULT.require_any_scope(*scopes)


def require_roles(*roles: str) -> Any:
    """Guard: every one of `roles` (`Claims.roles`)."""
    return _DEFAULT.require_roles(*roles)


def require_any_role(*roles: str) -> Any:
    """Guard: at least one of `roles`."""
    return _DEFAULT.require_any_role(*roles)


def require_claim(name: ClaimName, *accepted_values: object) -> Any:
    """Guard: claim `name` (or a path) present and, when values are given, one of them."""
    return _DEFAULT.require_claim(name, *accepted_values)
