"""`refusal_handler` and `AuthHTTPException`: the dependencies refuse as the middleware does, byte
for byte, and refuse WebSocket handshakes before `accept`.

No `from __future__ import annotations` here: routes are defined inside functions, and FastAPI
reads their annotations at run time, where names local to a function cannot be resolved.
"""

import asyncio
from typing import Annotated

import pytest
from asgi_helpers import bearer, clock
from fastapi import FastAPI, Security
from fastapi.testclient import TestClient
from fastapi_support import REALM, make_app
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request as StarletteRequest
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import WebSocketDenialResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocketDisconnect
from support import NOW, mint

from jwks_middleware import Claims, Issuer, JWKSMiddleware, requires_scopes
from jwks_middleware.fastapi import (
    JWKSAuth,
    refusal_handler,
)


@pytest.mark.parametrize(
    ("path", "scopes", "expires_in", "status", "error"),
    [
        ("/ws", None, 300, 401, "unauthorized"),
        ("/ws", "", -3600, 401, "invalid_token"),
        ("/ws/items", "profile", 300, 403, "insufficient_scope"),
    ],
)
def test_a_websocket_handshake_is_denied_before_accept(
    client: TestClient, path: str, scopes: str | None, expires_in: int, status: int, error: str
) -> None:
    headers = {} if scopes is None else bearer(mint(scope=scopes, exp=NOW + expires_in))
    with pytest.raises(WebSocketDenialResponse) as denied, client.websocket_connect(path, headers=headers):
        pass  # pragma: no cover - the handshake is refused
    assert denied.value.status_code == status
    assert denied.value.json()["error"] == error
    assert denied.value.headers["www-authenticate"].startswith(f'Bearer realm="{REALM}"')


def without_denial_extension(app: ASGIApp) -> ASGIApp:
    async def server_without_extension(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            scope = {**scope, "extensions": {}}
        await app(scope, receive, send)

    return server_without_extension


def test_a_websocket_is_closed_with_1008_when_the_server_cannot_send_a_denial_response(
    app_and_auth: tuple[FastAPI, JWKSAuth],
) -> None:
    client = TestClient(without_denial_extension(app_and_auth[0]))
    with pytest.raises(WebSocketDisconnect) as closed, client.websocket_connect("/ws"):
        pass  # pragma: no cover - the handshake is refused
    assert closed.value.code == 1008


def starlette_app(issuer: Issuer) -> Starlette:
    @requires_scopes("read:items")
    async def items(request: StarletteRequest) -> JSONResponse:
        return JSONResponse(["a", "b"])  # pragma: no cover - only refusals are compared

    return Starlette(
        routes=[Route("/me", items), Route("/items", items)],
        middleware=[Middleware(JWKSMiddleware, clock=clock, issuers=[issuer], realm=REALM)],
    )


@pytest.mark.parametrize(
    ("path", "scopes", "expires_in"),
    [("/me", None, 300), ("/me", "", -3600), ("/items", "profile", 300), ("/me", "bad header", 0)],
)
def test_refusals_of_the_dependencies_are_the_middlewares_byte_for_byte(
    issuer: Issuer, path: str, scopes: str | None, expires_in: int
) -> None:
    if scopes == "bad header":
        headers = {"Authorization": "Bearer a b"}
    else:
        headers = {} if scopes is None else bearer(mint(scope=scopes, exp=NOW + expires_in))
    app, _ = make_app("standalone", issuer)
    with TestClient(starlette_app(issuer)) as reference, TestClient(app) as client:
        expected = reference.get(path, headers=headers)
        got = client.get(path, headers=headers)
    assert got.status_code == expected.status_code
    assert got.headers.multi_items() == expected.headers.multi_items()
    assert got.content == expected.content


def test_without_the_refusal_handler_fastapi_wraps_the_same_body_in_detail(issuer: Issuer) -> None:
    auth = JWKSAuth(clock=clock, issuers=[issuer], realm=REALM)
    app = FastAPI(lifespan=auth.lifespan)

    @app.get("/me")
    async def me(claims: Annotated[Claims, Security(auth.claims)]) -> str | None:
        return claims.subject  # pragma: no cover - refused

    with TestClient(app) as client:
        response = client.get("/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == f'Bearer realm="{REALM}"'
    assert response.json() == {
        "detail": {"error": "unauthorized", "error_description": "Authentication required"}
    }


def test_the_refusal_handler_answers_only_auth_refusals() -> None:
    handling = refusal_handler(StarletteRequest({"type": "http", "headers": []}), ValueError("not ours"))
    with pytest.raises(TypeError, match="AuthHTTPException only"):
        asyncio.run(handling)
