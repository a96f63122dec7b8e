"""Configuration for real identity providers, read from environment variables.

`JWKS_PROVIDER` picks the provider; each one reads its own variables and uses the preset of
`jwks_middleware.providers`, which knows that provider's `iss` spelling, key URL and claim
quirks (Auth0's `permissions`, Okta's `scp` list, Cognito's `client_id` instead of `aud`,
Entra ID's keys without `alg`, Keycloak's realm roles, Clerk's `azp`). Missing variables
fail at start-up with the name of the variable, never at the first request.

    JWKS_PROVIDER=auth0 AUTH0_DOMAIN=tenant.eu.auth0.com AUTH0_AUDIENCE=https://api.example.com \
        uvicorn examples.providers_from_env:app

JWKS_PROVIDER   variables (* required)
  oidc          JWKS_ISSUER, JWKS_AUDIENCE, JWKS_URI: any OpenID Connect issuer (the default,
                pointing at a local issuer: http://127.0.0.1:9000, https://api.example.test)
  auth0         AUTH0_DOMAIN*, AUTH0_AUDIENCE* (the API Identifier)
  okta          OKTA_DOMAIN*, OKTA_AUDIENCE (api://default), OKTA_AUTHORIZATION_SERVER (default)
  cognito       COGNITO_REGION*, COGNITO_USER_POOL_ID*, COGNITO_CLIENT_IDS* (comma-separated)
  entra         ENTRA_TENANT_ID*, ENTRA_AUDIENCE* (comma-separated: client ID, api://...),
                ENTRA_TOKEN_VERSION (2, or 1 for v1.0 tokens)
  keycloak      KEYCLOAK_URL*, KEYCLOAK_REALM*, KEYCLOAK_AUDIENCE*, KEYCLOAK_CLIENT_ID
  clerk         CLERK_PUBLISHABLE_KEY* or CLERK_FRONTEND_API*, CLERK_AUTHORIZED_PARTIES*
                (comma-separated origins), CLERK_JWT_KEY (PEM: verify with no key fetch at all)
Every provider: ITEMS_SCOPE, the scope GET /items requires (default read:items).

Routes:
    GET /me      any valid token: subject, scopes, roles
    GET /items   the scope in ITEMS_SCOPE
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from jwks_middleware import Claims, Issuer, JWKSMiddleware, providers, requires_scopes

Env = Mapping[str, str]


def _required(env: Env, name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ValueError(f"set {name}: JWKS_PROVIDER={env.get('JWKS_PROVIDER')} needs it")
    return value


def _optional(env: Env, name: str) -> str | None:
    return env.get(name, "").strip() or None


def _list(env: Env, name: str) -> list[str]:
    return [item.strip() for item in _required(env, name).split(",") if item.strip()]


def oidc(env: Env) -> Issuer:
    return Issuer(
        _optional(env, "JWKS_ISSUER") or "http://127.0.0.1:9000",
        audience=_optional(env, "JWKS_AUDIENCE") or "https://api.example.test",
        jwks_uri=_optional(env, "JWKS_URI"),
    )


def auth0(env: Env) -> Issuer:
    return providers.auth0(_required(env, "AUTH0_DOMAIN"), _required(env, "AUTH0_AUDIENCE"))


def okta(env: Env) -> Issuer:
    return providers.okta(
        _required(env, "OKTA_DOMAIN"),
        _optional(env, "OKTA_AUDIENCE") or "api://default",
        authorization_server=_optional(env, "OKTA_AUTHORIZATION_SERVER") or "default",
    )


def cognito(env: Env) -> Issuer:
    return providers.cognito(
        _required(env, "COGNITO_REGION"),
        _required(env, "COGNITO_USER_POOL_ID"),
        _list(env, "COGNITO_CLIENT_IDS"),
    )


def entra(env: Env) -> Issuer:
    version = _optional(env, "ENTRA_TOKEN_VERSION") or "2"
    if version not in ("1", "2"):
        raise ValueError(f"ENTRA_TOKEN_VERSION must be 1 or 2, not {version!r}")
    return providers.entra_id(
        _required(env, "ENTRA_TENANT_ID"), _list(env, "ENTRA_AUDIENCE"), version=1 if version == "1" else 2
    )


def keycloak(env: Env) -> Issuer:
    return providers.keycloak(
        _required(env, "KEYCLOAK_URL"),
        _required(env, "KEYCLOAK_REALM"),
        _required(env, "KEYCLOAK_AUDIENCE"),
        client_id=_optional(env, "KEYCLOAK_CLIENT_ID"),
    )


def clerk(env: Env) -> Issuer:
    publishable_key = _optional(env, "CLERK_PUBLISHABLE_KEY")
    return providers.clerk(
        None if publishable_key else _required(env, "CLERK_FRONTEND_API"),
        publishable_key=publishable_key,
        authorized_parties=_list(env, "CLERK_AUTHORIZED_PARTIES"),
        public_key=_optional(env, "CLERK_JWT_KEY"),
    )


PROVIDERS: dict[str, Callable[[Env], Issuer]] = {
    "oidc": oidc,
    "auth0": auth0,
    "okta": okta,
    "cognito": cognito,
    "entra": entra,
    "keycloak": keycloak,
    "clerk": clerk,
}


def issuer_from_env(env: Env = os.environ) -> Issuer:
    """The `Issuer` of the provider named by JWKS_PROVIDER."""
    name = (_optional(env, "JWKS_PROVIDER") or "oidc").lower()
    if name not in PROVIDERS:
        raise ValueError(f"JWKS_PROVIDER must be one of {', '.join(PROVIDERS)}, not {name!r}")
    return PROVIDERS[name](env)


def create_app(issuer: Issuer | None = None, *, items_scope: str | None = None) -> Starlette:
    """The API; without arguments, configured from the environment."""
    scope = items_scope or _optional(os.environ, "ITEMS_SCOPE") or "read:items"

    async def me(request: Request) -> JSONResponse:
        claims: Claims = request.state.claims
        return JSONResponse(
            {"sub": claims.subject, "scopes": sorted(claims.scopes), "roles": sorted(claims.roles)}
        )

    @requires_scopes(scope)
    async def items(request: Request) -> JSONResponse:
        return JSONResponse({"items": ["apple", "pear"]})

    return Starlette(
        routes=[Route("/me", me), Route("/items", items)],
        middleware=[Middleware(JWKSMiddleware, issuers=[issuer or issuer_from_env()])],
    )


app = create_app()
