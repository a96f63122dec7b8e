"""DPoP-bound and opaque tokens from panva's real OpenID provider (`oidc-provider`), end to end:
its DPoP feature binds tokens to the client's key (RFC 9449), and its introspection and
revocation endpoints (RFC 7662, RFC 7009) answer for its opaque tokens."""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from oidc_harness import ES_RESOURCE, OIDCProvider
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from support import Clock

from jwks_middleware import DPoPPolicy, Introspection, Issuer, JWKSMiddleware, requires_scopes
from jwks_middleware.testing import DPoPKey

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=r"Using `httpx` with `starlette\.testclient` is deprecated")
    from starlette.testclient import TestClient

pytestmark = pytest.mark.interop

API: str = "https://api.example.test"
URL: str = f"{API}/items"


@requires_scopes("read:items")
async def items(request: Request) -> JSONResponse:
    claims = request.state.claims
    return JSONResponse({"client_id": claims["client_id"], "scopes": sorted(claims.scopes)})


def app(*issuers: Issuer, **options: Any) -> Starlette:
    return Starlette(
        routes=[Route("/items", items)],
        middleware=[Middleware(JWKSMiddleware, issuers=list(issuers), **options)],
    )


# -- DPoP -----------------------------------------------------------------------------------------


@pytest.fixture
def dpop_api(oidc_provider: OIDCProvider) -> Iterator[TestClient]:
    issuer = Issuer(oidc_provider.issuer, audience=ES_RESOURCE, dpop="required")
    with TestClient(app(issuer, dpop=DPoPPolicy(public_origin=API)), base_url=API) as client:
        yield client


def dpop_bound_token(provider: OIDCProvider, key: DPoPKey) -> str:
    proof = key.proof("POST", f"{provider.issuer}/token")
    response = provider.token_response(resource=ES_RESOURCE, dpop_proof=proof)
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "DPoP"
    token = response.json()["access_token"]
    assert isinstance(token, str)
    return token


def dpop_headers(token: str, proof: str) -> dict[str, str]:
    return {"Authorization": f"DPoP {token}", "DPoP": proof}


def test_a_dpop_bound_token_with_a_fresh_proof_passes(
    oidc_provider: OIDCProvider, dpop_api: TestClient
) -> None:
    key = DPoPKey()
    token = dpop_bound_token(oidc_provider, key)
    for _ in range(2):  # each request with its own proof
        response = dpop_api.get(
            "/items", headers=dpop_headers(token, key.proof("GET", URL, access_token=token))
        )
        assert response.status_code == 200, response.text
        assert response.json() == {"client_id": "interop-client", "scopes": ["read:items"]}


@pytest.mark.parametrize(
    ("name", "make_proof"),
    [
        ("replayed", None),
        ("wrong htu", lambda key, token: key.proof("GET", f"{API}/other", access_token=token)),
        ("wrong htm", lambda key, token: key.proof("POST", URL, access_token=token)),
        ("another key", lambda key, token: DPoPKey().proof("GET", URL, access_token=token)),
    ],
)
def test_a_proof_that_does_not_fit_is_refused_with_the_dpop_challenge(
    oidc_provider: OIDCProvider, dpop_api: TestClient, name: str, make_proof: Any
) -> None:
    key = DPoPKey()
    token = dpop_bound_token(oidc_provider, key)
    if make_proof is None:
        proof = key.proof("GET", URL, access_token=token)
        assert dpop_api.get("/items", headers=dpop_headers(token, proof)).status_code == 200
    else:
        proof = make_proof(key, token)
    response = dpop_api.get("/items", headers=dpop_headers(token, proof))
    assert response.status_code == 401, name
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("DPoP error="), challenge
    assert 'algs="' in challenge


def test_the_same_token_sent_as_bearer_is_refused(oidc_provider: OIDCProvider, dpop_api: TestClient) -> None:
    token = dpop_bound_token(oidc_provider, DPoPKey())
    response = dpop_api.get("/items", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith('DPoP error="invalid_token"')


# -- opaque tokens ----------------------------------------------------------------------------------


def introspecting(provider: OIDCProvider, cache_ttl: float) -> Issuer:
    client_id, client_secret = provider.introspection_client
    # An opaque client-credentials token of this provider has no `aud`: bind it to the client.
    return Issuer(
        provider.issuer,
        verify_audience=False,
        claim_values={"client_id": client_id},
        allow_http=True,
        introspection=Introspection(client_id, client_secret=client_secret, cache_ttl=cache_ttl),
    )


def test_a_real_opaque_token_passes_until_revoked_at_the_provider(oidc_provider: OIDCProvider) -> None:
    clock = Clock(time.time())
    with TestClient(app(introspecting(oidc_provider, cache_ttl=30), clock=clock)) as client:
        token = oidc_provider.opaque_token()
        response = client.get("/items", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.text
        assert response.json() == {"client_id": "interop-client", "scopes": ["read:items"]}

        oidc_provider.revoke(token)
        cached = client.get("/items", headers={"Authorization": f"Bearer {token}"})
        assert cached.status_code == 200  # the answer is reused for up to cache_ttl
        clock.advance(31)
        refused = client.get("/items", headers={"Authorization": f"Bearer {token}"})
        assert refused.status_code == 401
        assert refused.json()["error"] == "invalid_token"


def test_an_opaque_token_the_provider_does_not_know_is_refused(oidc_provider: OIDCProvider) -> None:
    with TestClient(app(introspecting(oidc_provider, cache_ttl=60))) as client:
        response = client.get(
            "/items", headers={"Authorization": "Bearer QaMuRarn5YmMForeUK3RFhiueaE2Nij889iC43oupbf"}
        )
        assert response.status_code == 401
