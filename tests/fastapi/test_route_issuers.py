"""A route's own issuers are never overridden: `JWKSAuth(issuers=[B])` on a route accepts only
what B's verifier verified, with `JWKSMiddleware(issuers=[A])` in front, optional or not.

Keys are static (`Issuer(jwks=...)`): no network. No `from __future__ import annotations`:
FastAPI reads the annotations of the routes defined inside functions at run time.
"""

from typing import Annotated, Any, Final

import pytest
from asgi_helpers import clock
from fastapi import Depends, FastAPI, Request, WebSocket
from fastapi.testclient import TestClient
from joserfc.jwk import RSAKey
from starlette.testclient import WebSocketDenialResponse
from support import mint

from jwks_middleware import Claims, Issuer, JWKSMiddleware
from jwks_middleware.fastapi import AuthClaims, AuthHTTPException, JWKSAuth, refusal_handler, require_scopes

ISSUER_A: Final = "https://a.example.test/"
ISSUER_B: Final = "https://b.example.test/"
AUDIENCE: Final = "https://api.example.test"
OTHER_AUDIENCE: Final = "https://partner-api.example.test"
KID: Final = "key-1"
UNTRUSTED: Final = "The access token issuer is not trusted"

B_ROUTES: Final = ("/b/claims", "/b/scopes", "/b/roles", "/b/claim")
A_ROUTES: Final = ("/a/claims", "/a/scopes")


@pytest.fixture(scope="module")
def key() -> RSAKey:
    generated: RSAKey = RSAKey.generate_key(2048, private=True)
    return generated


def make_issuer(key: RSAKey, iss: str, audience: str = AUDIENCE) -> Issuer:
    public = {**key.as_dict(private=False), "kid": KID, "alg": "RS256", "use": "sig"}
    return Issuer(iss, audience=audience, jwks={"keys": [public]})


def token(key: RSAKey, iss: str, audience: str = AUDIENCE) -> str:
    """A token that passes every guard below, when its issuer is trusted."""
    return mint(
        key,
        kid=KID,
        iss=iss,
        aud=audience,
        sub=f"user-of-{iss}",
        scope="read:items",
        roles=["editor"],
        email_verified=True,
    )


def make_app(middleware_issuer: Issuer, route_issuer: Issuer, *, optional: bool) -> FastAPI:
    """Routes under /b with their own `JWKSAuth`, routes under /a relying on the middleware."""
    app = FastAPI(exception_handlers={AuthHTTPException: refusal_handler})
    app.add_middleware(JWKSMiddleware, clock=clock, issuers=[middleware_issuer], optional=optional)
    b = JWKSAuth(clock=clock, issuers=[route_issuer])

    @app.get("/b/claims")
    async def b_claims(claims: Annotated[Claims, Depends(b.claims)], request: Request) -> dict[str, Any]:
        return {"iss": claims.issuer, "state": request.state.claims.issuer, "user": request.user.display_name}

    @app.get("/b/optional")
    async def b_optional(claims: Annotated[Claims | None, Depends(b.optional_claims)]) -> str | None:
        return claims.issuer if claims is not None else None

    @app.get("/b/scopes", dependencies=[b.require_scopes("read:items")])
    async def b_scopes() -> str:
        return "ok"

    @app.get("/b/roles", dependencies=[b.require_any_role("editor")])
    async def b_roles() -> str:
        return "ok"

    @app.get("/b/claim", dependencies=[b.require_claim("email_verified", True)])
    async def b_claim() -> str:
        return "ok"

    @app.get("/a/claims")
    async def a_claims(claims: AuthClaims) -> str:
        return claims.issuer

    @app.get("/a/scopes", dependencies=[require_scopes("read:items")])
    async def a_scopes() -> str:
        return "ok"

    @app.websocket("/b/ws")
    async def b_ws(websocket: WebSocket, claims: Annotated[Claims, Depends(b.claims)]) -> None:
        await websocket.accept()
        await websocket.send_json(claims.issuer)
        await websocket.close()

    @app.websocket("/a/ws")
    async def a_ws(websocket: WebSocket, claims: AuthClaims) -> None:
        await websocket.accept()
        await websocket.send_json(claims.issuer)
        await websocket.close()

    return app


@pytest.fixture(params=[False, True], ids=["middleware-required", "middleware-optional"])
def optional(request: pytest.FixtureRequest) -> bool:
    value: bool = request.param
    return value


@pytest.fixture
def client(key: RSAKey, optional: bool) -> TestClient:
    return TestClient(make_app(make_issuer(key, ISSUER_A), make_issuer(key, ISSUER_B), optional=optional))


# -- HTTP ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [*B_ROUTES, "/b/optional"])
def test_a_token_of_the_middlewares_issuer_is_refused_on_a_route_with_its_own(
    client: TestClient, key: RSAKey, path: str
) -> None:
    response = client.get(path, headers={"Authorization": f"Bearer {token(key, ISSUER_A)}"})
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_token", "error_description": UNTRUSTED}


@pytest.mark.parametrize("path", A_ROUTES)
def test_a_token_of_the_middlewares_issuer_passes_the_routes_relying_on_it(
    client: TestClient, key: RSAKey, path: str
) -> None:
    assert client.get(path, headers={"Authorization": f"Bearer {token(key, ISSUER_A)}"}).status_code == 200


@pytest.mark.parametrize("path", B_ROUTES + A_ROUTES)
def test_a_required_middleware_refuses_a_token_of_another_issuer_everywhere(key: RSAKey, path: str) -> None:
    client = TestClient(make_app(make_issuer(key, ISSUER_A), make_issuer(key, ISSUER_B), optional=False))
    response = client.get(path, headers={"Authorization": f"Bearer {token(key, ISSUER_B)}"})
    assert response.status_code == 401
    assert response.json()["error_description"] == UNTRUSTED


@pytest.mark.parametrize("path", B_ROUTES)
def test_an_optional_middleware_leaves_a_token_of_another_issuer_to_the_routes_own_issuers(
    key: RSAKey, path: str
) -> None:
    client = TestClient(make_app(make_issuer(key, ISSUER_A), make_issuer(key, ISSUER_B), optional=True))
    response = client.get(path, headers={"Authorization": f"Bearer {token(key, ISSUER_B)}"})
    assert response.status_code == 200


@pytest.mark.parametrize("path", A_ROUTES)
def test_routes_relying_on_an_optional_middleware_refuse_a_token_it_does_not_trust(
    key: RSAKey, path: str
) -> None:
    client = TestClient(make_app(make_issuer(key, ISSUER_A), make_issuer(key, ISSUER_B), optional=True))
    response = client.get(path, headers={"Authorization": f"Bearer {token(key, ISSUER_B)}"})
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_token", "error_description": UNTRUSTED}


def test_the_route_sees_its_own_issuers_verdict_in_request_state_and_user(key: RSAKey) -> None:
    client = TestClient(make_app(make_issuer(key, ISSUER_A), make_issuer(key, ISSUER_B), optional=True))
    response = client.get("/b/claims", headers={"Authorization": f"Bearer {token(key, ISSUER_B)}"})
    assert response.json() == {"iss": ISSUER_B, "state": ISSUER_B, "user": f"user-of-{ISSUER_B}"}
    assert (
        client.get("/b/optional", headers={"Authorization": f"Bearer {token(key, ISSUER_B)}"}).json()
        == ISSUER_B
    )


@pytest.mark.parametrize("path", B_ROUTES + A_ROUTES)
def test_an_anonymous_request_is_refused_without_an_error_code(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_an_optional_route_of_its_own_issuers_is_open_to_anonymous_requests(key: RSAKey) -> None:
    client = TestClient(make_app(make_issuer(key, ISSUER_A), make_issuer(key, ISSUER_B), optional=True))
    response = client.get("/b/optional")
    assert response.status_code == 200
    assert response.json() is None


# -- the same `iss`, other audiences ---------------------------------------------------------


def test_the_same_issuer_for_another_audience_is_another_authority(key: RSAKey) -> None:
    # B trusts A's `iss`, but for its own audience: A's verdict does not count on B's routes.
    client = TestClient(
        make_app(make_issuer(key, ISSUER_A), make_issuer(key, ISSUER_A, OTHER_AUDIENCE), optional=True)
    )
    for_a = {"Authorization": f"Bearer {token(key, ISSUER_A)}"}
    for_b = {"Authorization": f"Bearer {token(key, ISSUER_A, OTHER_AUDIENCE)}"}
    response = client.get("/b/claims", headers=for_a)
    assert response.status_code == 401
    assert response.json()["error_description"] == "The access token audience is not accepted"
    assert client.get("/a/claims", headers=for_a).status_code == 200
    assert client.get("/b/claims", headers=for_b).json()["iss"] == ISSUER_A
    assert client.get("/a/claims", headers=for_b).status_code == 401


# -- WebSocket -------------------------------------------------------------------------------


def test_a_websocket_route_with_its_own_issuers_refuses_the_middlewares_token(
    client: TestClient, key: RSAKey
) -> None:
    headers = {"Authorization": f"Bearer {token(key, ISSUER_A)}"}
    with pytest.raises(WebSocketDenialResponse) as denied, client.websocket_connect("/b/ws", headers=headers):
        pass  # pragma: no cover - the handshake is refused
    assert denied.value.status_code == 401
    assert denied.value.json()["error_description"] == UNTRUSTED
    with client.websocket_connect("/a/ws", headers=headers) as websocket:
        assert websocket.receive_json() == ISSUER_A


def test_a_websocket_route_with_its_own_issuers_accepts_their_token_behind_an_optional_middleware(
    key: RSAKey,
) -> None:
    client = TestClient(make_app(make_issuer(key, ISSUER_A), make_issuer(key, ISSUER_B), optional=True))
    headers = {"Authorization": f"Bearer {token(key, ISSUER_B)}"}
    with client.websocket_connect("/b/ws", headers=headers) as websocket:
        assert websocket.receive_json() == ISSUER_B
    with pytest.raises(WebSocketDenialResponse) as denied, client.websocket_connect("/a/ws", headers=headers):
        pass  # pragma: no cover - the handshake is refused
    assert denied.value.status_code == 401
