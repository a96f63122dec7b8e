"""How to test your own protected app, with no identity provider and no network.

The pytest plugin of jwks-middleware (registered on install) gives two fixtures:
`local_issuer`, a real issuer served on 127.0.0.1 that mints tokens and serves discovery
and JWKS, and `local_issuer_config`, the `Issuer` trusting it. Build your app with that
`Issuer` (an app factory makes this easy) and send it tokens:

    pytest examples/test_my_app.py
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

# Your app. Here: the Starlette example next to this file.
from starlette_app import create_app

from jwks_middleware import Issuer
from jwks_middleware.testing import LocalIssuer


@pytest.fixture
def client(local_issuer_config: Issuer) -> Iterator[TestClient]:
    # The `with` block runs the app's lifespan: the middleware loads the keys once, up front.
    with TestClient(create_app([local_issuer_config])) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_token_with_the_scope_lists_items(client: TestClient, local_issuer: LocalIssuer) -> None:
    token = local_issuer.issue(sub="alice", scopes=["read:items"])

    response = client.get("/items", headers=bearer(token))

    assert response.status_code == 200
    assert response.json()["for"] == "alice"


def test_no_token_is_401(client: TestClient) -> None:
    response = client.get("/items")

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_a_token_without_the_scope_is_403(client: TestClient, local_issuer: LocalIssuer) -> None:
    token = local_issuer.issue(scopes=["read:items"])

    response = client.post("/items", json={"name": "plum"}, headers=bearer(token))

    assert response.status_code == 403
    assert 'scope="write:items"' in response.headers["www-authenticate"]


@pytest.mark.parametrize("make_token", ["expired_token", "wrong_audience_token", "wrong_key_token"])
def test_bad_tokens_are_401(client: TestClient, local_issuer: LocalIssuer, make_token: str) -> None:
    token = getattr(local_issuer, make_token)(scopes=["read:items"])

    response = client.get("/items", headers=bearer(token))

    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_tokens_of_a_new_key_work_after_rotation(client: TestClient, local_issuer: LocalIssuer) -> None:
    local_issuer.rotate()  # a new signing key, published in the JWKS the app already loaded

    response = client.get("/me", headers=bearer(local_issuer.issue(sub="bob")))

    assert response.status_code == 200
    assert response.json()["sub"] == "bob"


@pytest.mark.parametrize("local_issuer", ["ES256", "EdDSA"], indirect=True)
def test_any_key_type_works(client: TestClient, local_issuer: LocalIssuer) -> None:
    response = client.get("/me", headers=bearer(local_issuer.issue()))

    assert response.status_code == 200
