"""JWKSMiddleware against panva's real OpenID provider (`oidc-provider`), end to end.

Keys are discovered from the running provider during the app's lifespan (TestClient in a `with`
block); tokens are real RFC 9068 access tokens from the client-credentials grant.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

import pytest
from oidc_harness import API_RESOURCE, OTHER_RESOURCE, Alg, OIDCProvider
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from jwks_middleware import Claims, Issuer, JWKSMiddleware, requires_scopes

# Starlette >= 1.x warns at import time when its TestClient runs on `httpx` instead of `httpx2`;
# with `-W error` that warning would fail collection. Ignore exactly that one warning here.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=r"Using `httpx` with `starlette\.testclient` is deprecated")
    from starlette.testclient import TestClient

pytestmark = pytest.mark.interop

BOTH_ALGS: tuple[Alg, ...] = ("RS256", "ES256")


class Response(Protocol):
    """What the tests read from a TestClient response (an `httpx` or `httpx2` Response)."""

    @property
    def status_code(self) -> int: ...
    @property
    def headers(self) -> Mapping[str, str]: ...
    @property
    def text(self) -> str: ...
    def json(self) -> Any: ...


@requires_scopes("read:items")
async def list_items(request: Request) -> JSONResponse:
    claims: Claims = request.state.claims
    return JSONResponse(
        {
            "sub": claims.subject,
            "iss": claims.issuer,
            "aud": claims.audience,
            "client_id": claims["client_id"],
            "scopes": sorted(claims.scopes),
            "exp": claims.expires_at.isoformat() if claims.expires_at else None,
        }
    )


def make_app(provider: OIDCProvider, **issuer_options: Any) -> Starlette:
    issuer = Issuer(provider.issuer, audience=API_RESOURCE, **issuer_options)
    return Starlette(
        routes=[Route("/items", list_items)],
        middleware=[Middleware(JWKSMiddleware, issuers=[issuer])],
    )


@pytest.fixture
def client(oidc_provider: OIDCProvider) -> Iterator[TestClient]:
    with TestClient(make_app(oidc_provider)) as test_client:
        yield test_client


def get_items(client: TestClient, token: str) -> Response:
    return client.get("/items", headers={"Authorization": f"Bearer {token}"})


def assert_refused(response: Response, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer")
    assert f'error="{error}"' in challenge


@pytest.mark.parametrize("alg", BOTH_ALGS)
def test_token_accepted_and_claims_visible(oidc_provider: OIDCProvider, client: TestClient, alg: Alg) -> None:
    response = get_items(client, oidc_provider.token(scope="read:items write:items", alg=alg))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["iss"] == oidc_provider.issuer
    assert body["aud"] == API_RESOURCE
    assert body["sub"] == body["client_id"] == f"interop-client-{alg.lower()}"
    assert body["scopes"] == ["read:items", "write:items"]
    assert body["exp"].endswith("+00:00")  # Claims.expires_at is an aware UTC datetime


def test_default_client_token_accepted(oidc_provider: OIDCProvider, client: TestClient) -> None:
    response = get_items(client, oidc_provider.token())
    assert response.status_code == 200, response.text
    assert response.json()["sub"] == "interop-client"


def test_no_token_is_401_without_error_code(client: TestClient) -> None:
    response = client.get("/items")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "error=" not in response.headers["www-authenticate"]


def test_token_for_other_resource_is_invalid_token(oidc_provider: OIDCProvider, client: TestClient) -> None:
    assert_refused(get_items(client, oidc_provider.token(resource=OTHER_RESOURCE)), 401, "invalid_token")


def test_token_without_the_scope_is_insufficient_scope(
    oidc_provider: OIDCProvider, client: TestClient
) -> None:
    response = get_items(client, oidc_provider.token(scope="write:items"))
    assert_refused(response, 403, "insufficient_scope")
    assert 'scope="read:items"' in response.headers["www-authenticate"]


def test_unknown_scope_only_is_insufficient_scope(oidc_provider: OIDCProvider, client: TestClient) -> None:
    # oidc-provider drops a scope it does not know, so the token carries no scope at all
    assert_refused(
        get_items(client, oidc_provider.token(scope="admin:everything")), 403, "insufficient_scope"
    )


def test_rotation_is_picked_up_without_restart(oidc_provider: OIDCProvider) -> None:
    """Default settings: a new `kid` triggers one refresh, old and new tokens both work."""
    with TestClient(make_app(oidc_provider)) as client:
        old_tokens = {alg: oidc_provider.token(alg=alg) for alg in BOTH_ALGS}
        for token in old_tokens.values():
            assert get_items(client, token).status_code == 200

        oidc_provider.rotate()
        for alg in BOTH_ALGS:
            response = get_items(client, oidc_provider.token(alg=alg))
            assert response.status_code == 200, response.text
            assert get_items(client, old_tokens[alg]).status_code == 200


def test_retired_key_is_refused_after_refresh(oidc_provider: OIDCProvider) -> None:
    """A refresh that no longer lists a `kid` revokes it at once (cached verifications included)."""
    with TestClient(make_app(oidc_provider, refresh_cooldown=0)) as client:
        oldest = oidc_provider.token()
        assert get_items(client, oldest).status_code == 200  # now in the verified-token cache

        oidc_provider.rotate("RS256")
        previous = oidc_provider.token()
        assert get_items(client, previous).status_code == 200  # unknown kid: refresh

        oidc_provider.retire()  # `oldest`'s key is gone from the JWKS
        oidc_provider.rotate("RS256")
        newest = oidc_provider.token()
        assert get_items(client, newest).status_code == 200  # unknown kid: refresh, sees the retirement

        assert_refused(get_items(client, oldest), 401, "invalid_token")
        assert get_items(client, previous).status_code == 200  # still published
