"""Issuers and small Starlette apps for the tests of the ASGI layer.

Tokens come from `support.mint` and are checked against a fixed clock (`support.NOW`), so no
test depends on the time of day or sleeps.
"""

from __future__ import annotations

import base64
import json
import socket
from collections.abc import Iterable, Mapping
from typing import Any, Final

from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from support import AUDIENCE, ISSUER, Clock, default_jwks

from jwks_middleware import Claims, Issuer, JWKSMiddleware

#: The fixed clock injected into the middleware (never advanced).
clock: Final = Clock()


def issuer(**options: Any) -> Issuer:
    """The trusted test issuer, with its keys given statically (no network)."""
    return Issuer(ISSUER, audience=AUDIENCE, jwks=default_jwks(), **options)


def forge(header: Mapping[str, Any], claims: Mapping[str, Any]) -> str:
    """A token with any header and claims and a signature of zeros: what an attacker can send."""
    parts = (json.dumps(dict(header)).encode(), json.dumps(dict(claims)).encode(), bytes(256))
    return ".".join(base64.urlsafe_b64encode(part).rstrip(b"=").decode() for part in parts)


def bearer(token: str) -> dict[str, str]:
    """Request headers carrying `token` in the Authorization header."""
    return {"Authorization": f"Bearer {token}"}


async def whoami(request: Request) -> Response:
    """What the middleware left on the request: claims, `scope["auth"]` and `scope["user"]`."""
    claims = request.state.claims
    return JSONResponse(
        {
            "claims_type": type(claims).__name__,
            "sub": claims.subject if isinstance(claims, Claims) else None,
            "auth_scopes": sorted(request.auth.scopes),
            "authenticated": request.user.is_authenticated,
            "display_name": request.user.display_name if request.user.is_authenticated else None,
            "identity": request.user.identity if request.user.is_authenticated else None,
        }
    )


@requires("read")
async def starlette_guarded(request: Request) -> Response:
    return PlainTextResponse("read ok")


@requires("authenticated")
async def starlette_authenticated(request: Request) -> Response:
    return PlainTextResponse("authenticated")


async def plain(request: Request) -> Response:
    return PlainTextResponse("ok")


async def ok_app(scope: Scope, receive: Receive, send: Send) -> None:
    """A bare ASGI app that answers 200 "ok"."""
    await PlainTextResponse("ok")(scope, receive, send)


async def websocket_whoami(websocket: WebSocket) -> None:
    await websocket.accept()
    claims = websocket.scope["state"]["claims"]
    await websocket.send_json({"sub": claims.subject if isinstance(claims, Claims) else None})
    await websocket.close()


def default_routes() -> list[BaseRoute]:
    return [
        Route("/", whoami),
        Route("/starlette-guarded", starlette_guarded),
        Route("/starlette-authenticated", starlette_authenticated),
        Route("/health", plain),
        Route("/health/x", plain),
        WebSocketRoute("/ws", websocket_whoami),
    ]


def make_app(
    routes: Iterable[BaseRoute] | None = None,
    *,
    middleware: Iterable[Middleware] = (),
    **options: Any,
) -> Starlette:
    """A Starlette app behind `JWKSMiddleware(issuers=[issuer()], clock=clock, **options)`."""
    if "verifier" not in options:
        options.setdefault("clock", clock)
        options.setdefault("issuers", [issuer()])
    return Starlette(
        routes=list(default_routes() if routes is None else routes),
        middleware=[*middleware, Middleware(JWKSMiddleware, **options)],
    )


def closed_port() -> int:
    """A loopback port nothing listens on: connections to it are refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class RawASGI:
    """Drives one ASGI call by hand, with the messages it will receive, recording what it sends."""

    def __init__(self, incoming: Iterable[Message]) -> None:
        self._incoming = list(incoming)
        self.sent: list[Message] = []

    async def receive(self) -> Message:
        return self._incoming.pop(0) if self._incoming else {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        self.sent.append(message)

    async def call(self, app: ASGIApp, scope: Scope) -> list[Message]:
        await app(scope, self.receive, self.send)
        return self.sent


def http_scope(path: str = "/", headers: Iterable[tuple[bytes, bytes]] = (), **extra: Any) -> Scope:
    """A minimal HTTP scope, without the `state` key servers may leave out."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": list(headers),
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
        **extra,
    }


def websocket_scope(path: str = "/ws", headers: Iterable[tuple[bytes, bytes]] = (), **extra: Any) -> Scope:
    """A WebSocket scope of a server without the `websocket.http.response` extension."""
    return {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "scheme": "ws",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": list(headers),
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
        "subprotocols": [],
        **extra,
    }
