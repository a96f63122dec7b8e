"""A Quart API protected by jwks-middleware: Quart's documented way to add ASGI middleware is
to wrap `app.asgi_app`, and the middleware is pure ASGI (HTTP and WebSocket).

    JWKS_ISSUER=https://tenant.example.com/ JWKS_AUDIENCE=https://api.example.com \
        uvicorn examples.quart_app:app

Claims: `claims()` below reads them from the request's ASGI scope (`request.scope["state"]`),
where the middleware puts them; on a WebSocket route, from `websocket.scope`. Settings as in
starlette_app.py.
"""

from __future__ import annotations

import os
from typing import Any

from quart import Quart, abort, request, websocket

from jwks_middleware import Claims, Issuer, JWKSMiddleware

LOCAL_ISSUER = "http://127.0.0.1:9000"
LOCAL_AUDIENCE = "https://api.example.test"


def issuer_from_env() -> Issuer:
    """The trusted issuer, from the environment."""
    return Issuer(
        os.environ.get("JWKS_ISSUER", LOCAL_ISSUER),
        audience=os.environ.get("JWKS_AUDIENCE", LOCAL_AUDIENCE),
        jwks_uri=os.environ.get("JWKS_URI") or None,
    )


def claims() -> Claims:
    """The verified claims of the current request."""
    found: Claims = request.scope["state"]["claims"]
    return found


def create_app(issuers: list[Issuer] | None = None) -> Quart:
    """The Quart app, its ASGI app wrapped by the middleware; tests pass their own issuers."""
    app = Quart(__name__)

    @app.get("/public")
    async def public() -> dict[str, str]:
        return {"message": "anyone may read this"}

    @app.get("/me")
    async def me() -> dict[str, Any]:
        return {"sub": claims().subject, "scopes": sorted(claims().scopes)}

    @app.get("/items")
    async def items() -> dict[str, Any]:
        if "read:items" not in claims().scopes:
            abort(403)
        return {"items": ["apple", "pear"], "for": claims().subject}

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        await websocket.send_json({"sub": websocket.scope["state"]["claims"].subject})

    # Quart types ASGI scopes as TypedDicts, Starlette as mappings: the same protocol underneath.
    app.asgi_app = JWKSMiddleware(  # type: ignore[assignment,method-assign]
        app.asgi_app,  # type: ignore[arg-type]
        issuers=issuers if issuers is not None else [issuer_from_env()],
        exclude_paths=["/public"],
    )
    return app


app = create_app()
