"""A WebSocket endpoint protected by jwks-middleware; the token comes in a header or a query parameter.

Browsers cannot set headers on a WebSocket, so the middleware also takes the token from the
`access_token` query parameter, for WebSocket handshakes only (`websocket_query_param`).
Other clients should prefer the header: a URL may end up in proxy and server access logs, so
give browsers short-lived tokens. A token in both places is refused (400), never guessed.

A refused handshake is refused before `accept`: a 401/403 answer where the server supports
the `websocket.http.response` extension (uvicorn does), close code 1008 otherwise.

    JWKS_ISSUER=https://tenant.example.com/ JWKS_AUDIENCE=https://api.example.com \
        uvicorn examples.websocket_app:app     # needs a WebSocket library: pip install websockets

    // in a browser
    new WebSocket(`ws://127.0.0.1:8000/ws/chat?access_token=${token}`)

Settings (environment): JWKS_ISSUER, JWKS_AUDIENCE, JWKS_URI as in starlette_app.py.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from jwks_middleware import Claims, Issuer, JWKSMiddleware, requires_scopes

LOCAL_ISSUER = "http://127.0.0.1:9000"
LOCAL_AUDIENCE = "https://api.example.test"
#: Close code of a connection whose token expired (RFC 6455 section 7.4.1: policy violation).
WS_POLICY_VIOLATION = 1008


def issuer_from_env() -> Issuer:
    """The trusted issuer, from the environment."""
    return Issuer(
        os.environ.get("JWKS_ISSUER", LOCAL_ISSUER),
        audience=os.environ.get("JWKS_AUDIENCE", LOCAL_AUDIENCE),
        jwks_uri=os.environ.get("JWKS_URI") or None,
    )


@requires_scopes("chat:write")  # checked before accept(): a refused client never gets a connection
async def chat(websocket: WebSocket) -> None:
    claims: Claims = websocket.state.claims
    await websocket.accept()
    await websocket.send_json({"hello": claims.subject, "scopes": sorted(claims.scopes)})
    try:
        while True:
            text = await websocket.receive_text()
            # The token was checked at the handshake only: a connection must not outlive it.
            expires_at = claims.expires_at
            if expires_at is None or expires_at <= datetime.now(timezone.utc):
                await websocket.close(code=WS_POLICY_VIOLATION, reason="token expired")
                return
            await websocket.send_json({"from": claims.subject, "text": text})
    except WebSocketDisconnect:
        pass


def create_app(issuers: list[Issuer] | None = None) -> Starlette:
    """The app; tests pass their own issuers."""
    return Starlette(
        routes=[WebSocketRoute("/ws/chat", chat)],
        middleware=[
            Middleware(
                JWKSMiddleware,
                issuers=issuers if issuers is not None else [issuer_from_env()],
                websocket_query_param="access_token",
            )
        ],
    )


app = create_app()
