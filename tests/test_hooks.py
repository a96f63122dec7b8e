"""The app's own rules: claims checks per issuer (401) and per route (403), revocation hooks,
and how long their verdicts are reused."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient
from support import NOW, Clock, make_issuer, mint

from jwks_middleware import (
    AuthUnavailableError,
    Claims,
    ClaimsCheckError,
    JWKSMiddleware,
    RevokedTokenError,
    TokenVerifier,
    requires_check,
)
from jwks_middleware.fastapi import JWKSAuth, require_check

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def in_our_tenant(claims: Claims) -> bool | str:
    return True if claims.get("tid") == "t-1" else f"tenant {claims.get('tid')!r} is not ours"


async def verified_email(claims: Claims) -> bool:
    return claims.get("email_verified") is True


# -- per issuer ---------------------------------------------------------------------------------


@pytest.mark.parametrize("check", [in_our_tenant, lambda claims: claims.get("tid") == "t-1"])
async def test_an_issuer_check_lets_through_what_it_accepts_and_refuses_the_rest(check: Any) -> None:
    verifier = TokenVerifier([make_issuer(claims_check=check)], clock=Clock())
    assert (await verifier.verify(mint(tid="t-1")))["tid"] == "t-1"
    with pytest.raises(ClaimsCheckError) as refused:
        await verifier.verify(mint(tid="t-2"))
    assert refused.value.status_code == 401
    assert refused.value.description == "The access token is invalid"  # the rule is not told


async def test_an_async_issuer_check_works_the_same() -> None:
    verifier = TokenVerifier([make_issuer(claims_check=verified_email)], clock=Clock())
    await verifier.verify(mint(email_verified=True))
    with pytest.raises(ClaimsCheckError):
        await verifier.verify(mint(email_verified="true"))


async def test_a_check_that_answers_none_refuses_and_says_so_in_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    verifier = TokenVerifier([make_issuer(claims_check=lambda claims: None)], clock=Clock())
    with caplog.at_level(logging.ERROR), pytest.raises(ClaimsCheckError):
        await verifier.verify(mint())
    assert "answer True to accept" in caplog.text


async def test_a_check_that_raises_is_503_logged_and_not_cached(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[Claims] = []

    def flaky(claims: Claims) -> bool:
        calls.append(claims)
        if len(calls) == 1:
            raise ConnectionError("tenant database down")
        return True

    verifier = TokenVerifier([make_issuer(claims_check=flaky)], clock=Clock())
    token = mint()
    with caplog.at_level(logging.ERROR), pytest.raises(AuthUnavailableError) as failed:
        await verifier.verify(token)
    assert failed.value.status_code == 503
    assert "ConnectionError" in caplog.text
    assert token not in caplog.text
    await verifier.verify(token)  # asked again, not remembered as refused


# -- revocation ---------------------------------------------------------------------------------


async def test_a_revoked_token_is_refused_within_the_hooks_cache_time() -> None:
    revoked: set[str] = set()
    clock = Clock()

    async def is_revoked(claims: Claims) -> bool:
        return claims["jti"] in revoked

    verifier = TokenVerifier([make_issuer(is_revoked=is_revoked, revocation_cache_ttl=30)], clock=clock)
    token = mint(jti="session-1", exp=NOW + 3600)
    await verifier.verify(token)
    revoked.add("session-1")
    assert verifier.cached(token) is not None  # the verdict is reused for up to 30 s ...
    clock.advance(31)
    assert verifier.cached(token) is None  # ... and no longer than that
    with pytest.raises(RevokedTokenError) as refused:
        await verifier.verify(token)
    assert refused.value.status_code == 401


async def test_a_hook_that_answers_neither_true_nor_false_revokes() -> None:
    verifier = TokenVerifier([make_issuer(is_revoked=lambda claims: "no")], clock=Clock())
    with pytest.raises(RevokedTokenError):
        await verifier.verify(mint())


def test_hooks_must_be_callables_and_the_cache_time_bounded() -> None:
    with pytest.raises(TypeError, match="claims_check"):
        make_issuer(claims_check="tid == t-1")
    with pytest.raises(ValueError, match="revocation_cache_ttl"):
        make_issuer(is_revoked=lambda claims: False, revocation_cache_ttl=0)


# -- per route ----------------------------------------------------------------------------------


@requires_check(in_our_tenant)
async def tenant_items(request: Request) -> Response:
    return PlainTextResponse("ours")


@requires_check(verified_email)
def email_items(request: Request) -> Response:
    return PlainTextResponse("verified")


def broken_check(claims: Claims) -> bool:
    raise RuntimeError("a bug in the check")


@requires_check(broken_check)
async def broken_items(request: Request) -> Response:  # pragma: no cover - never reached
    return PlainTextResponse("never")


def starlette_client() -> TestClient:
    app = Starlette(
        routes=[Route("/tenant", tenant_items), Route("/email", email_items), Route("/broken", broken_items)],
        middleware=[Middleware(JWKSMiddleware, issuers=[make_issuer()], clock=Clock())],
    )
    return TestClient(app)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_route_check_refuses_with_403_without_telling_the_rule() -> None:
    client = starlette_client()
    assert client.get("/tenant", headers=bearer(mint(tid="t-1"))).text == "ours"
    refused = client.get("/tenant", headers=bearer(mint(tid="t-2")))
    assert refused.status_code == 403
    assert refused.json() == {
        "error": "insufficient_scope",
        "error_description": "The access token does not meet a requirement of this resource",
    }
    assert "t-2" not in refused.text
    assert "tenant" not in refused.headers["www-authenticate"]


def test_an_async_route_check_on_a_sync_endpoint() -> None:
    client = starlette_client()
    assert client.get("/email", headers=bearer(mint(email_verified=True))).text == "verified"
    assert client.get("/email", headers=bearer(mint())).status_code == 403


def test_a_route_check_that_raises_is_503_never_500() -> None:
    response = starlette_client().get("/broken", headers=bearer(mint()))
    assert response.status_code == 503


def test_fastapi_route_checks_refuse_with_403_and_show_in_openapi() -> None:
    auth = JWKSAuth([make_issuer()], clock=Clock())
    app = FastAPI()
    auth.install(app)

    @app.get("/tenant", dependencies=[auth.require_check(in_our_tenant, description="a token of our tenant")])
    async def tenant() -> dict[str, str]:
        return {"tenant": "ours"}

    with TestClient(app) as client:
        assert client.get("/tenant", headers=bearer(mint(tid="t-1"))).json() == {"tenant": "ours"}
        refused = client.get("/tenant", headers=bearer(mint(tid="t-2")))
        assert refused.status_code == 403
        assert "t-2" not in refused.text
        description = client.get("/openapi.json").json()["paths"]["/tenant"]["get"]["description"]
        assert description == "Requires: a token of our tenant"


def test_the_module_level_guard_and_the_lifespan_wiring_describe_the_requirement() -> None:
    auth = JWKSAuth([make_issuer()], clock=Clock())
    app = FastAPI(lifespan=auth.lifespan)

    @app.get("/tenant", dependencies=[require_check(in_our_tenant, description="a token of our tenant")])
    async def tenant() -> dict[str, str]:
        return {"tenant": "ours"}

    with TestClient(app) as client:
        assert client.get("/tenant", headers=bearer(mint(tid="t-1"))).json() == {"tenant": "ours"}
        assert client.get("/tenant", headers=bearer(mint(tid="t-2"))).status_code == 403
        operation = client.get("/openapi.json").json()["paths"]["/tenant"]["get"]
        assert operation["description"] == "Requires: a token of our tenant"
