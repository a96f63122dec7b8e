"""The FastAPI example (`examples/fastapi_app.py`), run as its users would configure it.

Each test imports the example afresh with its environment pointing at a `LocalIssuer` served on
127.0.0.1 (the plugin's `local_issuer` fixture): keys found through discovery, as in production.
"""

from __future__ import annotations

import importlib.util
import itertools
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, Final
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketDenialResponse

from jwks_middleware.testing import LocalIssuer

EXAMPLE: Final = Path(__file__).resolve().parents[1] / "examples" / "fastapi_app.py"
VARIABLES: Final = (
    "JWKS_ISSUER",
    "JWKS_AUDIENCE",
    "JWKS_URI",
    "JWKS_ROLE_CLAIM",
    "SWAGGER_AUTHORIZATION_URL",
    "SWAGGER_TOKEN_URL",
    "SWAGGER_CLIENT_ID",
)
_loads = itertools.count()


def load_example(monkeypatch: pytest.MonkeyPatch, **environment: str) -> ModuleType:
    """The example module, imported anew under `environment` (other variables unset)."""
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    spec = importlib.util.spec_from_file_location(f"fastapi_example_{next(_loads)}", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def example(monkeypatch: pytest.MonkeyPatch, local_issuer: LocalIssuer) -> ModuleType:
    return load_example(monkeypatch, JWKS_ISSUER=local_issuer.url, JWKS_AUDIENCE=local_issuer.audience)


@pytest.fixture
def client(example: ModuleType) -> Iterator[TestClient]:
    with TestClient(example.app) as client:
        yield client


# -- every form ----------------------------------------------------------------------------


def test_a_token_opens_every_route_it_is_scoped_for(local_issuer: LocalIssuer, client: TestClient) -> None:
    token = local_issuer.issue(
        sub="alice",
        scopes=["read:items", "write:items", "read:reports"],
        roles=["admin", "owner"],
        email_verified=True,
    )
    headers = bearer(token)
    assert client.get("/me", headers=headers).json() == {
        "sub": "alice",
        "scopes": ["read:items", "read:reports", "write:items"],
        "roles": ["admin", "owner"],
    }
    assert client.get("/hello", headers=headers).json() == {"hello": "alice"}
    for path in ("/items", "/reports", "/beta", "/admin/stats", "/whoami", "/greeting", "/items/apple"):
        assert client.get(path, headers=headers).status_code == 200, path
    assert client.post("/items", params={"name": "kiwi"}, headers=headers).json() == {
        "name": "kiwi",
        "created_by": "alice",
    }
    assert client.delete("/admin/items/kiwi", headers=headers).json() == {"deleted": "kiwi"}
    with client.websocket_connect("/ws/items", headers=headers) as websocket:
        assert websocket.receive_json() == {"hello": "alice", "items": ["apple", "pear"]}


def test_anonymous_callers_reach_only_the_open_routes(client: TestClient) -> None:
    assert client.get("/hello").json() == {"hello": "stranger"}
    assert client.get("/greeting").json() == {"signed_in": False}
    response = client.get("/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="example"'
    assert response.json() == {"error": "unauthorized", "error_description": "Authentication required"}


@pytest.mark.parametrize(
    ("method", "path", "claims", "scope"),
    [
        ("GET", "/items", {"scopes": ["profile"]}, "read:items"),
        ("POST", "/items?name=kiwi", {"scopes": ["read:items"]}, "write:items"),
        ("GET", "/reports", {"scopes": ["read:items"]}, "read:reports admin"),
        ("GET", "/items/apple", {"scopes": ["profile"]}, "read:items"),
        ("GET", "/admin/stats", {"roles": ["owner"]}, None),
        ("DELETE", "/admin/items/kiwi", {"roles": ["admin"]}, None),
        ("GET", "/beta", {"email_verified": False}, None),
    ],
)
def test_guards_refuse_tokens_lacking_what_the_route_needs(
    local_issuer: LocalIssuer,
    client: TestClient,
    method: str,
    path: str,
    claims: dict[str, Any],
    scope: str | None,
) -> None:
    response = client.request(method, path, headers=bearer(local_issuer.issue(**claims)))
    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"
    assert response.json().get("scope") == scope


def test_expired_and_foreign_tokens_are_refused(local_issuer: LocalIssuer, client: TestClient) -> None:
    for token in (
        local_issuer.expired_token(scopes=["read:items"]),
        local_issuer.wrong_audience_token(scopes=["read:items"]),
        local_issuer.wrong_key_token(scopes=["read:items"]),
    ):
        response = client.get("/items", headers=bearer(token))
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_token"


def test_a_websocket_without_the_scope_is_refused_at_the_handshake(
    local_issuer: LocalIssuer, client: TestClient
) -> None:
    token = local_issuer.issue(scopes=["profile"])
    with (
        pytest.raises(WebSocketDenialResponse) as denied,
        client.websocket_connect("/ws/items", headers=bearer(token)),
    ):
        pass  # pragma: no cover - refused
    assert denied.value.status_code == 403


def test_the_openapi_document_shows_the_scheme_and_each_routes_scopes(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert document["components"]["securitySchemes"]["JWT"]["scheme"] == "bearer"
    security = {
        (path, method): operation.get("security")
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    }
    assert security[("/items", "get")] == [{"JWT": ["read:items"]}]
    assert security[("/items", "post")] == [{"JWT": ["write:items"]}]
    assert security[("/items/{name}", "get")] == [{"JWT": ["read:items"]}]
    assert security[("/me", "get")] == [{"JWT": []}]
    assert security[("/admin/stats", "get")] == [{"JWT": []}]


# -- configuration -------------------------------------------------------------------------


def test_keys_are_preloaded_at_start_up(example: ModuleType) -> None:
    assert not example.auth.ready()
    with TestClient(example.app):
        assert example.auth.ready()


def test_roles_are_read_where_the_environment_says(
    monkeypatch: pytest.MonkeyPatch, local_issuer: LocalIssuer
) -> None:
    example = load_example(
        monkeypatch,
        JWKS_ISSUER=local_issuer.url,
        JWKS_AUDIENCE=local_issuer.audience,
        JWKS_ROLE_CLAIM="realm_access.roles",
    )
    keycloak = local_issuer.issue(realm_access={"roles": ["admin"]})
    with TestClient(example.app) as client:
        assert client.get("/admin/stats", headers=bearer(keycloak)).status_code == 200
        assert (
            client.get("/admin/stats", headers=bearer(local_issuer.issue(roles=["admin"]))).status_code == 403
        )


def test_a_configured_jwks_uri_skips_discovery(
    monkeypatch: pytest.MonkeyPatch, local_issuer: LocalIssuer
) -> None:
    example = load_example(
        monkeypatch,
        JWKS_ISSUER=local_issuer.url,
        JWKS_AUDIENCE=local_issuer.audience,
        JWKS_URI=local_issuer.jwks_uri,
    )
    with TestClient(example.app) as client:
        assert client.get("/whoami", headers=bearer(local_issuer.issue())).json() == {"sub": "user-123"}
    requests = local_issuer.requests
    assert requests[urlsplit(local_issuer.jwks_uri).path] >= 1
    assert requests[urlsplit(local_issuer.discovery_url).path] == 0


def test_the_local_default_is_the_demo_issuer(monkeypatch: pytest.MonkeyPatch) -> None:
    example = load_example(monkeypatch)
    assert [keys.issuer.issuer for keys in example.auth.verifier.key_store.issuers()] == [
        example.LOCAL_ISSUER
    ]


def test_swagger_ui_logs_in_with_authorization_code_and_pkce_when_configured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    example = load_example(
        monkeypatch,
        JWKS_ISSUER="https://login.example.test/",
        SWAGGER_AUTHORIZATION_URL="https://login.example.test/authorize",
        SWAGGER_TOKEN_URL="https://login.example.test/oauth/token",
        SWAGGER_CLIENT_ID="swagger-ui",
    )
    client = TestClient(example.app)  # no lifespan: nothing is fetched
    document = client.get("/openapi.json").json()
    flow = document["components"]["securitySchemes"]["OAuth2"]["flows"]["authorizationCode"]
    assert flow["authorizationUrl"] == "https://login.example.test/authorize"
    assert flow["tokenUrl"] == "https://login.example.test/oauth/token"
    assert set(flow["scopes"]) == {"read:items", "write:items", "read:reports"}
    assert document["paths"]["/items"]["get"]["security"] == [{"OAuth2": ["read:items"]}]
    docs = client.get("/docs").text
    assert '"usePkceWithAuthorizationCodeGrant": true' in docs
    assert '"clientId": "swagger-ui"' in docs
