"""A Litestar API protected by jwks-middleware: the middleware is pure ASGI, so it wraps the
Litestar app whole (its lifespan included: keys load before the app reports started).

    JWKS_ISSUER=https://tenant.example.com/ JWKS_AUDIENCE=https://api.example.com \
        uvicorn examples.litestar_app:app

Claims are where Litestar users look for them: `request.user` (a `ClaimsUser`, whose `claims`
are the token's), `request.auth` (Starlette-style credentials: the token's scopes plus
"authenticated") and `request.scope["state"]["claims"]`. Settings as in starlette_app.py.
"""

from __future__ import annotations

import os
from typing import Any

from litestar import Litestar, Request, get
from litestar.exceptions import PermissionDeniedException

from jwks_middleware import Claims, ClaimsUser, Issuer, JWKSMiddleware

LOCAL_ISSUER = "http://127.0.0.1:9000"
LOCAL_AUDIENCE = "https://api.example.test"


def issuer_from_env() -> Issuer:
    """The trusted issuer, from the environment."""
    return Issuer(
        os.environ.get("JWKS_ISSUER", LOCAL_ISSUER),
        audience=os.environ.get("JWKS_AUDIENCE", LOCAL_AUDIENCE),
        jwks_uri=os.environ.get("JWKS_URI") or None,
    )


@get("/public")
async def public() -> dict[str, str]:
    return {"message": "anyone may read this"}


@get("/me")
async def me(request: Request[ClaimsUser, Any, Any]) -> dict[str, Any]:
    claims: Claims = request.user.claims
    return {"sub": claims.subject, "scopes": sorted(claims.scopes)}


@get("/items")
async def items(request: Request[ClaimsUser, Any, Any]) -> dict[str, Any]:
    if "read:items" not in request.user.claims.scopes:
        raise PermissionDeniedException("read:items is required")
    return {"items": ["apple", "pear"], "for": request.user.claims.subject}


def create_app(issuers: list[Issuer] | None = None) -> JWKSMiddleware:
    """The Litestar app wrapped by the middleware; tests pass their own issuers."""
    # Litestar types ASGI scopes as TypedDicts, Starlette as mappings: the same protocol.
    return JWKSMiddleware(
        Litestar(route_handlers=[public, me, items]),  # type: ignore[arg-type]
        issuers=issuers if issuers is not None else [issuer_from_env()],
        exclude_paths=["/public"],
    )


app = create_app()
