"""Sender-constrained tokens through the middleware and the FastAPI dependencies: DPoP proofs
(RFC 9449) with their challenges, nonces and replay store, and RFC 9728 metadata."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient, WebSocketDenialResponse
from starlette.websockets import WebSocket
from support import NOW, Clock

from jwks_middleware import Claims, DPoPPolicy, JWKSMiddleware, NonceSource, ResourceMetadata
from jwks_middleware._issuer import Binding
from jwks_middleware.fastapi import JWKSAuth
from jwks_middleware.testing import DPoPKey, LocalIssuer, dpop_bound_claims

URL: Final = "http://testserver/items"
ALGS: Final = 'algs="ES256 ES384 ES512 PS256 PS384 PS512 RS256 RS384 RS512 EdDSA Ed25519"'


@pytest.fixture(scope="module")
def issuer() -> LocalIssuer:
    return LocalIssuer(algorithm="ES256", clock=lambda: NOW)


@pytest.fixture(scope="module")
def key() -> DPoPKey:
    return DPoPKey(clock=lambda: NOW)


@pytest.fixture(scope="module")
def other_key() -> DPoPKey:
    return DPoPKey(clock=lambda: NOW)


async def items(request: Request) -> JSONResponse:
    return JSONResponse({"sub": request.state.claims.subject})


async def chat(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text(websocket.state.claims.subject)
    await websocket.close()


def api(
    issuer: LocalIssuer,
    binding: Binding = "accepted",
    *,
    base_url: str = "http://testserver",
    audience: str | None = None,
    **options: Any,
) -> TestClient:
    """A Starlette API behind `JWKSMiddleware(**options)` trusting `issuer` with this DPoP binding."""
    issuers = [issuer.config(jwks=issuer.jwks(), dpop=binding, audience=audience or issuer.audience)]
    app = Starlette(
        routes=[Route("/items", items, methods=["GET", "POST"]), WebSocketRoute("/ws", chat)],
        middleware=[Middleware(JWKSMiddleware, issuers=issuers, clock=Clock(), **options)],
    )
    return TestClient(app, base_url=base_url)


def dpop(token: str, proof: str) -> dict[str, str]:
    return {"Authorization": f"DPoP {token}", "DPoP": proof}


def challenges(response: Any) -> list[str]:
    values: list[str] = response.headers.get_list("www-authenticate")
    return values


@pytest.fixture
def bound(issuer: LocalIssuer, key: DPoPKey) -> str:
    return issuer.issue(sub="alice", **dpop_bound_claims(key))


# -- accepted -------------------------------------------------------------------------------


def test_a_bound_token_with_a_fresh_proof_passes(issuer: LocalIssuer, key: DPoPKey, bound: str) -> None:
    response = api(issuer).get("/items", headers=dpop(bound, key.proof("GET", URL, access_token=bound)))
    assert (response.status_code, response.json()) == (200, {"sub": "alice"})


def test_every_request_needs_a_new_proof_while_the_token_stays_cached(
    issuer: LocalIssuer, key: DPoPKey, bound: str
) -> None:
    client = api(issuer)
    proof = key.proof("GET", URL, access_token=bound)
    assert client.get("/items", headers=dpop(bound, proof)).status_code == 200
    replayed = client.get("/items", headers=dpop(bound, proof))
    assert replayed.status_code == 401
    assert challenges(replayed)[0].startswith('DPoP error="invalid_dpop_proof"')
    fresh = key.proof("GET", URL, access_token=bound)
    assert client.get("/items", headers=dpop(bound, fresh)).status_code == 200


# -- refused proofs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make_proof",
    [
        pytest.param(lambda key, token: key.proof("POST", URL, access_token=token), id="wrong htm"),
        pytest.param(
            lambda key, token: key.proof("GET", "http://testserver/other", access_token=token), id="wrong htu"
        ),
        pytest.param(lambda key, token: key.proof("GET", URL, access_token="another token"), id="wrong ath"),
        pytest.param(
            lambda key, token: key.proof("GET", URL, access_token=token, iat=NOW - 3600), id="too old"
        ),
        pytest.param(lambda key, token: key.proof("GET", URL), id="no ath"),
    ],
)
def test_a_proof_that_does_not_fit_the_request_is_refused(
    issuer: LocalIssuer, key: DPoPKey, bound: str, make_proof: Any
) -> None:
    response = api(issuer).get("/items", headers=dpop(bound, make_proof(key, bound)))
    assert response.status_code == 401
    assert challenges(response)[0].startswith('DPoP error="invalid_dpop_proof"')
    assert response.json()["error"] == "invalid_dpop_proof"


def test_a_proof_by_another_key_fails_the_binding(
    issuer: LocalIssuer, other_key: DPoPKey, bound: str
) -> None:
    response = api(issuer).get("/items", headers=dpop(bound, other_key.proof("GET", URL, access_token=bound)))
    assert response.status_code == 401
    assert challenges(response)[0].startswith(
        'DPoP error="invalid_token", error_description="Invalid DPoP key binding"'
    )


def test_the_dpop_scheme_without_a_proof_or_with_two_is_refused(
    issuer: LocalIssuer, key: DPoPKey, bound: str
) -> None:
    client = api(issuer)
    missing = client.get("/items", headers={"Authorization": f"DPoP {bound}"})
    assert (missing.status_code, missing.json()["error"]) == (401, "invalid_dpop_proof")
    proof = key.proof("GET", URL, access_token=bound)
    two = client.get("/items", headers=[("Authorization", f"DPoP {bound}"), ("DPoP", proof), ("DPoP", proof)])
    assert (two.status_code, two.json()["error"]) == (401, "invalid_dpop_proof")


# -- tokens and schemes -----------------------------------------------------------------------


def test_a_dpop_bound_token_sent_as_bearer_is_refused(issuer: LocalIssuer, bound: str) -> None:
    response = api(issuer).get("/items", headers={"Authorization": f"Bearer {bound}"})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
    assert "error=" in challenges(response)[0]


def test_an_unbound_token_with_the_dpop_scheme_is_refused(issuer: LocalIssuer, key: DPoPKey) -> None:
    token = issuer.issue(sub="bob")
    response = api(issuer).get("/items", headers=dpop(token, key.proof("GET", URL, access_token=token)))
    assert response.status_code == 401
    assert challenges(response)[0].startswith('DPoP error="invalid_token"')


def test_with_dpop_accepted_bearer_tokens_still_pass_and_both_schemes_are_offered(
    issuer: LocalIssuer,
) -> None:
    client = api(issuer)
    assert client.get("/items", headers={"Authorization": f"Bearer {issuer.issue()}"}).status_code == 200
    assert challenges(client.get("/items")) == ["Bearer", f"DPoP {ALGS}"]


def test_with_dpop_required_a_bearer_token_is_refused_and_only_dpop_is_offered(
    issuer: LocalIssuer, key: DPoPKey, bound: str
) -> None:
    client = api(issuer, "required")
    refused = client.get("/items", headers={"Authorization": f"Bearer {issuer.issue()}"})
    assert refused.status_code == 401
    description = "The access token must be bound to the client's key"
    assert challenges(refused) == [f'DPoP error="invalid_token", error_description="{description}", {ALGS}']
    assert challenges(client.get("/items")) == [f"DPoP {ALGS}"]
    assert (
        client.get("/items", headers=dpop(bound, key.proof("GET", URL, access_token=bound))).status_code
        == 200
    )


def test_with_dpop_refused_the_dpop_scheme_is_refused_and_only_bearer_is_offered(
    issuer: LocalIssuer, key: DPoPKey, bound: str
) -> None:
    client = api(issuer, "refused")
    response = client.get("/items", headers=dpop(bound, key.proof("GET", URL, access_token=bound)))
    assert response.status_code == 401
    assert challenges(client.get("/items")) == ["Bearer"]


# -- nonces, origin, WebSocket ----------------------------------------------------------------


def test_with_nonces_the_client_is_told_one_and_gets_the_next_on_success(
    issuer: LocalIssuer, key: DPoPKey, bound: str
) -> None:
    client = api(issuer, dpop=DPoPPolicy(nonces=NonceSource("n" * 32)))
    first = client.get("/items", headers=dpop(bound, key.proof("GET", URL, access_token=bound)))
    assert first.status_code == 401
    assert challenges(first)[0].startswith('DPoP error="use_dpop_nonce"')
    nonce = first.headers["dpop-nonce"]
    retried = client.get(
        "/items", headers=dpop(bound, key.proof("GET", URL, access_token=bound, nonce=nonce))
    )
    assert retried.status_code == 200
    assert retried.headers["dpop-nonce"]


def test_behind_a_proxy_the_proof_names_the_public_origin(
    issuer: LocalIssuer, key: DPoPKey, bound: str
) -> None:
    public = "https://api.example.com/items"
    client = api(issuer, dpop=DPoPPolicy(public_origin="https://api.example.com"))
    assert (
        client.get("/items", headers=dpop(bound, key.proof("GET", public, access_token=bound))).status_code
        == 200
    )
    assert (
        client.get("/items", headers=dpop(bound, key.proof("GET", URL, access_token=bound))).status_code
        == 401
    )


def test_forwarded_headers_are_read_only_when_trusted(issuer: LocalIssuer, key: DPoPKey, bound: str) -> None:
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "api.example.com"}
    public = "https://api.example.com/items"
    trusting = api(issuer, dpop=DPoPPolicy(trust_forwarded="x-forwarded"))
    proof = key.proof("GET", public, access_token=bound)
    assert trusting.get("/items", headers={**dpop(bound, proof), **forwarded}).status_code == 200
    proof = key.proof("GET", public, access_token=bound)
    assert api(issuer).get("/items", headers={**dpop(bound, proof), **forwarded}).status_code == 401


def test_a_websocket_handshake_takes_a_proof_for_get(issuer: LocalIssuer, key: DPoPKey, bound: str) -> None:
    client = api(issuer)
    proof = key.proof("GET", "http://testserver/ws", access_token=bound)
    with client.websocket_connect("/ws", headers=dpop(bound, proof)) as websocket:
        assert websocket.receive_text() == "alice"
    with (
        pytest.raises(WebSocketDenialResponse) as denied,
        client.websocket_connect("/ws", headers=dpop(bound, proof)),
    ):
        pass
    assert denied.value.status_code == 401


# -- FastAPI ------------------------------------------------------------------------------------


@pytest.fixture
def fastapi_client(issuer: LocalIssuer) -> Iterator[TestClient]:
    auth = JWKSAuth([issuer.config(jwks=issuer.jwks(), dpop="accepted")], clock=Clock())
    app = FastAPI()
    auth.install(app)

    @app.get("/items")
    async def read(claims: Claims = auth.require_scopes("read")) -> dict[str, Any]:  # noqa: B008
        return {"sub": claims.subject}

    with TestClient(app) as client:
        yield client


def test_fastapi_dependencies_check_the_proof_too(
    fastapi_client: TestClient, issuer: LocalIssuer, key: DPoPKey
) -> None:
    token = issuer.issue(sub="carol", scopes=["read"], **dpop_bound_claims(key))
    proof = key.proof("GET", URL, access_token=token)
    assert fastapi_client.get("/items", headers=dpop(token, proof)).json() == {"sub": "carol"}
    replayed = fastapi_client.get("/items", headers=dpop(token, proof))
    assert replayed.status_code == 401
    assert challenges(replayed)[0].startswith('DPoP error="invalid_dpop_proof"')
    as_bearer = fastapi_client.get("/items", headers={"Authorization": f"Bearer {token}"})
    assert as_bearer.status_code == 401


# -- RFC 9728 metadata --------------------------------------------------------------------------

RESOURCE: Final = "https://api.example.com/items"


def test_the_metadata_is_served_without_a_token_and_completed_from_the_configuration(
    issuer: LocalIssuer,
) -> None:
    metadata = ResourceMetadata(RESOURCE, scopes_supported=["read"])
    client = api(
        issuer, "required", base_url="https://api.example.com", audience=RESOURCE, resource_metadata=metadata
    )
    document = client.get("/.well-known/oauth-protected-resource/items")
    assert document.status_code == 200
    assert document.json() == {
        "resource": RESOURCE,
        "authorization_servers": [issuer.url],
        "scopes_supported": ["read"],
        "bearer_methods_supported": ["header"],
        "dpop_signing_alg_values_supported": ALGS.removeprefix('algs="').removesuffix('"').split(),
        "dpop_bound_access_tokens_required": True,
    }


def test_every_401_names_the_metadata_and_the_token_must_name_the_resource(issuer: LocalIssuer) -> None:
    metadata = ResourceMetadata(RESOURCE)
    client = api(
        issuer, "refused", base_url="https://api.example.com", audience=RESOURCE, resource_metadata=metadata
    )
    parameter = 'resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/items"'
    assert challenges(client.get("/items")) == [f"Bearer {parameter}"]
    elsewhere = client.get("/items", headers={"Authorization": f"Bearer {issuer.issue()}"})
    assert elsewhere.status_code == 401
    assert parameter in challenges(elsewhere)[0]
    mine = issuer.issue(audience=RESOURCE)
    assert client.get("/items", headers={"Authorization": f"Bearer {mine}"}).status_code == 200


def test_the_resource_audience_is_required_unless_told_otherwise(issuer: LocalIssuer) -> None:
    metadata = ResourceMetadata(RESOURCE)
    # Built inside the server's event loop: a configuration error answers 503 (see README).
    refused = api(issuer, base_url="https://api.example.com", resource_metadata=metadata).get("/items")
    assert refused.status_code == 503
    client = api(
        issuer,
        base_url="https://api.example.com",
        resource_metadata=metadata,
        require_resource_audience=False,
    )
    assert client.get("/items", headers={"Authorization": f"Bearer {issuer.issue()}"}).status_code == 200
