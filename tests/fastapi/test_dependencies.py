"""The FastAPI dependencies and guards (`AuthClaims`, `require_scopes`, roles, claims), on the same
routes behind `JWKSMiddleware` and with `JWKSAuth` alone.

Keys are static (`Issuer(jwks=...)`): no network.
"""

from typing import Any

import pytest
from asgi_helpers import bearer
from fastapi.testclient import TestClient
from fastapi_support import REALM
from support import NOW, mint


def test_a_valid_token_gives_the_route_its_claims(client: TestClient) -> None:
    response = client.get("/me", headers=bearer(mint(scope="read:items profile")))
    assert response.status_code == 200
    assert response.json() == {
        "sub": "user-1",
        "scopes": ["profile", "read:items"],
        "state_is_claims": True,
        "user": "user-1",
    }


def test_a_request_without_token_is_refused_with_a_challenge_and_no_error_code(client: TestClient) -> None:
    response = client.get("/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == f'Bearer realm="{REALM}"'
    assert response.headers["cache-control"] == "no-store"
    assert response.json() == {"error": "unauthorized", "error_description": "Authentication required"}


def test_an_expired_token_is_refused_as_invalid(client: TestClient) -> None:
    response = client.get("/me", headers=bearer(mint(exp=NOW - 3600)))
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == (
        f'Bearer realm="{REALM}", error="invalid_token", error_description="The access token expired"'
    )
    assert response.json() == {"error": "invalid_token", "error_description": "The access token expired"}


def test_a_token_for_another_audience_is_refused_as_invalid(client: TestClient) -> None:
    response = client.get(
        "/items", headers=bearer(mint(scope="read:items", aud="https://other.example.test"))
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_a_key_bound_token_sent_as_a_bearer_token_is_refused(client: TestClient) -> None:
    response = client.get(
        "/me", headers=bearer(mint(cnf={"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}))
    )
    assert response.status_code == 401
    assert response.json() == {
        "error": "invalid_token",
        "error_description": "The access token is bound to a key and was sent without proof of possession",
    }


def test_a_malformed_authorization_header_is_a_bad_request(client: TestClient) -> None:
    response = client.get("/me", headers={"Authorization": "Bearer"})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert 'error="invalid_request"' in response.headers["www-authenticate"]


def test_optional_claims_are_none_for_an_anonymous_request(client: TestClient) -> None:
    assert client.get("/maybe").json() == {"sub": None}
    assert client.get("/bound/optional").json() == {"sub": None}
    assert client.get("/maybe", headers=bearer(mint())).json() == {"sub": "user-1"}


def test_optional_claims_still_refuse_a_bad_token(client: TestClient) -> None:
    response = client.get("/maybe", headers=bearer(mint(exp=NOW - 3600)))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"


def test_a_route_guard_lets_a_token_with_the_scope_through(client: TestClient) -> None:
    response = client.get("/items", headers=bearer(mint(scope="read:items")))
    assert response.status_code == 200
    assert response.json() == ["a", "b"]


def test_an_under_scoped_token_gets_403_insufficient_scope_naming_the_scope(client: TestClient) -> None:
    response = client.get("/items", headers=bearer(mint(scope="profile")))
    assert response.status_code == 403
    assert response.headers["www-authenticate"] == (
        f'Bearer realm="{REALM}", error="insufficient_scope", '
        'error_description="The access token lacks the required scope", scope="read:items"'
    )
    assert response.json() == {
        "error": "insufficient_scope",
        "error_description": "The access token lacks the required scope",
        "scope": "read:items",
    }


def test_guards_see_the_tokens_scopes_not_starlettes_authenticated(client: TestClient) -> None:
    # `request.auth.scopes` holds "authenticated" for Starlette's `requires`; the guards ignore it.
    assert client.get("/authenticated", headers=bearer(mint(scope="read:items"))).status_code == 403
    response = client.get("/authenticated", headers=bearer(mint(scope="authenticated")))
    assert response.json() == ["authenticated"]


def test_a_scope_guard_answers_an_anonymous_request_with_401(client: TestClient) -> None:
    assert client.get("/items").status_code == 401


def test_a_guard_as_parameter_requires_every_scope_and_gives_the_claims(client: TestClient) -> None:
    assert client.post("/items", headers=bearer(mint(scope="read:items write:items"))).json() == {
        "by": "user-1"
    }
    response = client.post("/items", headers=bearer(mint(scope="read:items")))
    assert response.status_code == 403
    assert response.json()["scope"] == "read:items write:items"


def test_a_router_guard_applies_to_every_route_of_the_router(client: TestClient) -> None:
    assert client.get("/admin/stats", headers=bearer(mint(scope="read:items"))).status_code == 403
    assert client.get("/admin/stats", headers=bearer(mint(scope="admin"))).status_code == 403
    response = client.get("/admin/stats", headers=bearer(mint(scope="admin read:items")))
    assert response.status_code == 200


def test_security_scopes_of_a_user_dependency_are_enforced(client: TestClient) -> None:
    assert client.get("/profile", headers=bearer(mint(scope="profile"))).json() == {"sub": "user-1"}
    assert client.get("/profile", headers=bearer(mint(scope="read:items"))).status_code == 403


@pytest.mark.parametrize("scopes", ["a", "b", "b other"])
def test_any_scope_accepts_either_scope(client: TestClient, scopes: str) -> None:
    assert client.get("/any", headers=bearer(mint(scope=scopes))).status_code == 200


def test_any_scope_refuses_a_token_with_none_and_names_the_alternatives(client: TestClient) -> None:
    response = client.get("/any", headers=bearer(mint(scope="c")))
    assert response.status_code == 403
    assert 'scope="a b"' in response.headers["www-authenticate"]


def test_roles_come_from_the_issuers_role_claims(client: TestClient) -> None:
    keycloak = mint(realm_access={"roles": ["editor", "viewer"]})
    entra = mint(roles=["editor", "viewer"])
    assert client.get("/roles", headers=bearer(keycloak)).status_code == 200
    assert client.get("/roles", headers=bearer(entra)).status_code == 200


def test_a_missing_role_is_403_without_a_scope_in_the_challenge(client: TestClient) -> None:
    response = client.get("/roles", headers=bearer(mint(roles=["viewer"])))
    assert response.status_code == 403
    assert response.headers["www-authenticate"] == (
        f'Bearer realm="{REALM}", error="insufficient_scope", '
        'error_description="The access token lacks a required role"'
    )
    assert response.json() == {
        "error": "insufficient_scope",
        "error_description": "The access token lacks a required role",
    }


def test_any_role_accepts_one_of_the_roles(client: TestClient) -> None:
    assert client.get("/any-role", headers=bearer(mint(roles=["viewer"]))).status_code == 200
    assert client.get("/any-role", headers=bearer(mint(roles=["guest"]))).status_code == 403


@pytest.mark.parametrize(
    ("path", "claims", "status"),
    [
        ("/verified", {"email_verified": True}, 200),
        ("/verified", {"email_verified": "true"}, 403),
        ("/verified", {"email_verified": 1}, 403),
        ("/verified", {}, 403),
        ("/tenant", {"org": {"id": "globex"}}, 200),
        ("/tenant", {"org": {"id": "initech"}}, 403),
        ("/tenant", {"org": "acme"}, 403),
        ("/tenant", {"org": {"id": ["initech", "acme"]}}, 200),
        ("/has-email", {"email": "someone@example.test"}, 200),
        ("/has-email", {"email": None}, 403),
        ("/has-email", {}, 403),
    ],
)
def test_require_claim_checks_presence_and_accepted_values(
    client: TestClient, path: str, claims: dict[str, Any], status: int
) -> None:
    response = client.get(path, headers=bearer(mint(**claims)))
    assert response.status_code == status
    if status == 403:
        assert response.json()["error_description"] == "The access token lacks a required claim value"


def test_guards_bound_to_a_jwks_auth_work_in_both_modes(client: TestClient) -> None:
    good = mint(scope="read:items", roles=["editor"], email_verified=True)
    assert client.get("/bound", headers=bearer(good)).json() == {"sub": "user-1"}
    assert client.get("/bound/guards", headers=bearer(good)).status_code == 200
    assert (
        client.get("/bound/guards", headers=bearer(mint(scope="read:items", roles=["editor"]))).status_code
        == 403
    )
    assert client.get("/bound", headers=bearer(mint(scope="profile"))).status_code == 403


def test_a_websocket_route_gets_the_claims(client: TestClient) -> None:
    with client.websocket_connect("/ws", headers=bearer(mint())) as websocket:
        assert websocket.receive_json() == {"sub": "user-1"}


def test_a_websocket_route_with_the_scope_is_accepted(client: TestClient) -> None:
    with client.websocket_connect("/ws/items", headers=bearer(mint(scope="read:items"))) as websocket:
        assert websocket.receive_json() == ["a", "b"]
