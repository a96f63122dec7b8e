"""Every example app, imported from examples/ and driven against a local issuer on 127.0.0.1.

Each example reads its issuer from the environment when imported, as it would in production;
these tests point it at a `LocalIssuer` served on a loopback port (the plugin's fixtures).
"""

from __future__ import annotations

import importlib.util
import itertools
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from starlette.testclient import TestClient, WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect

from jwks_middleware.testing import LocalIssuer

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
#: Every variable an example reads, cleared before each load so the host's environment never leaks in.
EXAMPLE_VARIABLES = (
    *("JWKS_ISSUER", "JWKS_AUDIENCE", "JWKS_URI", "JWKS_PROVIDER", "ITEMS_SCOPE"),
    *("CUSTOMERS_ISSUER", "CUSTOMERS_AUDIENCE", "STAFF_ISSUER", "STAFF_AUDIENCE"),
    *("AUTH0_DOMAIN", "AUTH0_AUDIENCE", "OKTA_DOMAIN", "OKTA_AUDIENCE", "OKTA_AUTHORIZATION_SERVER"),
    *("COGNITO_REGION", "COGNITO_USER_POOL_ID", "COGNITO_CLIENT_IDS"),
    *("ENTRA_TENANT_ID", "ENTRA_AUDIENCE", "ENTRA_TOKEN_VERSION"),
    *("KEYCLOAK_URL", "KEYCLOAK_REALM", "KEYCLOAK_AUDIENCE", "KEYCLOAK_CLIENT_ID"),
    *("CLERK_PUBLISHABLE_KEY", "CLERK_FRONTEND_API", "CLERK_AUTHORIZED_PARTIES", "CLERK_JWT_KEY"),
)
_loads = itertools.count()


def load_example(name: str, monkeypatch: pytest.MonkeyPatch, **env: str) -> ModuleType:
    """Import examples/<name>.py afresh with this environment (and no other example setting)."""
    for variable in EXAMPLE_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    for variable, value in env.items():
        monkeypatch.setenv(variable, value)
    spec = importlib.util.spec_from_file_location(f"example_{name}_{next(_loads)}", EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def challenge_error(response: Any) -> str | None:
    header: str = response.headers.get("www-authenticate", "")
    return header.split('error="')[1].split('"')[0] if 'error="' in header else None


# -- starlette_app.py ----------------------------------------------------------------------


@pytest.fixture
def starlette_client(monkeypatch: pytest.MonkeyPatch, local_issuer: LocalIssuer) -> Iterator[TestClient]:
    example = load_example(
        "starlette_app", monkeypatch, JWKS_ISSUER=local_issuer.url, JWKS_AUDIENCE=local_issuer.audience
    )
    with TestClient(example.app) as client:
        yield client


@pytest.mark.parametrize(
    ("method", "path", "scopes", "status", "error"),
    [
        ("GET", "/items", ["read:items"], 200, None),
        ("POST", "/items", ["write:items"], 201, None),
        ("GET", "/me", [], 200, None),
        ("GET", "/items", ["write:items"], 403, "insufficient_scope"),
        ("POST", "/items", ["read:items"], 403, "insufficient_scope"),
    ],
)
def test_starlette_example_guards_each_route_by_scope(
    starlette_client: TestClient,
    local_issuer: LocalIssuer,
    method: str,
    path: str,
    scopes: list[str],
    status: int,
    error: str | None,
) -> None:
    token = local_issuer.issue(scopes=scopes)

    response = starlette_client.request(method, path, headers=bearer(token), json={"name": "plum"})

    assert response.status_code == status
    assert challenge_error(response) == error


def test_starlette_example_refuses_missing_and_bad_tokens(
    starlette_client: TestClient, local_issuer: LocalIssuer
) -> None:
    missing = starlette_client.get("/items")
    expired = starlette_client.get(
        "/items", headers=bearer(local_issuer.expired_token(scopes=["read:items"]))
    )
    other_api = starlette_client.get("/me", headers=bearer(local_issuer.wrong_audience_token()))

    assert (missing.status_code, missing.headers["www-authenticate"]) == (401, "Bearer")
    assert (expired.status_code, challenge_error(expired)) == (401, "invalid_token")
    assert (other_api.status_code, challenge_error(other_api)) == (401, "invalid_token")


def test_starlette_example_public_route_ignores_tokens(starlette_client: TestClient) -> None:
    assert starlette_client.get("/public").status_code == 200
    assert starlette_client.get("/public", headers=bearer("not.a.token")).status_code == 200


def test_starlette_example_answers_422_to_a_bad_body(
    starlette_client: TestClient, local_issuer: LocalIssuer
) -> None:
    token = local_issuer.issue(scopes=["write:items"])

    response = starlette_client.post("/items", content=b"{", headers=bearer(token))

    assert response.status_code == 422


def test_starlette_example_defaults_to_a_local_issuer(monkeypatch: pytest.MonkeyPatch) -> None:
    example = load_example("starlette_app", monkeypatch)

    issuer = example.issuer_from_env()

    assert (issuer.issuer, issuer.audiences) == ("http://127.0.0.1:9000", {"https://api.example.test"})


# -- websocket_app.py ----------------------------------------------------------------------


@pytest.fixture
def websocket_client(monkeypatch: pytest.MonkeyPatch, local_issuer: LocalIssuer) -> Iterator[TestClient]:
    example = load_example(
        "websocket_app", monkeypatch, JWKS_ISSUER=local_issuer.url, JWKS_AUDIENCE=local_issuer.audience
    )
    with TestClient(example.app) as client:
        yield client


@pytest.mark.parametrize("where", ["header", "query"])
def test_websocket_example_takes_the_token_from_header_or_query(
    websocket_client: TestClient, local_issuer: LocalIssuer, where: str
) -> None:
    token = local_issuer.issue(sub="alice", scopes=["chat:write"])
    url, headers = (
        ("/ws/chat", bearer(token)) if where == "header" else (f"/ws/chat?access_token={token}", {})
    )

    with websocket_client.websocket_connect(url, headers=headers) as websocket:
        hello = websocket.receive_json()
        websocket.send_text("hi")
        echo = websocket.receive_json()

    assert hello == {"hello": "alice", "scopes": ["chat:write"]}
    assert echo == {"from": "alice", "text": "hi"}


@pytest.mark.parametrize(
    ("scopes", "where", "status"),
    [
        (None, "nowhere", 401),
        (["chat:read"], "header", 403),
        (["chat:write"], "both", 400),
    ],
)
def test_websocket_example_refuses_the_handshake(
    websocket_client: TestClient, local_issuer: LocalIssuer, scopes: list[str] | None, where: str, status: int
) -> None:
    token = local_issuer.issue(scopes=scopes or [])
    url = f"/ws/chat?access_token={token}" if where == "both" else "/ws/chat"
    headers = bearer(token) if where in ("header", "both") else {}

    with pytest.raises(WebSocketDenialResponse) as refused:
        websocket_client.websocket_connect(url, headers=headers).__enter__()

    assert refused.value.status_code == status


def test_websocket_example_closes_the_connection_once_the_token_expires(
    websocket_client: TestClient, local_issuer: LocalIssuer
) -> None:
    # Expired 5 s ago: still inside the 60 s leeway at the handshake, past its time afterwards.
    token = local_issuer.issue(scopes=["chat:write"], expires_in=-5)

    with websocket_client.websocket_connect("/ws/chat", headers=bearer(token)) as websocket:
        websocket.receive_json()
        websocket.send_text("still there?")
        with pytest.raises(WebSocketDisconnect) as closed:
            websocket.receive_json()

    assert closed.value.code == 1008


# -- multi_issuer.py -----------------------------------------------------------------------


@pytest.fixture
def staff_issuer() -> Iterator[LocalIssuer]:
    with LocalIssuer.serve(algorithm="ES256") as issuer:
        yield issuer


@pytest.fixture
def multi_client(
    monkeypatch: pytest.MonkeyPatch, local_issuer: LocalIssuer, staff_issuer: LocalIssuer
) -> Iterator[TestClient]:
    example = load_example(
        "multi_issuer",
        monkeypatch,
        CUSTOMERS_ISSUER=local_issuer.url,
        CUSTOMERS_AUDIENCE=local_issuer.audience,
        STAFF_ISSUER=staff_issuer.url,
        STAFF_AUDIENCE=staff_issuer.audience,
    )
    with TestClient(example.app) as client:
        yield client


def test_multi_issuer_example_accepts_tokens_of_both_issuers(
    multi_client: TestClient, local_issuer: LocalIssuer, staff_issuer: LocalIssuer
) -> None:
    customer = multi_client.get("/me", headers=bearer(local_issuer.issue(sub="carol")))
    staff = multi_client.get("/orders", headers=bearer(staff_issuer.issue(sub="sam", scopes=["orders:read"])))

    assert customer.json() == {"sub": "carol", "iss": local_issuer.url, "kind": "customer"}
    assert staff.status_code == 200


def test_multi_issuer_example_keeps_admin_routes_to_staff(
    multi_client: TestClient, local_issuer: LocalIssuer, staff_issuer: LocalIssuer
) -> None:
    customer = multi_client.get("/admin/orders", headers=bearer(local_issuer.issue(scopes=["orders:admin"])))
    staff = multi_client.get(
        "/admin/orders", headers=bearer(staff_issuer.issue(sub="sam", scopes=["orders:admin"]))
    )

    assert (customer.status_code, challenge_error(customer)) == (403, "insufficient_scope")
    assert staff.json() == {"orders": [], "admin": "sam"}


def test_multi_issuer_example_refuses_other_issuers_and_borrowed_keys(
    multi_client: TestClient, local_issuer: LocalIssuer, staff_issuer: LocalIssuer
) -> None:
    stranger = LocalIssuer("http://127.0.0.1:1", algorithm="ES256")
    # Signed by a customer key, claiming to be staff: the staff issuer's keys do not include it.
    borrowed = local_issuer.issue(iss=staff_issuer.url, scopes=["orders:admin"])

    assert multi_client.get("/me", headers=bearer(stranger.issue())).status_code == 401
    assert multi_client.get("/admin/orders", headers=bearer(borrowed)).status_code == 401


# -- providers_from_env.py -----------------------------------------------------------------

PROVIDER_SETTINGS = {
    "auth0": (
        {"AUTH0_DOMAIN": "tenant.eu.auth0.com", "AUTH0_AUDIENCE": "https://api.example.com"},
        "https://tenant.eu.auth0.com/",
        "https://tenant.eu.auth0.com/.well-known/jwks.json",
    ),
    "okta": (
        {"OKTA_DOMAIN": "dev-123456.okta.com"},
        "https://dev-123456.okta.com/oauth2/default",
        "https://dev-123456.okta.com/oauth2/default/v1/keys",
    ),
    "cognito": (
        {
            "COGNITO_REGION": "eu-west-1",
            "COGNITO_USER_POOL_ID": "eu-west-1_AbC123",
            "COGNITO_CLIENT_IDS": "a, b",
        },
        "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123",
        "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123/.well-known/jwks.json",
    ),
    "entra": (
        {
            "ENTRA_TENANT_ID": "72f988bf-86f1-41af-91ab-2d7cd011db47",
            "ENTRA_AUDIENCE": "api://orders",
            "ENTRA_TOKEN_VERSION": "1",
        },
        "https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/",
        "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/discovery/keys",
    ),
    "keycloak": (
        {
            "KEYCLOAK_URL": "https://sso.example.com",
            "KEYCLOAK_REALM": "shop",
            "KEYCLOAK_AUDIENCE": "orders-api",
        },
        "https://sso.example.com/realms/shop",
        "https://sso.example.com/realms/shop/protocol/openid-connect/certs",
    ),
    "clerk": (
        {"CLERK_FRONTEND_API": "clerk.example.com", "CLERK_AUTHORIZED_PARTIES": "https://app.example.com"},
        "https://clerk.example.com",
        "https://clerk.example.com/.well-known/jwks.json",
    ),
}


@pytest.mark.parametrize("provider", sorted(PROVIDER_SETTINGS))
def test_providers_example_configures_each_provider_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, provider: str
) -> None:
    env, iss, jwks_uri = PROVIDER_SETTINGS[provider]

    example = load_example("providers_from_env", monkeypatch, JWKS_PROVIDER=provider.upper(), **env)
    issuer = example.issuer_from_env()

    assert (issuer.issuer, issuer.jwks_uri) == (iss, jwks_uri)


def test_providers_example_drives_a_local_oidc_issuer(
    monkeypatch: pytest.MonkeyPatch, local_issuer: LocalIssuer
) -> None:
    example = load_example(
        "providers_from_env",
        monkeypatch,
        JWKS_ISSUER=local_issuer.url,
        JWKS_AUDIENCE=local_issuer.audience,
        ITEMS_SCOPE="items:list",
    )

    with TestClient(example.app) as client:
        allowed = client.get("/items", headers=bearer(local_issuer.issue(scopes=["items:list"])))
        lacking = client.get("/items", headers=bearer(local_issuer.issue(scopes=["read:items"])))
        anonymous = client.get("/me")

    assert [allowed.status_code, lacking.status_code, anonymous.status_code] == [200, 403, 401]


def test_providers_example_verifies_clerk_tokens_with_a_pem_key_and_azp(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clerk = LocalIssuer("https://clerk.example.com")  # never served: the PEM key needs no fetch
    example = load_example(
        "providers_from_env",
        monkeypatch,
        JWKS_PROVIDER="clerk",
        CLERK_FRONTEND_API="clerk.example.com",
        CLERK_AUTHORIZED_PARTIES="https://app.example.com",
        CLERK_JWT_KEY=clerk.public_key_pem(),
    )

    with TestClient(example.app) as client:
        ours = client.get("/me", headers=bearer(clerk.issue(sub="user_2a", azp="https://app.example.com")))
        theirs = client.get("/me", headers=bearer(clerk.issue(azp="https://evil.example.com")))

    assert (ours.status_code, ours.json()["sub"]) == (200, "user_2a")
    assert theirs.status_code == 401


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"JWKS_PROVIDER": "auth0", "AUTH0_DOMAIN": "tenant.eu.auth0.com"}, "set AUTH0_AUDIENCE"),
        (
            {"JWKS_PROVIDER": "clerk", "CLERK_AUTHORIZED_PARTIES": "https://app.example.com"},
            "CLERK_FRONTEND_API",
        ),
        ({"JWKS_PROVIDER": "entra", "ENTRA_TOKEN_VERSION": "3"}, "ENTRA_TOKEN_VERSION must be 1 or 2"),
        ({"JWKS_PROVIDER": "ping"}, "JWKS_PROVIDER must be one of"),
    ],
)
def test_providers_example_fails_at_start_up_on_bad_settings(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        load_example("providers_from_env", monkeypatch, **env)


# -- test_my_app.py and the README ---------------------------------------------------------


def test_the_users_test_file_passes_with_the_pytest_plugin() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "examples/test_my_app.py", "-p", "no:cacheprovider", "-q"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert " passed" in completed.stdout


def test_every_example_is_listed_in_the_readme() -> None:
    readme = (EXAMPLES / "README.md").read_text(encoding="utf-8")

    missing = [path.name for path in sorted(EXAMPLES.glob("*.py")) if f"`{path.name}`" not in readme]

    assert missing == []
