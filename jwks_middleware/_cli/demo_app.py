"""The demo API of `jwks-middleware demo`: the Starlette example, packaged so the demo runs
from an installed wheel (examples/starlette_app.py is the same app, written for reading).

Routes::

    GET  /public    no token needed (excluded from authentication)
    GET  /items     scope read:items
    POST /items     scope write:items
    GET  /me        any valid token
    WS   /ws        scope read:items; token in the Authorization header or ?access_token=
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from .._claims import Claims
from .._decorators import requires_scopes
from .._issuer import Issuer
from .._middleware import JWKSMiddleware

__all__ = ["DEMO_ROUTES", "WEBSOCKET_QUERY_PARAM", "create_demo_app"]

#: Query parameter that may carry the token of a WebSocket handshake (browsers cannot set headers).
WEBSOCKET_QUERY_PARAM: Final = "access_token"
#: What the demo serves, for the banner: (method, path, what it requires).
DEMO_ROUTES: Final = (
    ("GET", "/public", "nothing"),
    ("GET", "/items", "scope read:items"),
    ("POST", "/items", "scope write:items"),
    ("GET", "/me", "any valid token"),
    ("WS", "/ws", "scope read:items"),
)
_FIRST_ITEMS: Final = ({"id": 1, "name": "apple"}, {"id": 2, "name": "pear"})


def create_demo_app(issuers: Iterable[Issuer]) -> Starlette:
    """The demo API, trusting `issuers`; each app keeps its own in-memory item list."""
    items: list[dict[str, Any]] = [dict(item) for item in _FIRST_ITEMS]

    async def public(request: Request) -> JSONResponse:
        return JSONResponse({"message": "anyone may read this"})

    @requires_scopes("read:items")
    async def list_items(request: Request) -> JSONResponse:
        claims: Claims = request.state.claims
        return JSONResponse({"items": items, "for": claims.subject})

    @requires_scopes("write:items")
    async def create_item(request: Request) -> JSONResponse:
        try:
            body = await request.json()
        except ValueError:
            body = None
        name = body.get("name") if isinstance(body, dict) else None
        if not isinstance(name, str) or not name:
            return JSONResponse({"error": 'send {"name": "..."}'}, status_code=422)
        item = {"id": len(items) + 1, "name": name[:100]}
        items.append(item)
        return JSONResponse(item, status_code=201)

    async def me(request: Request) -> JSONResponse:
        return JSONResponse(_describe(request.state.claims))

    @requires_scopes("read:items")
    async def updates(websocket: WebSocket) -> None:
        await websocket.accept()
        claims: Claims = websocket.state.claims
        await websocket.send_json({"hello": claims.subject, "items": items})
        try:
            while True:
                await websocket.send_json({"echo": await websocket.receive_text()})
        except WebSocketDisconnect:
            return

    return Starlette(
        routes=[
            Route("/public", public),
            Route("/items", list_items, methods=["GET"]),
            Route("/items", create_item, methods=["POST"]),
            Route("/me", me),
            WebSocketRoute("/ws", updates),
        ],
        middleware=[
            Middleware(
                JWKSMiddleware,
                issuers=list(issuers),
                exclude_paths=["/public"],
                websocket_query_param=WEBSOCKET_QUERY_PARAM,
            )
        ],
    )


def _describe(claims: Claims) -> dict[str, Any]:
    expires = claims.expires_at
    return {
        "sub": claims.subject,
        "iss": claims.issuer,
        "aud": claims.audience,
        "scopes": sorted(claims.scopes),
        "expires_at": expires.isoformat() if expires else None,
    }
