"""Sender-constrained tokens end to end: DPoP proofs (RFC 9449) and certificate-bound tokens
(RFC 8705) through `JWKSMiddleware`, through the FastAPI `JWKSAuth` dependencies on their own,
and through the dependencies behind the middleware; with RFC 9728 metadata and RFC 8707
audiences.

Tokens come from a `LocalIssuer` (keys given statically, no network), proofs from a `DPoPKey`,
all on one fixed clock. Every answer is checked for its status and exact challenges: none is
ever a 500.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any, Final

import pytest
from fastapi import Depends, FastAPI, WebSocket
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient, WebSocketDenialResponse
from starlette.types import ASGIApp
from starlette.websockets import WebSocket as StarletteWebSocket
from support import NOW, Clock

from jwks_middleware import (
    AuthEvent,
    CertificateSource,
    Claims,
    DPoPPolicy,
    JWKSMiddleware,
    NonceSource,
    ResourceMetadata,
)
from jwks_middleware.fastapi import JWKSAuth
from jwks_middleware.testing import (
    DPoPKey,
    LocalIssuer,
    TestCertificate,
    TestCertificateAuthority,
    certificate_bound_claims,
    dpop_bound_claims,
)

RESOURCE: Final = "https://api.example.test"
METADATA_URL: Final = "https://api.example.test/.well-known/oauth-protected-resource"
URL: Final = "http://testserver/items"
WS_URL: Final = "ws://testserver/ws"
ALGS: Final = 'algs="ES256 ES384 ES512 PS256 PS384 PS512 RS256 RS384 RS512 EdDSA Ed25519"'
PROOF_INVALID: Final = (
    'DPoP error="invalid_dpop_proof", error_description="The DPoP proof is invalid", ' + ALGS
)
BINDING_INVALID: Final = 'DPoP error="invalid_token", error_description="Invalid DPoP key binding", ' + ALGS
BOUND_AS_BEARER: Final = (
    'Bearer error="invalid_token", '
    'error_description="The access token is bound to a key and was sent without proof of possession"'
)
NONCE_SECRET: Final = "a nonce secret of at least thirty-two bytes"
#: How the app is protected: the middleware, the FastAPI dependencies on their own (`JWKSAuth`
#: with issuers, installed), or the dependencies reading the middleware's claims.
FRONTS: Final = ("middleware", "dependencies", "dependencies-behind-middleware")

clock: Final = Clock()
local: Final = LocalIssuer(audience=RESOURCE, clock=clock)
key: Final = DPoPKey(clock=clock)
other_key: Final = DPoPKey(clock=clock)


@pytest.fixture(params=FRONTS)
def front(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


def protected(
    front: str,
    *,
    dpop_mode: str = "accepted",
    certificates: str = "refused",
    audience: str = RESOURCE,
    **options: Any,
) -> ASGIApp:
    """An app with GET/POST /items and a /ws WebSocket answering the token's `sub`, protected
    by `front` with an issuer of `local` (`Issuer(audience=audience, dpop=dpop_mode,
    certificate_bound=certificates)`) and `options` (`dpop=`, `client_certificate=`,
    `resource_metadata=`, `on_event=`, ...)."""
    issuer = local.config(
        jwks=local.jwks(), audience=audience, dpop=dpop_mode, certificate_bound=certificates
    )
    settings = {"issuers": [issuer], "clock": clock, **options}
    if front == "middleware":
        return Starlette(
            routes=[Route("/items", _items, methods=["GET", "POST"]), WebSocketRoute("/ws", _websocket)],
            middleware=[Middleware(JWKSMiddleware, **settings)],
        )
    if front == "dependencies":
        auth = JWKSAuth(**settings)
        app = FastAPI()
        auth.install(app)
    else:
        auth = JWKSAuth()
        app = FastAPI(middleware=[Middleware(JWKSMiddleware, **settings)])
    app.add_api_route("/items", _claims_answer(auth), methods=["GET", "POST"])
    app.add_api_websocket_route("/ws", _websocket_answer(auth))
    return app


async def _items(request: Request) -> JSONResponse:
    return JSONResponse({"sub": request.state.claims.subject})


async def _websocket(websocket: StarletteWebSocket) -> None:
    await websocket.accept()
    await websocket.send_text(websocket.state.claims.subject)
    await websocket.close()


def _claims_answer(auth: JWKSAuth) -> Any:
    async def items(claims: Claims = Depends(auth.claims)) -> dict[str, Any]:
        return {"sub": claims.subject}

    return items


def _websocket_answer(auth: JWKSAuth) -> Any:
    async def websocket(websocket: WebSocket, claims: Claims = Depends(auth.claims)) -> None:
        await websocket.accept()
        await websocket.send_text(claims.subject or "")
        await websocket.close()

    return websocket


def dpop(token: str, proof: str | None) -> list[tuple[str, str]]:
    """Headers of a DPoP request: the token with the DPoP scheme, and the proof if any."""
    headers = [("Authorization", f"DPoP {token}")]
    return headers if proof is None else [*headers, ("DPoP", proof)]


def bound_token(**claims: Any) -> str:
    return local.issue(**dpop_bound_claims(key), **claims)


def challenges(response: Any) -> list[str]:
    values: list[str] = response.headers.get_list("www-authenticate")
    return values


def refused_handshake(client: TestClient, headers: list[tuple[str, str]]) -> WebSocketDenialResponse:
    """The denial response of a refused WebSocket handshake (the test client supports the
    `websocket.http.response` extension)."""
    with (
        pytest.raises(WebSocketDenialResponse) as refusal,
        client.websocket_connect("/ws", headers=dict(headers)),
    ):
        pass  # pragma: no cover - the handshake is refused
    return refusal.value


@pytest.fixture
def client(front: str) -> Iterator[TestClient]:
    with TestClient(protected(front)) as client:
        yield client


# -- a fresh proof passes ------------------------------------------------------------------------


def test_a_fresh_proof_with_its_bound_token_is_accepted(client: TestClient) -> None:
    token = bound_token()
    response = client.get("/items", headers=dpop(token, key.proof("GET", URL, access_token=token)))
    assert response.status_code == 200
    assert response.json() == {"sub": "user-123"}
    assert "dpop-nonce" not in response.headers  # nonces are off


def test_the_proof_names_the_method_of_the_request(client: TestClient) -> None:
    token = bound_token()
    response = client.post("/items", headers=dpop(token, key.proof("POST", URL, access_token=token)))
    assert response.status_code == 200


def test_a_websocket_handshake_with_a_fresh_proof_is_accepted(client: TestClient) -> None:
    token = bound_token()
    # A handshake is a GET (RFC 6455 section 4.1); the proof may name the ws:// or http:// URI.
    for url in (WS_URL, "http://testserver/ws"):
        with client.websocket_connect(
            "/ws", headers=dict(dpop(token, key.proof("GET", url, access_token=token)))
        ) as ws:
            assert ws.receive_text() == "user-123"


def test_the_scheme_name_is_case_insensitive(client: TestClient) -> None:
    token = bound_token()
    headers = [("Authorization", f"dpop {token}"), ("DPoP", key.proof("GET", URL, access_token=token))]
    assert client.get("/items", headers=headers).status_code == 200


# -- refused proofs --------------------------------------------------------------------------------


def test_a_replayed_proof_is_refused(client: TestClient) -> None:
    token = bound_token()
    headers = dpop(token, key.proof("GET", URL, access_token=token))
    assert client.get("/items", headers=headers).status_code == 200
    response = client.get("/items", headers=headers)
    assert response.status_code == 401
    assert challenges(response) == [
        f'DPoP error="invalid_dpop_proof", error_description="The DPoP proof was already used", {ALGS}',
        "Bearer",
    ]
    assert response.json() == {
        "error": "invalid_dpop_proof",
        "error_description": "The DPoP proof was already used",
    }


@pytest.mark.parametrize(
    ("method", "url"),
    [
        pytest.param("GET", "http://testserver/other", id="wrong-htu-path"),
        pytest.param("GET", "https://testserver/items", id="wrong-htu-scheme"),
        pytest.param("GET", "http://api.example.test/items", id="wrong-htu-host"),
        pytest.param("POST", URL, id="wrong-htm"),
        pytest.param("get", URL, id="htm-is-case-sensitive"),
    ],
)
def test_a_proof_for_another_request_is_refused(client: TestClient, method: str, url: str) -> None:
    token = bound_token()
    response = client.get("/items", headers=dpop(token, key.proof(method, url, access_token=token)))
    assert response.status_code == 401
    assert challenges(response) == [PROOF_INVALID, "Bearer"]


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"access_token": "another token"}, id="ath-of-another-token"),
        pytest.param({}, id="no-ath"),
        pytest.param({"access_token": None, "iat": NOW - 3600}, id="too-old"),
        pytest.param({"access_token": None, "iat": NOW + 3600}, id="from-the-future"),
    ],
)
def test_a_proof_for_another_token_or_time_is_refused(client: TestClient, options: dict[str, Any]) -> None:
    token = bound_token()
    if options.get("access_token", "") is None:
        options = {**options, "access_token": token}
    response = client.get("/items", headers=dpop(token, key.proof("GET", URL, **options)))
    assert response.status_code == 401
    assert challenges(response) == [PROOF_INVALID, "Bearer"]


def test_a_proof_signed_by_another_key_is_refused(client: TestClient) -> None:
    token = bound_token()
    response = client.get("/items", headers=dpop(token, other_key.proof("GET", URL, access_token=token)))
    assert response.status_code == 401
    assert challenges(response) == [BINDING_INVALID, "Bearer"]


def test_the_dpop_scheme_without_a_proof_is_refused(client: TestClient) -> None:
    response = client.get("/items", headers=dpop(bound_token(), None))
    assert response.status_code == 401
    assert challenges(response) == [PROOF_INVALID, "Bearer"]


def test_two_dpop_headers_are_refused(client: TestClient) -> None:
    token = bound_token()
    proof = key.proof("GET", URL, access_token=token)
    response = client.get("/items", headers=[*dpop(token, proof), ("DPoP", proof)])
    assert response.status_code == 401
    assert challenges(response) == [PROOF_INVALID, "Bearer"]


def test_a_dpop_bound_token_sent_as_bearer_is_refused(client: TestClient) -> None:
    # RFC 9449 section 7.2: no downgrade to the Bearer scheme; the error is in Bearer's challenge.
    response = client.get("/items", headers={"Authorization": f"Bearer {bound_token()}"})
    assert response.status_code == 401
    assert challenges(response) == [BOUND_AS_BEARER, f"DPoP {ALGS}"]


def test_an_unbound_token_with_the_dpop_scheme_is_refused(client: TestClient) -> None:
    token = local.issue()
    response = client.get("/items", headers=dpop(token, key.proof("GET", URL, access_token=token)))
    assert response.status_code == 401
    assert challenges(response) == [BINDING_INVALID, "Bearer"]


def test_a_bearer_token_still_passes_when_dpop_is_accepted(client: TestClient) -> None:
    response = client.get("/items", headers={"Authorization": f"Bearer {local.issue()}"})
    assert response.status_code == 200


def test_a_request_without_a_token_gets_both_challenges(client: TestClient) -> None:
    # RFC 9449 section 7.1: one challenge per accepted scheme, DPoP with its algorithms.
    response = client.get("/items")
    assert response.status_code == 401
    assert challenges(response) == ["Bearer", f"DPoP {ALGS}"]


def test_a_websocket_handshake_with_a_wrong_proof_is_refused(client: TestClient) -> None:
    token = bound_token()
    for proof in (key.proof("POST", WS_URL, access_token=token), None):
        denial = refused_handshake(client, dpop(token, proof))
        assert denial.status_code == 401
        assert challenges(denial) == [PROOF_INVALID, "Bearer"]


# -- what each issuer accepts ----------------------------------------------------------------------


def test_an_issuer_refusing_dpop_refuses_the_dpop_scheme_and_offers_bearer_only(front: str) -> None:
    with TestClient(protected(front, dpop_mode="refused")) as client:
        token = bound_token()
        response = client.get("/items", headers=dpop(token, key.proof("GET", URL, access_token=token)))
        assert response.status_code == 401
        assert challenges(response) == [
            'Bearer error="invalid_token", error_description="Invalid DPoP key binding"'
        ]
        assert client.get("/items").headers.get_list("www-authenticate") == ["Bearer"]
        assert client.get("/items", headers={"Authorization": f"Bearer {local.issue()}"}).status_code == 200


def test_an_issuer_requiring_dpop_refuses_bearer_tokens_and_offers_dpop_only(front: str) -> None:
    with TestClient(protected(front, dpop_mode="required")) as client:
        response = client.get("/items", headers={"Authorization": f"Bearer {local.issue()}"})
        assert response.status_code == 401
        assert challenges(response) == [
            'DPoP error="invalid_token", '
            f'error_description="The access token must be bound to the client\'s key", {ALGS}'
        ]
        assert challenges(client.get("/items")) == [f"DPoP {ALGS}"]
        token = bound_token()
        response = client.get("/items", headers=dpop(token, key.proof("GET", URL, access_token=token)))
        assert response.status_code == 200


def test_the_token_signature_is_cached_but_every_request_needs_a_new_proof(front: str) -> None:
    verified: list[AuthEvent] = []

    def on_event(event: AuthEvent) -> None:
        if event.kind == "token_verified":
            verified.append(event)

    with TestClient(protected(front, on_event=on_event)) as client:
        token = bound_token()
        proof = key.proof("GET", URL, access_token=token)
        assert client.get("/items", headers=dpop(token, proof)).status_code == 200
        replay = client.get("/items", headers=dpop(token, proof))
        fresh = client.get("/items", headers=dpop(token, key.proof("GET", URL, access_token=token)))
    assert replay.status_code == 401
    assert replay.json()["error_description"] == "The DPoP proof was already used"
    assert fresh.status_code == 200
    assert len(verified) == 1  # one signature check of the token for three requests


def test_a_replay_store_that_fails_refuses_with_503_never_500(front: str) -> None:
    class BrokenStore:
        async def add(self, key: str, expires_at: float) -> bool:
            raise ConnectionError("the store is down")

    with TestClient(protected(front, dpop=DPoPPolicy(replay_store=BrokenStore()))) as client:
        token = bound_token()
        response = client.get("/items", headers=dpop(token, key.proof("GET", URL, access_token=token)))
    assert response.status_code == 503
    assert response.json()["error_description"] == "The DPoP replay check is unavailable"


# -- server nonces -----------------------------------------------------------------------------------


def test_a_proof_without_the_server_nonce_gets_one_and_the_retry_passes(front: str) -> None:
    nonces = NonceSource(NONCE_SECRET)
    with TestClient(protected(front, dpop=DPoPPolicy(nonces=nonces))) as client:
        token = bound_token()
        first = client.get("/items", headers=dpop(token, key.proof("GET", URL, access_token=token)))
        assert first.status_code == 401
        assert challenges(first) == [
            'DPoP error="use_dpop_nonce", '
            f'error_description="The resource server requires a nonce in the DPoP proof", {ALGS}',
            "Bearer",
        ]
        nonce = first.headers["dpop-nonce"]
        assert first.headers.get_list("dpop-nonce") == [nonce]
        retry = client.get(
            "/items", headers=dpop(token, key.proof("GET", URL, access_token=token, nonce=nonce))
        )
        assert retry.status_code == 200
        assert retry.headers["dpop-nonce"] == nonces.issue(clock())  # the next one, on success too
        wrong = client.get(
            "/items", headers=dpop(token, key.proof("POST", URL, access_token=token, nonce=nonce))
        )
        assert wrong.status_code == 401
        assert wrong.headers.get_list("dpop-nonce") == [nonce]  # on every refusal of a DPoP request
        stale = client.get(
            "/items", headers=dpop(token, key.proof("GET", URL, access_token=token, nonce="x" * 32))
        )
        assert stale.json()["error"] == "use_dpop_nonce"
        bearer = client.get("/items", headers={"Authorization": f"Bearer {local.issue()}"})
        assert bearer.status_code == 200
        assert "dpop-nonce" not in bearer.headers


def test_a_websocket_handshake_needs_the_nonce_too(front: str) -> None:
    nonces = NonceSource(NONCE_SECRET)
    with TestClient(protected(front, dpop=DPoPPolicy(nonces=nonces))) as client:
        token = bound_token()
        denial = refused_handshake(client, dpop(token, key.proof("GET", WS_URL, access_token=token)))
        assert denial.status_code == 401
        assert denial.json()["error"] == "use_dpop_nonce"
        nonce = denial.headers["dpop-nonce"]
        assert nonce == nonces.issue(clock())
        headers = dpop(token, key.proof("GET", WS_URL, access_token=token, nonce=nonce))
        with client.websocket_connect("/ws", headers=dict(headers)) as ws:
            assert ws.receive_text() == "user-123"


# -- where htu's origin comes from -------------------------------------------------------------------


def test_behind_a_proxy_the_proof_names_the_configured_public_origin(front: str) -> None:
    with TestClient(protected(front, dpop=DPoPPolicy(public_origin="https://api.example.test"))) as client:
        token = bound_token()
        public = key.proof("GET", "https://api.example.test/items", access_token=token)
        assert client.get("/items", headers=dpop(token, public)).status_code == 200
        internal = key.proof("GET", URL, access_token=token)
        assert client.get("/items", headers=dpop(token, internal)).status_code == 401


def test_forwarded_headers_name_the_origin_only_when_trusted(front: str) -> None:
    forwarded = [("X-Forwarded-Proto", "https"), ("X-Forwarded-Host", "api.example.test")]
    token = bound_token()
    with TestClient(protected(front, dpop=DPoPPolicy(trust_forwarded="x-forwarded"))) as client:
        proof = key.proof("GET", "https://api.example.test/items", access_token=token)
        assert client.get("/items", headers=[*dpop(token, proof), *forwarded]).status_code == 200
    with TestClient(protected(front)) as client:  # untrusted: the headers are ignored
        proof = key.proof("GET", "https://api.example.test/items", access_token=token)
        response = client.get("/items", headers=[*dpop(token, proof), *forwarded])
        assert response.status_code == 401
        assert challenges(response) == [PROOF_INVALID, "Bearer"]


def test_a_malformed_trusted_forwarded_header_is_a_bad_request(front: str) -> None:
    with TestClient(protected(front, dpop=DPoPPolicy(trust_forwarded="forwarded"))) as client:
        token = bound_token()
        proof = key.proof("GET", URL, access_token=token)
        response = client.get("/items", headers=[*dpop(token, proof), ("Forwarded", 'for="unterminated')])
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


# -- resource metadata (RFC 9728) and the resource audience (RFC 8707) --------------------------------


def metadata_app(front: str, **options: Any) -> ASGIApp:
    return protected(
        front, resource_metadata=ResourceMetadata(RESOURCE, scopes_supported=["read"]), **options
    )


def test_every_challenge_names_the_metadata(front: str) -> None:
    with TestClient(metadata_app(front)) as client:
        token = bound_token()
        missing = client.get("/items")
        bad_proof = client.get("/items", headers=dpop(token, key.proof("POST", URL, access_token=token)))
        bad_token = client.get("/items", headers={"Authorization": "Bearer a.b.c"})
    parameter = f'resource_metadata="{METADATA_URL}"'
    assert challenges(missing) == [f"Bearer {parameter}", f"DPoP {parameter}, {ALGS}"]
    assert challenges(bad_proof) == [
        'DPoP error="invalid_dpop_proof", '
        f'error_description="The DPoP proof is invalid", {parameter}, {ALGS}',
        f"Bearer {parameter}",
    ]
    assert challenges(bad_token) == [
        f'Bearer error="invalid_token", error_description="The access token is malformed", {parameter}',
        f"DPoP {parameter}, {ALGS}",
    ]


def test_the_metadata_is_served_without_a_token_and_filled_from_the_configuration(front: str) -> None:
    with TestClient(metadata_app(front)) as client:
        response = client.get("/.well-known/oauth-protected-resource")
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.json() == {
        "resource": RESOURCE,
        "authorization_servers": [local.url],
        "scopes_supported": ["read"],
        "bearer_methods_supported": ["header"],
        "dpop_signing_alg_values_supported": list(DPoPPolicy().algorithms),
    }


def test_the_metadata_says_when_tokens_must_be_bound(front: str) -> None:
    options = {"dpop_mode": "required", "certificates": "accepted", "client_certificate": CertificateSource()}
    with TestClient(metadata_app(front, dpop=DPoPPolicy(algorithms=["ES256"]), **options)) as client:
        document = client.get("/.well-known/oauth-protected-resource").json()
    assert document["dpop_signing_alg_values_supported"] == ["ES256"]
    assert document["dpop_bound_access_tokens_required"] is True
    assert document["tls_client_certificate_bound_access_tokens"] is True


def test_a_resource_with_a_path_has_its_metadata_at_the_path_inserted_url(front: str) -> None:
    issuer_audience = f"{RESOURCE}/items"
    metadata = ResourceMetadata(issuer_audience)
    parameter = f'resource_metadata="{METADATA_URL}/items"'
    with TestClient(protected(front, audience=issuer_audience, resource_metadata=metadata)) as client:
        document = client.get("/.well-known/oauth-protected-resource/items")
        assert (document.status_code, document.json()["resource"]) == (200, issuer_audience)
        assert challenges(client.get("/items")) == [f"Bearer {parameter}", f"DPoP {parameter}, {ALGS}"]
        token = local.issue(audience=issuer_audience)
        assert client.get("/items", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_an_issuer_whose_audience_is_not_the_resource_is_a_configuration_error() -> None:
    metadata = ResourceMetadata("https://elsewhere.example.test")
    with pytest.raises(ValueError, match="RFC 8707"):
        JWKSAuth(issuers=[local.config(jwks=local.jwks())], resource_metadata=metadata)
    # Built by the server inside its event loop (Starlette's middleware stack): 503, never 500.
    response = TestClient(protected("middleware", resource_metadata=metadata)).get("/items")
    assert response.status_code == 503


def test_the_resource_audience_can_be_left_to_the_issuer_configuration(front: str) -> None:
    metadata = ResourceMetadata("https://elsewhere.example.test")
    with TestClient(protected(front, resource_metadata=metadata, require_resource_audience=False)) as client:
        response = client.get("/items", headers={"Authorization": f"Bearer {local.issue()}"})
    assert response.status_code == 200  # `aud` is the issuer's audience, not the resource


def test_with_a_resource_a_token_for_another_audience_is_refused(front: str) -> None:
    with TestClient(metadata_app(front)) as client:
        other = local.issue(audience="https://other.example.test")
        response = client.get("/items", headers={"Authorization": f"Bearer {other}"})
        assert response.status_code == 401
        assert challenges(response)[0] == (
            'Bearer error="invalid_token", error_description="The access token audience is not accepted", '
            f'resource_metadata="{METADATA_URL}"'
        )
        token = bound_token()
        response = client.get("/items", headers=dpop(token, key.proof("GET", URL, access_token=token)))
        assert response.status_code == 200


# -- certificate-bound tokens (RFC 8705), the certificate from a trusted proxy header -----------------


@pytest.fixture(scope="module")
def certificates() -> tuple[TestCertificate, TestCertificate]:
    ca = TestCertificateAuthority()
    return ca.issue_client_certificate("alice"), ca.issue_client_certificate("mallory")


def client_cert(certificate: TestCertificate) -> tuple[str, str]:
    """The RFC 9440 `Client-Cert` header a TLS-terminating proxy sets."""
    return ("Client-Cert", f":{base64.b64encode(certificate.der).decode('ascii')}:")


def certificate_app(front: str, certificates: str = "accepted") -> ASGIApp:
    return protected(
        front, certificates=certificates, client_certificate=CertificateSource(header="Client-Cert")
    )


def test_a_certificate_bound_token_passes_with_its_certificate_only(
    front: str, certificates: tuple[TestCertificate, TestCertificate]
) -> None:
    alice, mallory = certificates
    token = local.issue(**certificate_bound_claims(alice))
    headers = [("Authorization", f"Bearer {token}")]
    description = "The access token is not bound to the client certificate"
    refused = f'Bearer error="invalid_token", error_description="{description}"'
    with TestClient(certificate_app(front)) as client:
        assert client.get("/items", headers=[*headers, client_cert(alice)]).status_code == 200
        for response in (
            client.get("/items", headers=[*headers, client_cert(mallory)]),
            client.get("/items", headers=headers),
        ):
            assert response.status_code == 401
            assert challenges(response)[0] == refused
        with client.websocket_connect("/ws", headers=dict([*headers, client_cert(alice)])) as ws:
            assert ws.receive_text() == "user-123"


def test_an_issuer_requiring_certificate_bound_tokens_refuses_bearer_tokens(
    front: str, certificates: tuple[TestCertificate, TestCertificate]
) -> None:
    with TestClient(certificate_app(front, certificates="required")) as client:
        response = client.get(
            "/items", headers=[("Authorization", f"Bearer {local.issue()}"), client_cert(certificates[0])]
        )
    assert response.status_code == 401
    assert response.json()["error_description"] == "The access token must be bound to the client's key"


def test_a_dpop_bound_token_sent_as_bearer_gets_the_same_answer_when_certificates_are_checked(
    front: str,
) -> None:
    with TestClient(certificate_app(front)) as client:
        response = client.get("/items", headers={"Authorization": f"Bearer {bound_token()}"})
    assert response.status_code == 401
    assert challenges(response) == [BOUND_AS_BEARER, f"DPoP {ALGS}"]


def test_a_token_bound_both_ways_needs_both_proofs(
    front: str, certificates: tuple[TestCertificate, TestCertificate]
) -> None:
    alice = certificates[0]
    token = local.issue(cnf={"jkt": key.thumbprint, **certificate_bound_claims(alice)["cnf"]})
    with TestClient(certificate_app(front)) as client:
        proof = key.proof("GET", URL, access_token=token)
        assert client.get("/items", headers=[*dpop(token, proof), client_cert(alice)]).status_code == 200
        proof = key.proof("GET", URL, access_token=token)
        assert client.get("/items", headers=dpop(token, proof)).status_code == 401
