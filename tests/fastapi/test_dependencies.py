"""FastAPI adapters: the same routes run behind `JWKSMiddleware` and with `JWKSAuth` alone.

Keys are static (`Issuer(jwks=...)`): no network. Tokens are minted with joserfc.
No `from __future__ import annotations` here: routes are defined inside functions, and FastAPI
reads their annotations at run time, where names local to a function cannot be resolved.
"""

import asyncio
import importlib
import logging
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, Final

import pytest
from fastapi import APIRouter, Depends, FastAPI, Request, Security, WebSocket
from fastapi.security import APIKeyHeader, OAuth2AuthorizationCodeBearer, OpenIdConnect
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import RSAKey
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request as StarletteRequest
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import WebSocketDenialResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocketDisconnect

from jwks_middleware import Claims, Issuer, JWKSMiddleware, TokenVerifier, requires_scopes
from jwks_middleware.fastapi import (
    APP_STATE_KEY,
    DEFAULT_SCHEME_NAME,
    AuthClaims,
    AuthHTTPException,
    JWKSAuth,
    OptionalAuthClaims,
    current_claims,
    optional_claims,
    refusal_handler,
    require_any_role,
    require_any_scope,
    require_claim,
    require_roles,
    require_scopes,
    swagger_ui_oauth,
)

ISSUER: Final = "https://issuer.example.test/"
AUDIENCE: Final = "https://api.example.test"
REALM: Final = "example"
KID: Final = "key-1"
MODES: Final = ("middleware", "standalone")


@pytest.fixture(scope="module")
def key() -> RSAKey:
    generated: RSAKey = RSAKey.generate_key(2048, private=True)
    return generated


@pytest.fixture(scope="module")
def issuer(key: RSAKey) -> Issuer:
    public = {**key.as_dict(private=False), "kid": KID, "alg": "RS256", "use": "sig"}
    return Issuer(
        ISSUER,
        audience=AUDIENCE,
        jwks={"keys": [public]},
        role_claims=[("realm_access", "roles"), "roles"],
    )


Mint = Callable[..., str]


@pytest.fixture(scope="module")
def mint(key: RSAKey) -> Mint:
    def mint(scopes: str | None = None, *, expires_in: int = 300, **claims: Any) -> str:
        now = int(time.time())
        payload: dict[str, Any] = {"iss": ISSUER, "aud": AUDIENCE, "sub": "user-1", "iat": now}
        payload["exp"] = now + expires_in
        if scopes is not None:
            payload["scope"] = scopes
        payload.update(claims)
        return jwt.encode({"alg": "RS256", "kid": KID, "typ": "JWT"}, payload, key)

    return mint


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- the app under test, in both modes ---------------------------------------------------------


def add_routes(app: FastAPI, auth: JWKSAuth) -> None:
    """Every form of the dependencies; module-level ones and ones bound to `auth`."""

    @app.get("/me")
    async def me(claims: AuthClaims, request: Request) -> dict[str, Any]:
        return {
            "sub": claims.subject,
            "scopes": sorted(claims.scopes),
            "state_is_claims": request.state.claims is claims,
            "user": request.user.display_name,
        }

    @app.get("/maybe")
    async def maybe(claims: OptionalAuthClaims) -> dict[str, Any]:
        return {"sub": claims.subject if claims is not None else None}

    @app.get("/items", dependencies=[require_scopes("read:items")])
    async def items() -> list[str]:
        return ["a", "b"]

    @app.post("/items")
    async def add_item(claims: Claims = require_scopes("read:items", "write:items")) -> dict[str, Any]:
        return {"by": claims.subject}

    admin = APIRouter(prefix="/admin", dependencies=[require_scopes("admin")])

    @admin.get("/stats")
    async def stats(claims: Claims = require_scopes("read:items")) -> dict[str, Any]:
        return {"sub": claims.subject}

    app.include_router(admin)

    @app.get("/authenticated", dependencies=[require_scopes("authenticated")])
    async def authenticated(request: Request) -> list[str]:
        return list(request.auth.scopes)

    @app.get("/any", dependencies=[require_any_scope("a", "b")])
    async def any_scope() -> str:
        return "ok"

    @app.get("/roles", dependencies=[require_roles("editor", "viewer")])
    async def roles() -> str:
        return "ok"

    @app.get("/any-role", dependencies=[require_any_role("editor", "viewer")])
    async def any_role() -> str:
        return "ok"

    @app.get("/verified", dependencies=[require_claim("email_verified", True)])
    async def verified() -> str:
        return "ok"

    @app.get("/tenant", dependencies=[require_claim(("org", "id"), "acme", "globex")])
    async def tenant() -> str:
        return "ok"

    @app.get("/has-email", dependencies=[require_claim("email")])
    async def has_email() -> str:
        return "ok"

    async def profile(claims: AuthClaims) -> str | None:
        return claims.subject

    @app.get("/profile")
    async def read_profile(sub: Annotated[str | None, Security(profile, scopes=["profile"])]) -> Any:
        return {"sub": sub}

    @app.get("/bound", dependencies=[auth.require_scopes("read:items")])
    async def bound(claims: Annotated[Claims, Depends(auth.claims)]) -> dict[str, Any]:
        return {"sub": claims.subject}

    @app.get("/bound/optional")
    async def bound_optional(claims: Claims | None = Security(auth.optional_claims)) -> dict[str, Any]:
        return {"sub": claims.subject if claims is not None else None}

    @app.get(
        "/bound/guards",
        dependencies=[
            auth.require_any_scope("x", "read:items"),
            auth.require_roles("editor"),
            auth.require_any_role("nobody", "editor"),
            auth.require_claim("email_verified", True),
        ],
    )
    async def bound_guards() -> str:
        return "ok"

    @app.websocket("/ws")
    async def ws(websocket: WebSocket, claims: AuthClaims) -> None:
        await websocket.accept()
        await websocket.send_json({"sub": claims.subject})
        await websocket.close()

    @app.websocket("/ws/items", dependencies=[require_scopes("read:items")])
    async def ws_items(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_json(["a", "b"])
        await websocket.close()


def make_app(mode: str, issuer: Issuer) -> tuple[FastAPI, JWKSAuth]:
    app = FastAPI()
    if mode == "middleware":
        # optional: anonymous requests reach the routes, whose dependencies decide.
        app.add_middleware(JWKSMiddleware, issuers=[issuer], realm=REALM, optional=True)
        auth = JWKSAuth()  # no verifier: claims come from the middleware
    else:
        auth = JWKSAuth(issuers=[issuer], realm=REALM)
    auth.install(app)
    add_routes(app, auth)
    return app, auth


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


@pytest.fixture
def app_and_auth(mode: str, issuer: Issuer) -> tuple[FastAPI, JWKSAuth]:
    return make_app(mode, issuer)


@pytest.fixture
def client(app_and_auth: tuple[FastAPI, JWKSAuth]) -> Iterator[TestClient]:
    with TestClient(app_and_auth[0]) as client:
        yield client


# -- claims --------------------------------------------------------------------------------


def test_a_valid_token_gives_the_route_its_claims(client: TestClient, mint: Mint) -> None:
    response = client.get("/me", headers=bearer(mint("read:items profile")))
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


def test_an_expired_token_is_refused_as_invalid(client: TestClient, mint: Mint) -> None:
    response = client.get("/me", headers=bearer(mint(expires_in=-3600)))
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == (
        f'Bearer realm="{REALM}", error="invalid_token", error_description="The access token expired"'
    )
    assert response.json() == {"error": "invalid_token", "error_description": "The access token expired"}


def test_a_token_for_another_audience_is_refused_as_invalid(client: TestClient, mint: Mint) -> None:
    response = client.get("/items", headers=bearer(mint("read:items", aud="https://other.example.test")))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_a_key_bound_token_sent_as_a_bearer_token_is_refused(client: TestClient, mint: Mint) -> None:
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


def test_optional_claims_are_none_for_an_anonymous_request(client: TestClient, mint: Mint) -> None:
    assert client.get("/maybe").json() == {"sub": None}
    assert client.get("/bound/optional").json() == {"sub": None}
    assert client.get("/maybe", headers=bearer(mint())).json() == {"sub": "user-1"}


def test_optional_claims_still_refuse_a_bad_token(client: TestClient, mint: Mint) -> None:
    response = client.get("/maybe", headers=bearer(mint(expires_in=-3600)))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"


# -- scopes --------------------------------------------------------------------------------


def test_a_route_guard_lets_a_token_with_the_scope_through(client: TestClient, mint: Mint) -> None:
    response = client.get("/items", headers=bearer(mint("read:items")))
    assert response.status_code == 200
    assert response.json() == ["a", "b"]


def test_an_under_scoped_token_gets_403_insufficient_scope_naming_the_scope(
    client: TestClient, mint: Mint
) -> None:
    response = client.get("/items", headers=bearer(mint("profile")))
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


def test_guards_see_the_tokens_scopes_not_starlettes_authenticated(client: TestClient, mint: Mint) -> None:
    # `request.auth.scopes` holds "authenticated" for Starlette's `requires`; the guards ignore it.
    assert client.get("/authenticated", headers=bearer(mint("read:items"))).status_code == 403
    response = client.get("/authenticated", headers=bearer(mint("authenticated")))
    assert response.json() == ["authenticated"]


def test_a_scope_guard_answers_an_anonymous_request_with_401(client: TestClient) -> None:
    assert client.get("/items").status_code == 401


def test_a_guard_as_parameter_requires_every_scope_and_gives_the_claims(
    client: TestClient, mint: Mint
) -> None:
    assert client.post("/items", headers=bearer(mint("read:items write:items"))).json() == {"by": "user-1"}
    response = client.post("/items", headers=bearer(mint("read:items")))
    assert response.status_code == 403
    assert response.json()["scope"] == "read:items write:items"


def test_a_router_guard_applies_to_every_route_of_the_router(client: TestClient, mint: Mint) -> None:
    assert client.get("/admin/stats", headers=bearer(mint("read:items"))).status_code == 403
    assert client.get("/admin/stats", headers=bearer(mint("admin"))).status_code == 403
    response = client.get("/admin/stats", headers=bearer(mint("admin read:items")))
    assert response.status_code == 200


def test_security_scopes_of_a_user_dependency_are_enforced(client: TestClient, mint: Mint) -> None:
    assert client.get("/profile", headers=bearer(mint("profile"))).json() == {"sub": "user-1"}
    assert client.get("/profile", headers=bearer(mint("read:items"))).status_code == 403


@pytest.mark.parametrize("scopes", ["a", "b", "b other"])
def test_any_scope_accepts_either_scope(client: TestClient, mint: Mint, scopes: str) -> None:
    assert client.get("/any", headers=bearer(mint(scopes))).status_code == 200


def test_any_scope_refuses_a_token_with_none_and_names_the_alternatives(
    client: TestClient, mint: Mint
) -> None:
    response = client.get("/any", headers=bearer(mint("c")))
    assert response.status_code == 403
    assert 'scope="a b"' in response.headers["www-authenticate"]


# -- roles and claims ----------------------------------------------------------------------


def test_roles_come_from_the_issuers_role_claims(client: TestClient, mint: Mint) -> None:
    keycloak = mint(realm_access={"roles": ["editor", "viewer"]})
    entra = mint(roles=["editor", "viewer"])
    assert client.get("/roles", headers=bearer(keycloak)).status_code == 200
    assert client.get("/roles", headers=bearer(entra)).status_code == 200


def test_a_missing_role_is_403_without_a_scope_in_the_challenge(client: TestClient, mint: Mint) -> None:
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


def test_any_role_accepts_one_of_the_roles(client: TestClient, mint: Mint) -> None:
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
    client: TestClient, mint: Mint, path: str, claims: dict[str, Any], status: int
) -> None:
    response = client.get(path, headers=bearer(mint(**claims)))
    assert response.status_code == status
    if status == 403:
        assert response.json()["error_description"] == "The access token lacks a required claim value"


def test_guards_bound_to_a_jwks_auth_work_in_both_modes(client: TestClient, mint: Mint) -> None:
    good = mint("read:items", roles=["editor"], email_verified=True)
    assert client.get("/bound", headers=bearer(good)).json() == {"sub": "user-1"}
    assert client.get("/bound/guards", headers=bearer(good)).status_code == 200
    assert (
        client.get("/bound/guards", headers=bearer(mint("read:items", roles=["editor"]))).status_code == 403
    )
    assert client.get("/bound", headers=bearer(mint("profile"))).status_code == 403


# -- WebSocket -----------------------------------------------------------------------------


def test_a_websocket_route_gets_the_claims(client: TestClient, mint: Mint) -> None:
    with client.websocket_connect("/ws", headers=bearer(mint())) as websocket:
        assert websocket.receive_json() == {"sub": "user-1"}


@pytest.mark.parametrize(
    ("path", "scopes", "expires_in", "status", "error"),
    [
        ("/ws", None, 300, 401, "unauthorized"),
        ("/ws", "", -3600, 401, "invalid_token"),
        ("/ws/items", "profile", 300, 403, "insufficient_scope"),
    ],
)
def test_a_websocket_handshake_is_denied_before_accept(
    client: TestClient, mint: Mint, path: str, scopes: str | None, expires_in: int, status: int, error: str
) -> None:
    headers = {} if scopes is None else bearer(mint(scopes, expires_in=expires_in))
    with pytest.raises(WebSocketDenialResponse) as denied, client.websocket_connect(path, headers=headers):
        pass  # pragma: no cover - the handshake is refused
    assert denied.value.status_code == status
    assert denied.value.json()["error"] == error
    assert denied.value.headers["www-authenticate"].startswith(f'Bearer realm="{REALM}"')


def test_a_websocket_route_with_the_scope_is_accepted(client: TestClient, mint: Mint) -> None:
    with client.websocket_connect("/ws/items", headers=bearer(mint("read:items"))) as websocket:
        assert websocket.receive_json() == ["a", "b"]


def without_denial_extension(app: ASGIApp) -> ASGIApp:
    async def server_without_extension(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            scope = {**scope, "extensions": {}}
        await app(scope, receive, send)

    return server_without_extension


def test_a_websocket_is_closed_with_1008_when_the_server_cannot_send_a_denial_response(
    app_and_auth: tuple[FastAPI, JWKSAuth],
) -> None:
    client = TestClient(without_denial_extension(app_and_auth[0]))
    with pytest.raises(WebSocketDisconnect) as closed, client.websocket_connect("/ws"):
        pass  # pragma: no cover - the handshake is refused
    assert closed.value.code == 1008


# -- identical answers ---------------------------------------------------------------------


def starlette_app(issuer: Issuer) -> Starlette:
    @requires_scopes("read:items")
    async def items(request: StarletteRequest) -> JSONResponse:
        return JSONResponse(["a", "b"])  # pragma: no cover - only refusals are compared

    return Starlette(
        routes=[Route("/me", items), Route("/items", items)],
        middleware=[Middleware(JWKSMiddleware, issuers=[issuer], realm=REALM)],
    )


@pytest.mark.parametrize(
    ("path", "scopes", "expires_in"),
    [("/me", None, 300), ("/me", "", -3600), ("/items", "profile", 300), ("/me", "bad header", 0)],
)
def test_refusals_of_the_dependencies_are_the_middlewares_byte_for_byte(
    issuer: Issuer, mint: Mint, path: str, scopes: str | None, expires_in: int
) -> None:
    if scopes == "bad header":
        headers = {"Authorization": "Bearer a b"}
    else:
        headers = {} if scopes is None else bearer(mint(scopes, expires_in=expires_in))
    app, _ = make_app("standalone", issuer)
    with TestClient(starlette_app(issuer)) as reference, TestClient(app) as client:
        expected = reference.get(path, headers=headers)
        got = client.get(path, headers=headers)
    assert got.status_code == expected.status_code
    assert got.headers.multi_items() == expected.headers.multi_items()
    assert got.content == expected.content


def test_without_the_refusal_handler_fastapi_wraps_the_same_body_in_detail(issuer: Issuer) -> None:
    auth = JWKSAuth(issuers=[issuer], realm=REALM)
    app = FastAPI(lifespan=auth.lifespan)

    @app.get("/me")
    async def me(claims: Annotated[Claims, Security(auth.claims)]) -> str | None:
        return claims.subject  # pragma: no cover - refused

    with TestClient(app) as client:
        response = client.get("/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == f'Bearer realm="{REALM}"'
    assert response.json() == {
        "detail": {"error": "unauthorized", "error_description": "Authentication required"}
    }


def test_the_refusal_handler_answers_only_auth_refusals() -> None:
    handling = refusal_handler(StarletteRequest({"type": "http", "headers": []}), ValueError("not ours"))
    with pytest.raises(TypeError, match="AuthHTTPException only"):
        asyncio.run(handling)


# -- verification happens once -------------------------------------------------------------


def test_a_token_is_verified_once_per_request_however_many_dependencies_ask(
    issuer: Issuer, mint: Mint, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, auth = make_app("standalone", issuer)
    assert auth.verifier is not None
    calls: list[str] = []
    verify = auth.verifier.verify

    async def counting(token: str) -> Claims:
        calls.append(token)
        return await verify(token)

    monkeypatch.setattr(auth.verifier, "verify", counting)
    with TestClient(app) as client:
        response = client.get("/admin/stats", headers=bearer(mint("admin read:items")))
    assert response.status_code == 200
    assert len(calls) == 1


def test_two_jwks_auths_on_one_route_each_verify_the_token_once(
    issuer: Issuer, mint: Mint, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    first, second = JWKSAuth(issuers=[issuer]), JWKSAuth(issuers=[issuer])
    for auth in (first, second):
        assert auth.verifier is not None
        verify = auth.verifier.verify

        async def counting(token: str, verify: Callable[[str], Any] = verify) -> Claims:
            calls.append(token)
            result: Claims = await verify(token)
            return result

        monkeypatch.setattr(auth.verifier, "verify", counting)
    app = FastAPI()

    @app.get("/both")
    async def both(
        one: Annotated[Claims, Depends(first.claims)],
        two: Annotated[Claims, Depends(second.claims)],
        again: Annotated[Claims, Security(first.claims, scopes=["read:items"])],
    ) -> bool:
        return one is again and one is not two

    with TestClient(app) as client:
        assert client.get("/both", headers=bearer(mint("read:items"))).json() is True
    assert len(calls) == 2


def test_a_jwks_auth_sharing_the_middlewares_verifier_verifies_nothing_again(
    issuer: Issuer, mint: Mint, monkeypatch: pytest.MonkeyPatch
) -> None:
    verifier = TokenVerifier([issuer], token_cache_size=0)
    calls: list[str] = []
    verify = verifier.verify

    async def counting(token: str) -> Claims:
        calls.append(token)
        return await verify(token)

    monkeypatch.setattr(verifier, "verify", counting)
    auth = JWKSAuth(verifier=verifier)
    app = FastAPI()
    app.add_middleware(JWKSMiddleware, verifier=verifier, realm="from-middleware")
    auth.install(app)
    add_routes(app, auth)
    with TestClient(app) as client:
        assert client.get("/bound", headers=bearer(mint("read:items"))).status_code == 200
        response = client.get("/bound", headers=bearer(mint("profile")))
    assert len(calls) == 2  # by the middleware, once per request
    assert response.headers["www-authenticate"].startswith('Bearer realm="from-middleware"')


def test_a_jwks_auth_with_its_own_verifier_verifies_what_the_middleware_verified(
    issuer: Issuer, mint: Mint, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another verifier, even of the same issuers, is another authority: its own verdict counts.
    auth = JWKSAuth(issuers=[issuer])
    assert auth.verifier is not None
    calls: list[str] = []
    verify = auth.verifier.verify

    async def counting(token: str) -> Claims:
        calls.append(token)
        return await verify(token)

    monkeypatch.setattr(auth.verifier, "verify", counting)
    app = FastAPI()
    app.add_middleware(JWKSMiddleware, issuers=[issuer])
    auth.install(app)
    add_routes(app, auth)
    with TestClient(app) as client:
        assert client.get("/bound", headers=bearer(mint("read:items"))).status_code == 200
        assert client.get("/me", headers=bearer(mint("read:items"))).status_code == 200  # the middleware's
    assert len(calls) == 1


def test_a_path_the_middleware_skips_is_verified_by_the_installed_jwks_auth(
    issuer: Issuer, mint: Mint
) -> None:
    app = FastAPI()
    app.add_middleware(JWKSMiddleware, issuers=[issuer], exclude_paths=["/me"])
    JWKSAuth(issuers=[issuer], realm="installed").install(app)
    add_routes(app, JWKSAuth())
    with TestClient(app) as client:
        assert client.get("/me", headers=bearer(mint())).json()["sub"] == "user-1"
        assert client.get("/me").headers["www-authenticate"] == 'Bearer realm="installed"'


def test_without_middleware_or_installed_verifier_a_dependency_answers_503_and_logs_why(
    issuer: Issuer, caplog: pytest.LogCaptureFixture
) -> None:
    app = FastAPI(exception_handlers={AuthHTTPException: refusal_handler})
    app.add_middleware(JWKSMiddleware, issuers=[issuer], exclude_paths=["/me"])
    add_routes(app, JWKSAuth())
    with caplog.at_level(logging.ERROR, logger="jwks_middleware"), TestClient(app) as client:
        response = client.get("/me")
    assert response.status_code == 503
    assert response.json() == {"error": "unavailable", "error_description": "Authentication is unavailable"}
    assert "is its path excluded?" in caplog.text


def test_an_unexpected_verifier_failure_is_a_401_and_the_token_is_not_logged(
    issuer: Issuer, mint: Mint, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    app, auth = make_app("standalone", issuer)
    assert auth.verifier is not None

    async def broken(token: str) -> Claims:
        raise ValueError(f"cannot parse {token}")

    monkeypatch.setattr(auth.verifier, "verify", broken)
    token = mint()
    with caplog.at_level(logging.ERROR, logger="jwks_middleware"), TestClient(app) as client:
        response = client.get("/me", headers=bearer(token))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
    assert "unexpected error while verifying a token" in caplog.text
    assert "ValueError" in caplog.text
    assert token not in caplog.text
    assert token.split(".")[1] not in caplog.text


# -- token sources -------------------------------------------------------------------------


def test_a_jwks_auth_takes_tokens_from_the_sources_it_enables(issuer: Issuer, mint: Mint) -> None:
    auth = JWKSAuth(issuers=[issuer], cookie_name="access_token", websocket_query_param="access_token")
    app = FastAPI()
    auth.install(app)
    add_routes(app, auth)
    token = mint()
    with TestClient(app) as client:
        client.cookies.set("access_token", token)
        assert client.get("/me").json()["sub"] == "user-1"
        assert client.get("/me", headers=bearer(token)).status_code == 400  # two places
        client.cookies.clear()
        with client.websocket_connect(f"/ws?access_token={token}") as websocket:
            assert websocket.receive_json() == {"sub": "user-1"}


# -- OpenAPI -------------------------------------------------------------------------------


def security_of(document: dict[str, Any], path: str, method: str = "get") -> Any:
    return document["paths"][path][method].get("security")


def test_openapi_has_the_bearer_scheme_and_each_routes_scopes(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert document["components"]["securitySchemes"] == {
        DEFAULT_SCHEME_NAME: {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "A JWT access token from a trusted issuer: `Authorization: Bearer <token>`.",
        }
    }
    assert security_of(document, "/me") == [{"JWT": []}]
    assert security_of(document, "/maybe") == [{"JWT": []}]
    assert security_of(document, "/items") == [{"JWT": ["read:items"]}]
    assert security_of(document, "/items", "post") == [{"JWT": ["read:items", "write:items"]}]
    assert security_of(document, "/admin/stats") == [{"JWT": ["admin", "read:items"]}]
    assert security_of(document, "/profile") == [{"JWT": ["profile"]}]
    assert security_of(document, "/any") == [{"JWT": []}]
    assert security_of(document, "/roles") == [{"JWT": []}]
    assert security_of(document, "/tenant") == [{"JWT": []}]


def test_openapi_shows_an_oauth2_authorization_code_scheme_for_swagger_ui(issuer: Issuer) -> None:
    scheme = OAuth2AuthorizationCodeBearer(
        authorizationUrl="https://issuer.example.test/authorize",
        tokenUrl="https://issuer.example.test/token",
        scopes={"read:items": "Read items"},
        scheme_name="OAuth2",
    )
    auth = JWKSAuth(issuers=[issuer], scheme=scheme)
    app = FastAPI(swagger_ui_init_oauth=swagger_ui_oauth("swagger", scopes=["openid", "read:items"]))
    auth.install(app)

    @app.get("/items", dependencies=[auth.require_scopes("read:items")])
    async def items() -> list[str]:
        return []  # pragma: no cover - only the documents are read

    with TestClient(app) as client:
        document = client.get("/openapi.json").json()
        docs = client.get("/docs").text
    assert document["components"]["securitySchemes"]["OAuth2"] == {
        "type": "oauth2",
        "flows": {
            "authorizationCode": {
                "authorizationUrl": "https://issuer.example.test/authorize",
                "tokenUrl": "https://issuer.example.test/token",
                "scopes": {"read:items": "Read items"},
            }
        },
    }
    assert security_of(document, "/items") == [{"OAuth2": ["read:items"]}]
    assert '"usePkceWithAuthorizationCodeGrant": true' in docs
    assert '"clientId": "swagger"' in docs


def test_openapi_shows_an_openid_connect_scheme(issuer: Issuer) -> None:
    url = "https://issuer.example.test/.well-known/openid-configuration"
    auth = JWKSAuth(issuers=[issuer], scheme=OpenIdConnect(openIdConnectUrl=url))
    app = FastAPI()

    @app.get("/me")
    async def me(claims: Annotated[Claims, Security(auth.claims, scopes=["openid"])]) -> None:
        pass  # pragma: no cover - only the document is read

    document = TestClient(app).get("/openapi.json").json()
    assert document["components"]["securitySchemes"] == {
        "OpenIdConnect": {"type": "openIdConnect", "openIdConnectUrl": url}
    }
    assert security_of(document, "/me") == [{"OpenIdConnect": ["openid"]}]


def test_swagger_ui_oauth_settings() -> None:
    assert swagger_ui_oauth("spa") == {"clientId": "spa", "usePkceWithAuthorizationCodeGrant": True}
    assert swagger_ui_oauth("spa", scopes=["openid", "x"])["scopes"] == "openid x"
    with pytest.raises(ValueError, match="client_id"):
        swagger_ui_oauth("")


# -- wiring --------------------------------------------------------------------------------


def test_install_keeps_the_apps_own_lifespan_and_its_state(issuer: Issuer, mint: Mint) -> None:
    events: list[str] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        events.append("start")
        yield {"greeting": "hello"}
        events.append("stop")

    app = FastAPI(lifespan=lifespan)
    auth = JWKSAuth(issuers=[issuer])
    auth.install(app)

    @app.get("/greeting")
    async def greeting(request: Request, claims: AuthClaims) -> str:
        value: str = request.state.greeting
        return value

    with TestClient(app) as client:
        assert auth.ready()
        assert client.get("/greeting", headers=bearer(mint())).json() == "hello"
    assert events == ["start", "stop"]


def test_the_lifespan_makes_the_auth_the_apps_fallback(issuer: Issuer, mint: Mint) -> None:
    auth = JWKSAuth(issuers=[issuer])
    app = FastAPI(lifespan=auth.lifespan, exception_handlers={AuthHTTPException: refusal_handler})
    add_routes(app, auth)
    with TestClient(app) as client:
        assert getattr(app.state, APP_STATE_KEY) is auth
        assert client.get("/me", headers=bearer(mint())).json()["sub"] == "user-1"
        assert client.get("/me").json()["error"] == "unauthorized"


def test_a_lifespan_without_verifier_only_registers(issuer: Issuer) -> None:
    auth = JWKSAuth(realm="r")
    app = FastAPI(lifespan=auth.lifespan)
    app.add_middleware(JWKSMiddleware, issuers=[issuer])
    with TestClient(app):
        assert getattr(app.state, APP_STATE_KEY) is auth
    assert auth.ready()


def test_a_lifespan_without_verifier_sees_a_middleware_wrapped_around_the_app(issuer: Issuer) -> None:
    auth = JWKSAuth()
    app = FastAPI()
    auth.install(app)
    with TestClient(JWKSMiddleware(app, issuers=[issuer])):
        assert getattr(app.state, APP_STATE_KEY) is auth


@pytest.mark.parametrize("wiring", ["install", "lifespan"])
def test_a_jwks_auth_without_issuers_nor_middleware_fails_the_start_up(wiring: str) -> None:
    auth = JWKSAuth()
    app = FastAPI(lifespan=auth.lifespan) if wiring == "lifespan" else FastAPI()
    if wiring == "install":
        auth.install(app)
    with (
        pytest.raises(ValueError, match="relies on JWKSMiddleware, and none wraps this app"),
        TestClient(app),
    ):
        pass  # pragma: no cover - start-up fails


def test_install_refuses_a_second_auth_and_a_started_app(issuer: Issuer) -> None:
    app = FastAPI()
    JWKSAuth().install(app)
    with pytest.raises(ValueError, match="installed on this app already"):
        JWKSAuth().install(app)
    started = FastAPI()
    with TestClient(started), pytest.raises(RuntimeError, match="before the app starts"):
        JWKSAuth().install(started)


def test_two_auths_cannot_claim_the_same_app(issuer: Issuer) -> None:
    first = JWKSAuth()
    app = FastAPI(lifespan=JWKSAuth().lifespan)
    app.add_middleware(JWKSMiddleware, issuers=[issuer])
    first.install(app)
    with pytest.raises(ValueError, match="another JWKSAuth"), TestClient(app):
        pass  # pragma: no cover - start-up fails


def test_a_jwks_auth_shares_a_verifier(issuer: Issuer, mint: Mint) -> None:
    verifier = TokenVerifier([issuer])
    auth = JWKSAuth(verifier=verifier)
    app = FastAPI()
    app.add_middleware(JWKSMiddleware, verifier=verifier, exclude_paths=["/me"])
    auth.install(app)
    add_routes(app, auth)
    with TestClient(app) as client:
        assert client.get("/me", headers=bearer(mint())).status_code == 200
    assert auth.verifier is verifier


def test_the_realm_of_a_jwks_auth_wins_over_the_middlewares(issuer: Issuer) -> None:
    app = FastAPI()
    app.add_middleware(JWKSMiddleware, issuers=[issuer], realm="middleware", optional=True)
    auth = JWKSAuth(realm="auth")
    auth.install(app)
    add_routes(app, auth)
    with TestClient(app) as client:
        assert client.get("/bound").headers["www-authenticate"] == 'Bearer realm="auth"'
        assert client.get("/me").headers["www-authenticate"] == 'Bearer realm="middleware"'


def test_without_any_realm_the_challenge_has_none(issuer: Issuer) -> None:
    app = FastAPI()
    JWKSAuth(issuers=[issuer]).install(app)
    add_routes(app, JWKSAuth())
    with TestClient(app) as client:
        assert client.get("/me").headers["www-authenticate"] == "Bearer"


# -- configuration errors ------------------------------------------------------------------


def test_configuration_errors_are_raised_at_construction(issuer: Issuer) -> None:
    with pytest.raises(TypeError, match="not both"):
        JWKSAuth(issuers=[issuer], verifier=TokenVerifier([issuer]))
    with pytest.raises(ValueError, match="bearer tokens"):
        JWKSAuth(scheme=APIKeyHeader(name="x-api-key"))
    with pytest.raises(TypeError, match="security scheme"):
        JWKSAuth(scheme="bearer")  # type: ignore[arg-type]
    for guard in (require_scopes, require_any_scope, require_roles, require_any_role):
        with pytest.raises(ValueError, match="one or more"):
            guard()
        with pytest.raises(ValueError, match="without spaces"):
            guard("a b")
    with pytest.raises(TypeError, match="claim name"):
        require_claim("")
    with pytest.raises(TypeError, match="claim name"):
        require_claim(())
    with pytest.raises(TypeError, match="strings, numbers or booleans"):
        require_claim("groups", ["admins"])


def test_reprs_name_the_configuration(issuer: Issuer) -> None:
    auth = JWKSAuth(issuers=[issuer], realm="r")
    assert repr(auth) == f"JWKSAuth(verifier=TokenVerifier(issuers=[{ISSUER!r}]), realm='r', scheme='JWT')"
    assert repr(current_claims) == "ClaimsDependency(scheme='JWT', optional=False)"
    assert repr(optional_claims) == "ClaimsDependency(scheme='JWT', optional=True)"


# -- packaging -----------------------------------------------------------------------------


def test_importing_the_package_does_not_import_fastapi() -> None:
    code = "import sys, jwks_middleware; sys.exit('fastapi' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0  # noqa: S603


def test_without_fastapi_the_module_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "fastapi", None)
    monkeypatch.delitem(sys.modules, "jwks_middleware.fastapi")
    with pytest.raises(ImportError, match=r'pip install "jwks-middleware\[fastapi\]"'):
        importlib.import_module("jwks_middleware.fastapi")
