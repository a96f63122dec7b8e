"""The Litestar and Quart examples: the pure-ASGI middleware in front of other frameworks, with
claims where each framework's users look for them; and FastAPI's /docs in middleware mode."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient, WebSocketDenialResponse

from jwks_middleware import JWKSMiddleware
from jwks_middleware.testing import LocalIssuer

EXAMPLES = Path(__file__).parent.parent / "examples"


def load_example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # Litestar resolves the handlers' annotations in their module
    spec.loader.exec_module(module)
    return module


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(params=["litestar_app", "quart_app"])
def client(request: pytest.FixtureRequest, local_issuer: LocalIssuer) -> Iterator[TestClient]:
    app: Any = load_example(request.param).create_app([local_issuer.config()])
    with TestClient(app) as client:  # the lifespan runs: keys load before the first request
        yield client


def test_claims_reach_the_route(client: TestClient, local_issuer: LocalIssuer) -> None:
    token = local_issuer.issue(sub="ann", scopes=["read:items"])
    assert client.get("/me", headers=bearer(token)).json() == {"sub": "ann", "scopes": ["read:items"]}
    assert client.get("/items", headers=bearer(token)).json()["for"] == "ann"
    assert local_issuer.requests.total() == 2  # discovery and JWKS, once, at start-up


def test_refusals_are_rfc_6750(client: TestClient, local_issuer: LocalIssuer) -> None:
    missing = client.get("/me")
    assert (missing.status_code, missing.headers["www-authenticate"]) == (401, "Bearer")
    expired = client.get("/me", headers=bearer(local_issuer.expired_token()))
    assert expired.status_code == 401
    assert 'error="invalid_token"' in expired.headers["www-authenticate"]


def test_the_route_checks_a_scope(client: TestClient, local_issuer: LocalIssuer) -> None:
    assert client.get("/items", headers=bearer(local_issuer.issue(scopes=["other"]))).status_code == 403


def test_an_excluded_path_is_public(client: TestClient) -> None:
    assert client.get("/public").json() == {"message": "anyone may read this"}


def test_quart_websocket_gets_the_claims(local_issuer: LocalIssuer) -> None:
    app: Any = load_example("quart_app").create_app([local_issuer.config()])
    with TestClient(app) as client:
        with client.websocket_connect("/ws", headers=bearer(local_issuer.issue(sub="ws"))) as ws:
            assert ws.receive_json() == {"sub": "ws"}
        with pytest.raises(WebSocketDenialResponse), client.websocket_connect("/ws"):
            pass  # pragma: no cover - the handshake is refused


def test_litestar_request_user_and_auth_are_the_tokens(local_issuer: LocalIssuer) -> None:
    from litestar import Litestar, Request, get

    @get("/whoami")
    async def whoami(request: Request[Any, Any, Any]) -> dict[str, Any]:
        return {"user": request.user.display_name, "auth": sorted(request.auth.scopes)}

    app = JWKSMiddleware(Litestar([whoami]), issuers=[local_issuer.config()])  # type: ignore[arg-type]
    with TestClient(app) as client:
        answer = client.get("/whoami", headers=bearer(local_issuer.issue(sub="eve", scopes=["a"]))).json()
    assert answer == {"user": "eve", "auth": ["a", "authenticated"]}


def test_fastapi_docs_are_protected_in_middleware_mode_unless_excluded(local_issuer: LocalIssuer) -> None:
    protected = FastAPI()
    protected.add_middleware(JWKSMiddleware, issuers=[local_issuer.config()])
    open_docs = FastAPI()
    open_docs.add_middleware(
        JWKSMiddleware,
        issuers=[local_issuer.config()],
        exclude_paths=["/docs", "/openapi.json", "/docs/oauth2-redirect"],
    )
    with TestClient(protected) as client:
        assert client.get("/docs").status_code == 401
        assert client.get("/openapi.json").status_code == 401
    with TestClient(open_docs) as client:
        assert client.get("/docs").status_code == 200
        assert client.get("/openapi.json").status_code == 200
