"""A FastAPI API protected by jwks-middleware's dependencies: every form, and Swagger "Authorize".

Run it against any OpenID Connect issuer (or `jwks-middleware demo`'s local one), then open
http://127.0.0.1:8000/docs::

    JWKS_ISSUER=https://tenant.example.com/ JWKS_AUDIENCE=https://api.example.com \
        uvicorn examples.fastapi_app:app

Settings (environment):
    JWKS_ISSUER       the tokens' exact `iss` (default: a local issuer, http://127.0.0.1:9000)
    JWKS_AUDIENCE     your API's audience (default: https://api.example.test)
    JWKS_URI          the JWKS URL, when the issuer has no discovery document (optional)
    JWKS_ROLE_CLAIM   where the roles are, dotted: `roles` (Entra ID, the default),
                      `realm_access.roles` (Keycloak), `https://example.com/roles` (Auth0)
    SWAGGER_AUTHORIZATION_URL, SWAGGER_TOKEN_URL, SWAGGER_CLIENT_ID
                      all three set: Swagger UI logs in with the authorization code flow and PKCE
                      (allow the redirect URI http://127.0.0.1:8000/docs/oauth2-redirect at the
                      issuer); otherwise its Authorize button asks for a bearer token to paste

Routes (scopes and roles the token needs):
    GET    /hello              none (greets the caller when a token is sent)
    GET    /me                 any valid token
    GET    /items              read:items             POST /items   write:items
    GET    /items/{name}       read:items
    GET    /reports            read:reports or admin
    GET    /beta               claim email_verified = true
    GET    /admin/stats        role admin             DELETE /admin/items/{name}   admin, and owner or janitor
    GET    /whoami, /greeting  the module-level forms (`AuthClaims`, `OptionalAuthClaims`)
    WS     /ws/items           read:items
"""

from __future__ import annotations

import os
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Security, WebSocket
from fastapi.security import OAuth2AuthorizationCodeBearer
from fastapi.security.base import SecurityBase

from jwks_middleware import Claims, Issuer
from jwks_middleware.fastapi import (
    AuthClaims,
    JWKSAuth,
    OptionalAuthClaims,
    require_scopes,
    swagger_ui_oauth,
)

LOCAL_ISSUER = "http://127.0.0.1:9000"
LOCAL_AUDIENCE = "https://api.example.test"
SCOPES = {"read:items": "Read items", "write:items": "Create items", "read:reports": "Read reports"}


def issuer_from_env() -> Issuer:
    """The trusted issuer, from the environment."""
    return Issuer(
        os.environ.get("JWKS_ISSUER", LOCAL_ISSUER),
        audience=os.environ.get("JWKS_AUDIENCE", LOCAL_AUDIENCE),
        jwks_uri=os.environ.get("JWKS_URI") or None,
        role_claims=[tuple(os.environ.get("JWKS_ROLE_CLAIM", "roles").split("."))],
    )


def swagger_login() -> tuple[SecurityBase | None, dict[str, Any] | None]:
    """The OpenAPI scheme and Swagger UI settings: authorization code + PKCE when configured."""
    authorization_url = os.environ.get("SWAGGER_AUTHORIZATION_URL")
    token_url = os.environ.get("SWAGGER_TOKEN_URL")
    client_id = os.environ.get("SWAGGER_CLIENT_ID")
    if not (authorization_url and token_url and client_id):
        return None, None  # the default: HTTP bearer, paste a token
    scheme = OAuth2AuthorizationCodeBearer(
        authorizationUrl=authorization_url, tokenUrl=token_url, scopes=SCOPES, scheme_name="OAuth2"
    )
    return scheme, swagger_ui_oauth(client_id, scopes=["openid", *SCOPES])


scheme, swagger_ui_init_oauth = swagger_login()
auth = JWKSAuth(issuers=[issuer_from_env()], realm="example", scheme=scheme)
app = FastAPI(title="jwks-middleware example", swagger_ui_init_oauth=swagger_ui_init_oauth)
# Preloads and refreshes keys with the app's lifespan, answers refusals exactly as the
# middleware would, and lets the module-level dependencies verify tokens with `auth`.
auth.install(app)

#: The caller's verified claims (401 without a valid token), in the scheme of `auth`.
Caller = Annotated[Claims, Security(auth.claims)]
#: The caller's claims, or None for an anonymous request.
MaybeCaller = Annotated[Claims | None, Security(auth.optional_claims)]


@app.get("/me")
async def me(claims: Caller) -> dict[str, Any]:
    """Any valid token: who is calling, and with which scopes and roles."""
    return {"sub": claims.subject, "scopes": sorted(claims.scopes), "roles": sorted(claims.roles)}


@app.get("/hello")
async def hello(claims: MaybeCaller) -> dict[str, str]:
    """Open to everyone; a token, when sent, must be valid."""
    if claims is None:
        return {"hello": "stranger"}
    return {"hello": claims.subject or "someone"}


@app.get("/items", dependencies=[auth.require_scopes("read:items")])
async def list_items() -> list[str]:
    """A guard in `dependencies`: scope `read:items`, listed in the OpenAPI operation."""
    return ["apple", "pear"]


@app.post("/items", status_code=201)
async def add_item(
    name: str, claims: Annotated[Claims, auth.require_scopes("write:items")]
) -> dict[str, Any]:
    """A guard as a parameter: scope `write:items`, and the claims of the caller."""
    return {"name": name, "created_by": claims.subject or ""}


@app.get("/reports", dependencies=[auth.require_any_scope("read:reports", "admin")])
async def reports() -> list[str]:
    """Either scope will do."""
    return ["q1", "q2"]


@app.get("/beta", dependencies=[auth.require_claim("email_verified", True)])
async def beta() -> dict[str, bool]:
    """Any claim: only callers with a verified e-mail address."""
    return {"beta": True}


# A guard on a whole router: every route below needs the `admin` role (`Claims.roles`).
admin = APIRouter(prefix="/admin", tags=["admin"], dependencies=[auth.require_roles("admin")])


@admin.get("/stats")
async def stats(claims: Caller) -> dict[str, Any]:
    """Role `admin`."""
    return {"requests": 42, "seen_by": claims.subject}


@admin.delete("/items/{name}", dependencies=[auth.require_any_role("owner", "janitor")])
async def delete_item(name: str) -> dict[str, str]:
    """Role `admin`, and `owner` or `janitor` too."""
    return {"deleted": name}


app.include_router(admin)


# The module-level dependencies: with JWKSMiddleware they read its claims; here they verify with
# the JWKSAuth installed on the app. They document the default HTTP bearer scheme ("JWT").
@app.get("/whoami")
async def whoami(claims: AuthClaims) -> dict[str, str | None]:
    """`AuthClaims`: the typed alias of `current_claims`."""
    return {"sub": claims.subject}


@app.get("/greeting")
async def greeting(claims: OptionalAuthClaims) -> dict[str, bool]:
    """`OptionalAuthClaims`: None when anonymous."""
    return {"signed_in": claims is not None}


@app.get("/items/{name}")
async def get_item(name: str, claims: Claims = require_scopes("read:items")) -> dict[str, Any]:
    """A module-level guard as a parameter default."""
    return {"name": name, "read_by": claims.subject}


@app.websocket("/ws/items", dependencies=[auth.require_scopes("read:items")])
async def item_feed(websocket: WebSocket, claims: Caller) -> None:
    """The same dependencies on a WebSocket: refused at the handshake, before `accept`."""
    await websocket.accept()
    await websocket.send_json({"hello": claims.subject, "items": ["apple", "pear"]})
    await websocket.close()
