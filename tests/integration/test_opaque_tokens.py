"""Opaque tokens end to end: JWKSMiddleware and the FastAPI dependencies ask the local issuer's
real introspection endpoint on 127.0.0.1 (RFC 7662), with its answers cached and bounded."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from support import Clock

from jwks_middleware import (
    Claims,
    Introspection,
    Issuer,
    JWKSMiddleware,
    RevokedTokenError,
    TokenVerifier,
    requires_scopes,
)
from jwks_middleware.fastapi import JWKSAuth
from jwks_middleware.testing import LocalIssuer

pytestmark = pytest.mark.anyio

Client = Callable[..., httpx.AsyncClient]


@requires_scopes("read")
async def items(request: Request) -> JSONResponse:
    claims = request.state.claims
    return JSONResponse({"sub": claims.subject, "scopes": sorted(claims.scopes)})


def introspecting(issuer: LocalIssuer, **options: Any) -> Issuer:
    """The local issuer, trusted for its opaque tokens (answers cached `cache_ttl` seconds)."""
    return issuer.config(introspection=issuer.introspection(**options))


def starlette_api(issuers: list[Issuer], clock: Clock) -> httpx.AsyncClient:
    app = Starlette(
        routes=[Route("/items", items)], middleware=[Middleware(JWKSMiddleware, issuers=issuers, clock=clock)]
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api.test")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def api(issuer: LocalIssuer, clock: Clock) -> AsyncIterator[httpx.AsyncClient]:
    async with starlette_api([introspecting(issuer, cache_ttl=60)], clock) as client:
        yield client


async def test_an_opaque_token_passes_with_the_claims_its_issuer_gives(
    issuer: LocalIssuer, api: httpx.AsyncClient
) -> None:
    token = issuer.issue_opaque(sub="alice", scopes=["read", "write"])
    response = await api.get("/items", headers=bearer(token))
    assert (response.status_code, response.json()) == (200, {"sub": "alice", "scopes": ["read", "write"]})


async def test_the_same_rules_apply_to_the_answer(issuer: LocalIssuer, api: httpx.AsyncClient) -> None:
    lacking = await api.get("/items", headers=bearer(issuer.issue_opaque(scopes=["write"])))
    assert (lacking.status_code, lacking.json()["error"]) == (403, "insufficient_scope")
    elsewhere = await api.get(
        "/items", headers=bearer(issuer.issue_opaque(scopes=["read"], audience="https://x.test"))
    )
    assert (elsewhere.status_code, elsewhere.json()["error"]) == (401, "invalid_token")


async def test_an_inactive_token_is_refused(issuer: LocalIssuer, api: httpx.AsyncClient) -> None:
    response = await api.get("/items", headers=bearer("not-a-token-the-issuer-made"))
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')


async def test_a_revoked_token_is_refused_once_the_cache_time_passes(
    issuer: LocalIssuer, api: httpx.AsyncClient, clock: Clock
) -> None:
    token = issuer.issue_opaque(scopes=["read"])
    assert (await api.get("/items", headers=bearer(token))).status_code == 200
    issuer.revoke(token)
    assert (await api.get("/items", headers=bearer(token))).status_code == 200  # the cached answer
    clock.advance(61)
    assert (await api.get("/items", headers=bearer(token))).status_code == 401


async def test_a_cached_answer_is_served_without_asking_again(
    issuer: LocalIssuer, api: httpx.AsyncClient
) -> None:
    token = issuer.issue_opaque(scopes=["read"])
    issuer.reset_counts()
    for _ in range(5):
        assert (await api.get("/items", headers=bearer(token))).status_code == 200
    assert issuer.requests["/introspect"] == 1


async def test_concurrent_requests_for_one_token_share_one_introspection(
    issuer: LocalIssuer, api: httpx.AsyncClient
) -> None:
    token = issuer.issue_opaque(scopes=["read"])
    issuer.reset_counts()
    issuer.slow_down(0.3, path="/introspect", times=1)
    responses = await asyncio.gather(*(api.get("/items", headers=bearer(token)) for _ in range(10)))
    assert {response.status_code for response in responses} == {200}
    assert issuer.requests["/introspect"] == 1


async def test_an_endpoint_that_is_down_is_503_without_a_cached_answer_and_never_500(
    issuer: LocalIssuer, api: httpx.AsyncClient
) -> None:
    cached = issuer.issue_opaque(scopes=["read"])
    assert (await api.get("/items", headers=bearer(cached))).status_code == 200
    issuer.fail_with(500, path="/introspect")
    new = await api.get("/items", headers=bearer(issuer.issue_opaque(scopes=["read"])))
    assert new.status_code == 503
    assert new.headers["retry-after"]
    assert (await api.get("/items", headers=bearer(cached))).status_code == 200


async def test_a_jwt_of_an_issuer_that_revokes_is_refused_after_the_cache_time(
    issuer: LocalIssuer, clock: Clock
) -> None:
    config = introspecting(issuer, cache_ttl=30, all_tokens=True)
    async with starlette_api([config], clock) as api:
        token = issuer.issue(scopes=["read"])
        assert (await api.get("/items", headers=bearer(token))).status_code == 200
        issuer.revoke(token)
        clock.advance(31)
        refused = await api.get("/items", headers=bearer(token))
        assert (refused.status_code, refused.json()["error_description"]) == (
            401,
            "The access token was revoked",
        )


async def test_fastapi_dependencies_accept_opaque_tokens(issuer: LocalIssuer, clock: Clock) -> None:
    auth = JWKSAuth([introspecting(issuer)], clock=clock)
    app = FastAPI()
    auth.install(app)

    @app.get("/me")
    async def me(claims: Claims = auth.require_scopes("profile")) -> dict[str, Any]:  # noqa: B008
        return {"sub": claims.subject}

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://api.test"
    ) as client:
        token = issuer.issue_opaque(sub="bob", scopes=["profile"])
        assert (await client.get("/me", headers=bearer(token))).json() == {"sub": "bob"}
        refused = await client.get("/me", headers=bearer(issuer.issue_opaque(scopes=["other"])))
        assert refused.status_code == 403


def test_opaque_tokens_go_to_one_configured_issuer_only(issuer: LocalIssuer) -> None:
    other = LocalIssuer("https://other.example.test")

    def other_introspecting(**options: Any) -> Issuer:
        config = Introspection("client", client_secret="secret", endpoint=other.url + "/i", **options)
        return other.config(introspection=config)

    with pytest.raises(ValueError, match="one issuer only"):
        TokenVerifier([introspecting(issuer), other_introspecting()])
    # Told by configuration which one takes opaque tokens, both may introspect their JWTs.
    TokenVerifier([introspecting(issuer), other_introspecting(opaque_tokens=False, all_tokens=True)])


async def test_a_verdict_made_again_from_a_cached_answer_ends_with_that_answer(
    issuer: LocalIssuer, clock: Clock
) -> None:
    """A verdict pushed out of a small token cache and made again from the introspection answer
    still cached ends when that answer's freshness ends, not `cache_ttl` later."""
    config = issuer.config(introspection=issuer.introspection(all_tokens=True, cache_ttl=30))
    async with TokenVerifier([config], clock=clock, token_cache_size=2) as verifier:
        token = issuer.issue()
        assert await verifier.verify(token)
        issuer.revoke(token)
        clock.advance(15)
        for index in range(4):  # push the verdict out of the token cache
            assert await verifier.verify(issuer.issue(f"user-{index}"))
        assert verifier.cached(token) is None
        assert await verifier.verify(token)  # the first answer, still fresh
        clock.advance(15)
        with pytest.raises(RevokedTokenError):
            await verifier.verify(token)
