"""RFC 8707 audience binding: a resource is named by its identifier, and an issuer for a resource
accepts only tokens naming it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.testclient import TestClient

from jwks_middleware import InvalidAudienceError, Issuer, TokenVerifier
from jwks_middleware._resource_audience import issuer_for_resource, issuers_for_resource, resource_audiences
from jwks_middleware._resource_metadata import (
    ResourceMetadata,
)
from jwks_middleware.testing import WRONG_AUDIENCE, LocalIssuer

RESOURCE = "https://api.example.test/mcp"
SERVER = "https://auth.example.test/"


def metadata(**options: Any) -> ResourceMetadata:
    return ResourceMetadata(RESOURCE, **{"authorization_servers": [SERVER], **options})


@pytest.mark.parametrize(
    ("resource", "audiences"),
    [
        ("https://api.example.test/mcp", {"https://api.example.test/mcp"}),
        ("https://api.example.test/mcp/", {"https://api.example.test/mcp/"}),
        # RFC 3986 section 6.2.3: an empty path and "/" are the same URL.
        ("https://api.example.test", {"https://api.example.test", "https://api.example.test/"}),
        ("https://api.example.test/", {"https://api.example.test", "https://api.example.test/"}),
    ],
)
def test_a_resource_is_named_by_its_identifier(resource: str, audiences: set[str]) -> None:
    assert resource_audiences(resource) == audiences
    assert ResourceMetadata(resource).audiences == audiences


def test_an_issuer_for_a_resource_accepts_only_tokens_naming_it() -> None:
    unchecked = Issuer(SERVER, verify_audience=False, jwks_uri="https://auth.example.test/jwks")
    broad = Issuer(SERVER, audience=[RESOURCE, "https://legacy.example.test"])
    exact = Issuer(SERVER, audience=RESOURCE)

    for issuer in (unchecked, broad):
        bound = issuer_for_resource(issuer, RESOURCE)
        assert (bound.audiences, bound.verify_audience) == (frozenset({RESOURCE}), True)
        assert bound.issuer == issuer.issuer
        assert bound.jwks_uri == issuer.jwks_uri
    assert (unchecked.audiences, unchecked.verify_audience) == (frozenset(), False)  # not changed
    assert issuer_for_resource(exact, RESOURCE) is exact


def test_an_issuer_for_another_audience_is_a_configuration_mistake() -> None:
    with pytest.raises(ValueError, match="RFC 8707"):
        issuer_for_resource(Issuer(SERVER, audience="https://api.example.test"), RESOURCE)


def test_a_resolvers_issuers_are_bound_as_they_are_found() -> None:
    issuer = Issuer(SERVER, verify_audience=False)
    resolve = issuers_for_resource(lambda iss: issuer if iss == SERVER else None, RESOURCE)

    assert callable(resolve)
    found = resolve(SERVER)
    assert found is not None
    assert found.audiences == {RESOURCE}
    assert resolve("https://unknown.example.test") is None


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_verifier_bound_to_the_resource_refuses_tokens_for_another(anyio_backend: str) -> None:
    issuer = LocalIssuer(audience=RESOURCE)
    verifier = TokenVerifier(
        issuers_for_resource([issuer.config(jwks=issuer.jwks(), verify_audience=False)], RESOURCE)
    )

    assert (await verifier.verify(issuer.issue())).audience == RESOURCE
    assert (await verifier.verify(issuer.issue(audience=[WRONG_AUDIENCE, RESOURCE]))).subject == "user-123"
    with pytest.raises(InvalidAudienceError):
        await verifier.verify(issuer.issue(audience=WRONG_AUDIENCE))


def test_the_served_document_is_compact_json() -> None:
    body = TestClient(metadata()).get("/").content

    assert body == json.dumps(metadata().document(), separators=(",", ":")).encode()
