"""`JWKSAuth`: its own verifier, how it shares or repeats the middleware's verification, its
lifespan and `install`, its realm, and configuration errors at construction.

No `from __future__ import annotations` here: routes are defined inside functions, and FastAPI
reads their annotations at run time, where names local to a function cannot be resolved.
"""

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

import pytest
from asgi_helpers import bearer, clock
from fastapi import Depends, FastAPI, Request, Security
from fastapi.security import APIKeyHeader
from fastapi.testclient import TestClient
from fastapi_support import add_routes, make_app
from support import ISSUER, mint

from jwks_middleware import Claims, Issuer, JWKSMiddleware, TokenVerifier
from jwks_middleware.fastapi import (
    APP_STATE_KEY,
    AuthClaims,
    AuthHTTPException,
    JWKSAuth,
    current_claims,
    optional_claims,
    refusal_handler,
    require_any_role,
    require_any_scope,
    require_claim,
    require_roles,
    require_scopes,
)


def test_a_token_is_verified_once_per_request_however_many_dependencies_ask(
    issuer: Issuer, monkeypatch: pytest.MonkeyPatch
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
        response = client.get("/admin/stats", headers=bearer(mint(scope="admin read:items")))
    assert response.status_code == 200
    assert len(calls) == 1


def test_two_jwks_auths_on_one_route_each_verify_the_token_once(
    issuer: Issuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    first, second = JWKSAuth(clock=clock, issuers=[issuer]), JWKSAuth(clock=clock, issuers=[issuer])
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
        assert client.get("/both", headers=bearer(mint(scope="read:items"))).json() is True
    assert len(calls) == 2


def test_a_jwks_auth_sharing_the_middlewares_verifier_verifies_nothing_again(
    issuer: Issuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    verifier = TokenVerifier([issuer], clock=clock, token_cache_size=0)
    calls: list[str] = []
    begin = verifier.begin

    def counting(token: str, *, bound: bool = False) -> Any:
        calls.append(token)
        return begin(token, bound=bound)

    monkeypatch.setattr(verifier, "begin", counting)
    auth = JWKSAuth(verifier=verifier)
    app = FastAPI()
    app.add_middleware(JWKSMiddleware, verifier=verifier, realm="from-middleware")
    auth.install(app)
    add_routes(app, auth)
    with TestClient(app) as client:
        assert client.get("/bound", headers=bearer(mint(scope="read:items"))).status_code == 200
        response = client.get("/bound", headers=bearer(mint(scope="profile")))
    assert len(calls) == 2  # by the middleware, once per request
    assert response.headers["www-authenticate"].startswith('Bearer realm="from-middleware"')


def test_a_jwks_auth_with_its_own_verifier_verifies_what_the_middleware_verified(
    issuer: Issuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another verifier, even of the same issuers, is another authority: its own verdict counts.
    auth = JWKSAuth(clock=clock, issuers=[issuer])
    assert auth.verifier is not None
    calls: list[str] = []
    verify = auth.verifier.verify

    async def counting(token: str) -> Claims:
        calls.append(token)
        return await verify(token)

    monkeypatch.setattr(auth.verifier, "verify", counting)
    app = FastAPI()
    app.add_middleware(JWKSMiddleware, clock=clock, issuers=[issuer])
    auth.install(app)
    add_routes(app, auth)
    with TestClient(app) as client:
        assert client.get("/bound", headers=bearer(mint(scope="read:items"))).status_code == 200
        assert (
            client.get("/me", headers=bearer(mint(scope="read:items"))).status_code == 200
        )  # the middleware's
    assert len(calls) == 1


def test_a_path_the_middleware_skips_is_verified_by_the_installed_jwks_auth(issuer: Issuer) -> None:
    app = FastAPI()
    app.add_middleware(JWKSMiddleware, clock=clock, issuers=[issuer], exclude_paths=["/me"])
    JWKSAuth(clock=clock, issuers=[issuer], realm="installed").install(app)
    add_routes(app, JWKSAuth())
    with TestClient(app) as client:
        assert client.get("/me", headers=bearer(mint())).json()["sub"] == "user-1"
        assert client.get("/me").headers["www-authenticate"] == 'Bearer realm="installed"'


def test_without_middleware_or_installed_verifier_a_dependency_answers_503_and_logs_why(
    issuer: Issuer, caplog: pytest.LogCaptureFixture
) -> None:
    app = FastAPI(exception_handlers={AuthHTTPException: refusal_handler})
    app.add_middleware(JWKSMiddleware, clock=clock, issuers=[issuer], exclude_paths=["/me"])
    add_routes(app, JWKSAuth())
    with caplog.at_level(logging.ERROR, logger="jwks_middleware"), TestClient(app) as client:
        response = client.get("/me")
    assert response.status_code == 503
    assert response.json() == {"error": "unavailable", "error_description": "Authentication is unavailable"}
    assert "is its path excluded?" in caplog.text


def test_an_unexpected_verifier_failure_is_a_401_and_the_token_is_not_logged(
    issuer: Issuer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
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


def test_a_jwks_auth_takes_tokens_from_the_sources_it_enables(issuer: Issuer) -> None:
    auth = JWKSAuth(
        clock=clock, issuers=[issuer], cookie_name="access_token", websocket_query_param="access_token"
    )
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


def test_install_keeps_the_apps_own_lifespan_and_its_state(issuer: Issuer) -> None:
    events: list[str] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        events.append("start")
        yield {"greeting": "hello"}
        events.append("stop")

    app = FastAPI(lifespan=lifespan)
    auth = JWKSAuth(clock=clock, issuers=[issuer])
    auth.install(app)

    @app.get("/greeting")
    async def greeting(request: Request, claims: AuthClaims) -> str:
        value: str = request.state.greeting
        return value

    with TestClient(app) as client:
        assert auth.ready()
        assert client.get("/greeting", headers=bearer(mint())).json() == "hello"
    assert events == ["start", "stop"]


def test_the_lifespan_makes_the_auth_the_apps_fallback(issuer: Issuer) -> None:
    auth = JWKSAuth(clock=clock, issuers=[issuer])
    app = FastAPI(lifespan=auth.lifespan, exception_handlers={AuthHTTPException: refusal_handler})
    add_routes(app, auth)
    with TestClient(app) as client:
        assert getattr(app.state, APP_STATE_KEY) is auth
        assert client.get("/me", headers=bearer(mint())).json()["sub"] == "user-1"
        assert client.get("/me").json()["error"] == "unauthorized"


def test_a_lifespan_without_verifier_only_registers(issuer: Issuer) -> None:
    auth = JWKSAuth(realm="r")
    app = FastAPI(lifespan=auth.lifespan)
    app.add_middleware(JWKSMiddleware, clock=clock, issuers=[issuer])
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
    app.add_middleware(JWKSMiddleware, clock=clock, issuers=[issuer])
    first.install(app)
    with pytest.raises(ValueError, match="another JWKSAuth"), TestClient(app):
        pass  # pragma: no cover - start-up fails


def test_a_jwks_auth_shares_a_verifier(issuer: Issuer) -> None:
    verifier = TokenVerifier([issuer], clock=clock)
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
    app.add_middleware(JWKSMiddleware, clock=clock, issuers=[issuer], realm="middleware", optional=True)
    auth = JWKSAuth(realm="auth")
    auth.install(app)
    add_routes(app, auth)
    with TestClient(app) as client:
        assert client.get("/bound").headers["www-authenticate"] == 'Bearer realm="auth"'
        assert client.get("/me").headers["www-authenticate"] == 'Bearer realm="middleware"'


def test_without_any_realm_the_challenge_has_none(issuer: Issuer) -> None:
    app = FastAPI()
    JWKSAuth(clock=clock, issuers=[issuer]).install(app)
    add_routes(app, JWKSAuth())
    with TestClient(app) as client:
        assert client.get("/me").headers["www-authenticate"] == "Bearer"


def test_configuration_errors_are_raised_at_construction(issuer: Issuer) -> None:
    with pytest.raises(TypeError, match="either issuers"):
        JWKSAuth(clock=clock, issuers=[issuer], verifier=TokenVerifier([issuer], clock=clock))
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
    auth = JWKSAuth(clock=clock, issuers=[issuer], realm="r")
    assert repr(auth) == f"JWKSAuth(verifier=TokenVerifier(issuers=[{ISSUER!r}]), realm='r', scheme='JWT')"
    assert repr(current_claims) == "ClaimsDependency(scheme='JWT', optional=False)"
    assert repr(optional_claims) == "ClaimsDependency(scheme='JWT', optional=True)"
