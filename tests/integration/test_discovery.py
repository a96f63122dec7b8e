"""Finding the JWKS: OpenID Connect discovery, the RFC 8414 fallback, an explicit `jwks_uri`,
and extra headers on the fetch (OneLogin wants a bearer token on its JWKS)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from integration_support import (
    EventLog,
    VerifierFactory,
    discovery_requests,
    jwks_requests,
    path_of,
)
from support import Clock

from jwks_middleware import KeysUnavailableError, TokenVerifier
from jwks_middleware.testing import LocalIssuer

pytestmark = pytest.mark.anyio


def metadata_requests(issuer: LocalIssuer) -> int:
    return issuer.requests[path_of(issuer.oauth_metadata_url)]


async def test_jwks_uri_comes_from_the_openid_configuration(
    issuer: LocalIssuer, started_verifier: VerifierFactory
) -> None:
    async with started_verifier() as verifier:
        assert verifier.ready()
        assert (discovery_requests(issuer), metadata_requests(issuer), jwks_requests(issuer)) == (1, 0, 1)
        assert verifier.key_store.states()[0].jwks_uri == issuer.jwks_uri
        await verifier.verify(issuer.issue())
        assert issuer.requests.total() == 2


@pytest.fixture
def tenant_issuer(clock: Clock) -> Iterator[LocalIssuer]:
    """An issuer whose URL has a path, where RFC 8414 puts `.well-known` before the path."""
    with LocalIssuer.serve(clock=clock, path="/tenants/acme") as served:
        yield served


async def test_falls_back_to_rfc8414_metadata_when_openid_configuration_is_404(
    tenant_issuer: LocalIssuer, clock: Clock
) -> None:
    tenant_issuer.serve_discovery = False
    assert tenant_issuer.oauth_metadata_url.endswith("/.well-known/oauth-authorization-server/tenants/acme")
    async with TokenVerifier([tenant_issuer.config()], clock=clock) as verifier:
        assert verifier.ready()
        assert (
            discovery_requests(tenant_issuer),
            metadata_requests(tenant_issuer),
            jwks_requests(tenant_issuer),
        ) == (1, 1, 1)
        assert (await verifier.verify(tenant_issuer.issue())).issuer == tenant_issuer.url


async def test_metadata_naming_another_issuer_is_refused(
    issuer: LocalIssuer, started_verifier: VerifierFactory, event_log: EventLog
) -> None:
    issuer.serve_metadata({**issuer.metadata(), "issuer": "https://impostor.example"})
    async with started_verifier() as verifier:
        state = verifier.key_store.states()[0]
        assert not state.ready
        assert state.last_error is not None
        assert "names issuer 'https://impostor.example'" in state.last_error
        # Refused outright: neither the RFC 8414 document nor the advertised JWKS is fetched.
        assert (discovery_requests(issuer), metadata_requests(issuer), jwks_requests(issuer)) == (1, 0, 0)
        with pytest.raises(KeysUnavailableError):
            await verifier.verify(issuer.issue())
        assert jwks_requests(issuer) == 0
        assert event_log.kinds()["fetch_failed"] == 2


@pytest.mark.parametrize(
    ("jwks_uri", "error"),
    [
        (None, "has no jwks_uri"),
        ("http://keys.example.com/jwks.json", "only fetched over https"),
        ("http://keycloak:8080/jwks.json", "opt in with Issuer(..., allow_http=True)"),
        ("http://127.0.0.1:99999/jwks.json", "Port out of range"),
    ],
)
async def test_metadata_with_an_unusable_jwks_uri_is_refused(
    issuer: LocalIssuer, started_verifier: VerifierFactory, jwks_uri: str | None, error: str
) -> None:
    metadata = {**issuer.metadata(), "jwks_uri": jwks_uri}
    issuer.serve_metadata({name: value for name, value in metadata.items() if value is not None})
    async with started_verifier() as verifier:
        state = verifier.key_store.states()[0]
        assert state.last_error is not None
        assert error in state.last_error
        assert (discovery_requests(issuer), jwks_requests(issuer)) == (1, 0)
        assert issuer.requests.total() == 1


@pytest.mark.parametrize("document", [b"[]", b'"https://issuer.example"', b"null"])
async def test_metadata_that_is_not_an_object_is_refused(
    issuer: LocalIssuer, started_verifier: VerifierFactory, document: bytes
) -> None:
    issuer.serve_metadata(document)
    async with started_verifier() as verifier:
        state = verifier.key_store.states()[0]
        assert state.last_error is not None
        assert "is not a metadata object" in state.last_error
        assert (discovery_requests(issuer), metadata_requests(issuer), jwks_requests(issuer)) == (1, 0, 0)


async def test_explicit_jwks_uri_skips_discovery(
    issuer: LocalIssuer, started_verifier: VerifierFactory
) -> None:
    async with started_verifier(jwks_uri=issuer.jwks_uri) as verifier:
        await verifier.verify(issuer.issue())
        issuer.rotate()
        await verifier.verify(issuer.issue())
        assert (discovery_requests(issuer), metadata_requests(issuer), jwks_requests(issuer)) == (0, 0, 2)


async def test_a_failing_jwks_keeps_its_discovered_url(
    issuer: LocalIssuer, clock: Clock, started_verifier: VerifierFactory
) -> None:
    async with started_verifier() as verifier:
        keys = verifier.key_store.lookup(issuer.url)
        assert keys is not None
        for fault in (500, 502, 503, 429):
            issuer.fail_with(fault, path=issuer.jwks_uri)
            clock.advance(901)
            await keys.refresh()
        assert keys.state().failures == 4
        assert keys.state().jwks_uri == issuer.jwks_uri
        issuer.recover()
        await keys.refresh()
        # Four failures cost four JWKS requests, not four discoveries as well.
        assert (discovery_requests(issuer), jwks_requests(issuer)) == (1, 1 + 4 + 1)
        assert keys.state().failures == 0


@pytest.mark.parametrize("status", [404, 410])
async def test_a_jwks_url_that_is_gone_is_discovered_again_once_per_run_of_failures(
    issuer: LocalIssuer, clock: Clock, started_verifier: VerifierFactory, status: int
) -> None:
    async with started_verifier() as verifier:
        keys = verifier.key_store.lookup(issuer.url)
        assert keys is not None
        issuer.fail_with(status, path=issuer.jwks_uri)
        clock.advance(901)
        for _ in range(4):
            await keys.refresh()
        # The first failure sends the next attempt to the metadata; the same URL is still gone,
        # and is then retried alone.
        assert (discovery_requests(issuer), jwks_requests(issuer)) == (2, 1 + 4)

        issuer.recover()
        await keys.refresh()
        issuer.fail_with(status, path=issuer.jwks_uri)
        await keys.refresh()
        await keys.refresh()
        assert (discovery_requests(issuer), jwks_requests(issuer)) == (3, 1 + 4 + 3)


async def test_a_server_that_is_down_is_not_asked_for_the_rfc8414_document(
    issuer: LocalIssuer, clock: Clock, started_verifier: VerifierFactory
) -> None:
    issuer.fail_with(503)
    async with started_verifier() as verifier:
        state = verifier.key_store.states()[0]
        assert state.last_error is not None
        assert "oauth-authorization-server not tried: the server is down or overloaded" in state.last_error
        assert (discovery_requests(issuer), metadata_requests(issuer), jwks_requests(issuer)) == (1, 0, 0)


async def test_fetch_headers_are_sent_with_the_discovery_and_jwks_requests(
    issuer: LocalIssuer, started_verifier: VerifierFactory
) -> None:
    headers = {"Authorization": "Bearer onelogin-api-token", "X-Tenant": "acme"}
    async with started_verifier(fetch_headers=headers) as verifier:
        assert verifier.ready()
    log = issuer.request_log
    assert [request.path for request in log] == [path_of(issuer.discovery_url), path_of(issuer.jwks_uri)]
    for request in log:
        assert request.headers["authorization"] == "Bearer onelogin-api-token"
        assert request.headers["x-tenant"] == "acme"
        assert request.headers["accept"] == "application/json"


async def test_fetch_headers_can_be_made_anew_for_every_fetch(
    issuer: LocalIssuer, started_verifier: VerifierFactory
) -> None:
    tokens = iter(["first-api-token", "second-api-token", "third-api-token", "fourth-api-token"])

    async def current_headers() -> dict[str, str]:
        return {"Authorization": f"Bearer {next(tokens)}"}

    async with started_verifier(fetch_headers=current_headers) as verifier:
        (keys,) = verifier.key_store.issuers()
        await keys.refresh()
    sent = [request.headers["authorization"] for request in issuer.request_log]
    assert sent == ["Bearer first-api-token", "Bearer second-api-token", "Bearer third-api-token"]


async def test_fetch_headers_that_raise_fail_the_fetch_and_keep_the_keys(
    issuer: LocalIssuer, started_verifier: VerifierFactory
) -> None:
    broken = False

    async def current_headers() -> dict[str, str]:
        if broken:
            raise RuntimeError("token service down")
        return {"Authorization": "Bearer api-token"}

    async with started_verifier(fetch_headers=current_headers) as verifier:
        (keys,) = verifier.key_store.issuers()
        broken = True
        await keys.refresh()
        state = keys.state()
        assert state.failures == 1
        assert state.last_error == "fetch_headers raised RuntimeError"
        assert verifier.ready()
        assert await verifier.verify(issuer.issue())
