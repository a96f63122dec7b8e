"""An `httpx2.AsyncClient` (the maintained fork of httpx that Starlette's TestClient uses)
given as `http_client` works as an httpx one does, against the real loopback issuer."""

from __future__ import annotations

import httpx
import httpx2
import pytest
from integration_support import jwks_requests, path_of
from support import Clock

from jwks_middleware import KeysUnavailableError, TokenVerifier
from jwks_middleware.testing import LocalIssuer

pytestmark = pytest.mark.anyio


async def test_keys_are_discovered_and_fetched_with_an_httpx2_client(
    issuer: LocalIssuer, clock: Clock
) -> None:
    async with (
        httpx2.AsyncClient() as client,
        TokenVerifier([issuer.config()], http_client=client, clock=clock) as verifier,
    ):
        assert verifier.ready()
        assert (await verifier.verify(issuer.issue(sub="ann"))).subject == "ann"
        assert jwks_requests(issuer) == 1


async def test_a_rotation_is_fetched_with_an_httpx2_client(issuer: LocalIssuer, clock: Clock) -> None:
    async with (
        httpx2.AsyncClient() as client,
        TokenVerifier([issuer.config()], http_client=client, clock=clock) as verifier,
    ):
        issuer.rotate()
        assert (await verifier.verify(issuer.issue(sub="bob"))).subject == "bob"
        assert jwks_requests(issuer) == 2


@pytest.mark.parametrize("library", [httpx, httpx2], ids=["httpx", "httpx2"])
async def test_a_timeout_of_either_library_leaves_the_keys_unavailable(
    issuer: LocalIssuer, clock: Clock, library: object
) -> None:
    issuer.slow_down(2.0)
    config = issuer.config(timeout=0.2)
    async with library.AsyncClient() as client:  # type: ignore[attr-defined]
        verifier = TokenVerifier([config], http_client=client, clock=clock)
        with pytest.raises(KeysUnavailableError, match="timed out"):
            await verifier.verify(issuer.issue())
        await verifier.aclose()


async def test_a_redirect_is_not_followed_by_an_httpx2_client(issuer: LocalIssuer, clock: Clock) -> None:
    issuer.redirect("https://elsewhere.example/jwks", path=path_of(issuer.jwks_uri))
    config = issuer.config()
    async with httpx2.AsyncClient(follow_redirects=True) as client:
        verifier = TokenVerifier([config], http_client=client, clock=clock)
        with pytest.raises(KeysUnavailableError, match="redirect"):
            await verifier.verify(issuer.issue())
        await verifier.aclose()


def test_another_kind_of_client_is_refused_at_construction(issuer: LocalIssuer) -> None:
    with pytest.raises(TypeError, match="httpx or httpx2"):
        TokenVerifier([issuer.config()], http_client=object())  # type: ignore[arg-type]
