"""A plain Starlette API protected by jwks-middleware, with per-route scope guards.

Run it against any OpenID Connect issuer (or `jwks-middleware demo`'s local one)::

    JWKS_ISSUER=https://tenant.example.com/ JWKS_AUDIENCE=https://api.example.com \
        uvicorn examples.starlette_app:app

Settings (environment):
    JWKS_ISSUER     the tokens' exact `iss` (default: a local issuer, http://127.0.0.1:9000)
    JWKS_AUDIENCE   your API's audience (default: https://api.example.test)
    JWKS_URI        the JWKS URL, when the issuer has no discovery document (optional)

Routes:
    GET  /public   no token needed
    GET  /items    scope read:items
    POST /items    scope write:items
    GET  /me       any valid token
"""

from __future__ import annotations

import os
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from jwks_middleware import Claims, Issuer, JWKSMiddleware, requires_scopes

LOCAL_ISSUER = "http://127.0.0.1:9000"
LOCAL_AUDIENCE = "https://api.example.test"

ITEMS: list[dict[str, Any]] = [{"id": 1, "name": "apple"}, {"id": 2, "name": "pear"}]


def issuer_from_env() -> Issuer:
    """The trusted issuer, from the environment."""
    return Issuer(
        os.environ.get("JWKS_ISSUER", LOCAL_ISSUER),
        audience=os.environ.get("JWKS_AUDIENCE", LOCAL_AUDIENCE),
        jwks_uri=os.environ.get("JWKS_URI") or None,
    )


async def public(request: Request) -> JSONResponse:
    return JSONResponse({"message": "anyone may read this"})


@requires_scopes("read:items")
async def list_items(request: Request) -> JSONResponse:
    claims: Claims = request.state.claims
    return JSONResponse({"items": ITEMS, "for": claims.subject})


@requires_scopes("write:items")
async def create_item(request: Request) -> JSONResponse:
    try:
        body = await request.json()
    except ValueError:
        body = None
    name = body.get("name") if isinstance(body, dict) else None
    if not isinstance(name, str) or not name:
        return JSONResponse({"error": 'send {"name": "..."}'}, status_code=422)
    item = {"id": len(ITEMS) + 1, "name": name[:100]}
    ITEMS.append(item)
    return JSONResponse(item, status_code=201)


async def me(request: Request) -> JSONResponse:
    claims: Claims = request.state.claims
    return JSONResponse({"sub": claims.subject, "scopes": sorted(claims.scopes), "iss": claims.issuer})


def create_app(issuers: list[Issuer] | None = None) -> Starlette:
    """The API; tests pass their own issuers (see test_my_app.py)."""
    return Starlette(
        routes=[
            Route("/public", public),
            Route("/items", list_items, methods=["GET"]),
            Route("/items", create_item, methods=["POST"]),
            Route("/me", me),
        ],
        middleware=[
            Middleware(
                JWKSMiddleware,
                issuers=issuers if issuers is not None else [issuer_from_env()],
                exclude_paths=["/public"],  # exact paths; a token sent there is not even looked at
            )
        ],
    )


app = create_app()
