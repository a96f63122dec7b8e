"""Configuration errors fail at start: at construction, or as a failed lifespan start-up, so the
server stops; requests of a misconfigured app get a 503, never a 500.

Starlette builds its middleware stack inside the server's first call (the lifespan), so a
`Middleware(JWKSMiddleware, ...)` with a bad configuration is only constructed then. Real
uvicorn servers run here, in a subprocess (start-up must fail and the process exit) and in a
thread (with the lifespan turned off, requests must get 503).
"""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from asgi_helpers import RawASGI, bearer, default_routes, http_scope, issuer, ok_app, websocket_scope
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.testclient import TestClient
from support import mint

from jwks_middleware import JWKSMiddleware

#: uvicorn's exit status when the application's start-up failed.
STARTUP_FAILURE = 3
UNAVAILABLE = {"error": "unavailable", "error_description": "Authentication is unavailable"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def misconfigured_app() -> Starlette:
    """The same issuer given twice: only found when Starlette builds the middleware stack."""
    return Starlette(
        routes=default_routes(), middleware=[Middleware(JWKSMiddleware, issuers=[issuer(), issuer()])]
    )


# -- constructed directly, or by a running server -------------------------------------------


def test_a_middleware_constructed_directly_raises_at_once() -> None:
    with pytest.raises(ValueError, match="configured twice"):
        JWKSMiddleware(ok_app, issuers=[issuer(), issuer()])


@pytest.mark.anyio
async def test_a_middleware_constructed_by_a_running_server_fails_the_lifespan_start_up(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="jwks_middleware"):
        middleware = JWKSMiddleware(ok_app, issuers=[issuer(), issuer()])
    assert "invalid JWKSMiddleware configuration" in caplog.text
    assert middleware.ready() is False
    driver = RawASGI([{"type": "lifespan.startup"}])
    with pytest.raises(ValueError, match="configured twice"):
        await driver.call(middleware, {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}})
    (failed,) = driver.sent
    assert failed["type"] == "lifespan.startup.failed"
    assert "configured twice" in failed["message"]


@pytest.mark.anyio
async def test_requests_to_a_middleware_constructed_by_a_running_server_get_503_and_a_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    middleware = JWKSMiddleware(ok_app, issuers=[issuer(), issuer()], exclude_paths=["/health"])
    for path in ("/", "/health"):
        with caplog.at_level(logging.ERROR, logger="jwks_middleware"):
            start, body = await RawASGI([]).call(
                middleware, http_scope(path, [(b"authorization", b"Bearer x")])
            )
        assert start["status"] == 503
        assert body["body"] == b'{"error":"unavailable","error_description":"Authentication is unavailable"}'
        assert "request refused with 503: invalid JWKSMiddleware configuration" in caplog.text
    sent = await RawASGI([{"type": "websocket.connect"}]).call(middleware, websocket_scope())
    assert sent == [{"type": "websocket.close", "code": 1008, "reason": "Authentication is unavailable"}]


# -- Starlette's middleware stack ------------------------------------------------------------


def test_a_misconfigured_middleware_stack_fails_the_start_up_of_the_app() -> None:
    with pytest.raises(ValueError, match="configured twice"), TestClient(misconfigured_app()):
        pass  # pragma: no cover - start-up fails


def test_a_misconfigured_middleware_stack_answers_503_without_a_lifespan() -> None:
    response = TestClient(misconfigured_app()).get("/", headers=bearer(mint()))
    assert response.status_code == 503
    assert response.json() == UNAVAILABLE


# -- a real uvicorn ------------------------------------------------------------------------


def run_uvicorn(app_code: str) -> subprocess.CompletedProcess[str]:
    """uvicorn in a subprocess, lifespan "auto" (its default), serving the `app` that `app_code` makes."""
    code = textwrap.dedent(app_code) + (
        "\nimport uvicorn\nuvicorn.run(app, host='127.0.0.1', port=0, lifespan='auto', log_level='info')\n"
    )
    return subprocess.run(  # noqa: S603 - the running interpreter, our own code
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=False
    )


def test_uvicorn_stops_when_the_middleware_configuration_is_invalid() -> None:
    result = run_uvicorn(
        """
        from starlette.applications import Starlette
        from starlette.middleware import Middleware
        from jwks_middleware import Issuer, JWKSMiddleware

        issuer = Issuer("https://issuer.test/", audience="https://api.test", jwks_uri="https://issuer.test/jwks")
        app = Starlette(middleware=[Middleware(JWKSMiddleware, issuers=[issuer, issuer])])
        """
    )
    assert result.returncode == STARTUP_FAILURE, result.stderr
    assert (
        "invalid JWKSMiddleware configuration: issuer 'https://issuer.test/' is configured twice"
        in result.stderr
    )
    assert "Application startup failed. Exiting." in result.stderr
    assert "Uvicorn running on" not in result.stderr


def test_uvicorn_stops_when_a_jwks_auth_without_issuers_has_no_middleware() -> None:
    result = run_uvicorn(
        """
        from fastapi import FastAPI
        from jwks_middleware.fastapi import AuthClaims, JWKSAuth

        app = FastAPI()
        JWKSAuth().install(app)

        @app.get("/me")
        async def me(claims: AuthClaims) -> str:
            return claims.subject or ""
        """
    )
    assert result.returncode == STARTUP_FAILURE, result.stderr
    assert "relies on JWKSMiddleware, and none wraps this app" in result.stderr
    assert "Uvicorn running on" not in result.stderr


@pytest.fixture
def listening_socket() -> Iterator[socket.socket]:
    """A loopback socket already listening: connections wait in its backlog until served."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock


def test_uvicorn_without_lifespan_answers_503_never_500(listening_socket: socket.socket) -> None:
    server = uvicorn.Server(uvicorn.Config(misconfigured_app(), lifespan="off", log_level="critical"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening_socket]})
    thread.start()
    try:
        port = listening_socket.getsockname()[1]
        response = httpx.get(f"http://127.0.0.1:{port}/", headers=bearer(mint()), timeout=10)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    assert response.status_code == 503
    assert response.json() == UNAVAILABLE
