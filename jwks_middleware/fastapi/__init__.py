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
  `Claims.roles`), `require_any_role`, `require_claim(name, *accepted_values)`,
  `require_check(check, description=...)` (the app's own rule): guards for
  ``dependencies=[...]`` of a route or a router, or a parameter default
  (``claims: Claims = require_scopes("read:items")``). They are FastAPI `Security`
  dependencies: `require_scopes` lists its scopes in the operation's security requirement,
  the others list the scheme only (a requirement's scopes are all required; roles and claims
  are no OAuth scopes).
- `JWKSAuth`: the same dependencies bound to its own verifier, realm and OpenAPI scheme
  (HTTP bearer by default; any FastAPI `OAuth2AuthorizationCodeBearer` or `OpenIdConnect`
  object for Swagger UI to obtain tokens; see `swagger_ui_oauth` for PKCE).
- `AuthHTTPException`, `refusal_handler`: how refusals leave the dependencies (below).

Where claims come from: the dependencies of a `JWKSAuth` with issuers accept only what its
own verifier verified (the middleware's claims when it shares that verifier; otherwise the
token is verified again, and another issuer's token is refused); the module-level
dependencies and a `JWKSAuth` without issuers take the middleware's claims when it
authenticated the request, else the `JWKSAuth` installed on the app verifies the token. A
token is verified at most once per request and `JWKSAuth`, however many dependencies ask, and
the claims are left in `request.state.claims`.

Refusals are the middleware's, byte for byte (status, `WWW-Authenticate` challenge with
`realm`, `Cache-Control: no-store`, JSON body ``{"error", "error_description"}``), when
`refusal_handler` is installed for `AuthHTTPException`: `JWKSAuth.install` does it, or
``app.add_exception_handler(AuthHTTPException, refusal_handler)``. A dependency can only stop
a request by raising, and FastAPI's default handler would wrap the body as
``{"detail": {...}}`` (status and headers still the same). On WebSocket routes the handler
refuses the handshake before `accept`: a 401/403 denial response where the server supports
the `websocket.http.response` extension, close code 1008 otherwise.
"""

from __future__ import annotations

from .._public import show_as_public

# Checked first, for a clear message: the private modules below import FastAPI.
try:
    import fastapi  # noqa: F401
except ImportError as error:  # tested with FastAPI hidden
    raise ImportError(
        'jwks_middleware.fastapi needs FastAPI: pip install "jwks-middleware[fastapi]"'
    ) from error

from ._auth import APP_STATE_KEY, JWKSAuth
from ._claims_dependency import ClaimsDependency
from ._dependencies import (
    AuthClaims,
    OptionalAuthClaims,
    current_claims,
    optional_claims,
    require_any_role,
    require_any_scope,
    require_check,
    require_claim,
    require_roles,
    require_scopes,
)
from ._openapi import DEFAULT_SCHEME_NAME, swagger_ui_oauth
from ._refusals import AuthHTTPException, refusal_handler

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
    "require_check",
    "require_claim",
    "require_roles",
    "require_scopes",
    "swagger_ui_oauth",
]

show_as_public(__name__, globals(), __all__)
