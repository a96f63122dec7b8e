"""The oidc-provider harness itself: discovery, RFC 9068 tokens, algorithms, scopes, rotation.

These tests need only httpx and joserfc (no middleware), so a change in the provider or in the
harness shows up here first, not as a confusing middleware failure.
"""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any, cast

import pytest
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry
from oidc_harness import API_RESOURCE, ES_RESOURCE, KNOWN_SCOPES, OTHER_RESOURCE, Alg, OIDCProvider

if TYPE_CHECKING:
    from joserfc.jwk import KeySetSerialization

pytestmark = pytest.mark.interop

ALGORITHMS = ["RS256", "ES256"]
BOTH_ALGS: tuple[Alg, ...] = ("RS256", "ES256")


def _header(token: str) -> dict[str, Any]:
    segment = token.split(".")[0]
    header: dict[str, Any] = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    return header


def _verify(token: str, jwks: dict[str, Any], issuer: str, audience: str) -> jwt.Token:
    """Verify signature and claims locally (oidc-provider cannot introspect its own JWTs)."""
    keys = KeySet.import_key_set(cast("KeySetSerialization", jwks))
    decoded = jwt.decode(token, keys, algorithms=ALGORITHMS)
    JWTClaimsRegistry(
        leeway=5,
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": audience},
        exp={"essential": True},
        iat={"essential": True},
        sub={"essential": True},
        jti={"essential": True},
        client_id={"essential": True},
    ).validate(decoded.claims)
    return decoded


def _kids(jwks: dict[str, Any]) -> set[str]:
    return {str(key["kid"]) for key in jwks["keys"]}


def test_discovery_document(oidc_provider: OIDCProvider) -> None:
    assert oidc_provider.issuer == f"http://127.0.0.1:{oidc_provider.port}"
    document = oidc_provider.discovery()
    assert document["issuer"] == oidc_provider.issuer
    assert document["jwks_uri"] == f"{oidc_provider.issuer}/jwks"
    assert document["token_endpoint"] == f"{oidc_provider.issuer}/token"
    assert "client_credentials" in document["grant_types_supported"]


def test_jwks_publishes_public_keys_only(oidc_provider: OIDCProvider) -> None:
    jwks = oidc_provider.jwks()
    by_alg = {key["alg"]: key for key in jwks["keys"]}
    assert {"RS256", "ES256"} <= set(by_alg)
    assert by_alg["RS256"]["kty"] == "RSA"
    assert by_alg["ES256"]["kty"] == "EC"
    assert by_alg["ES256"]["crv"] == "P-256"
    for key in jwks["keys"]:
        assert key["use"] == "sig"
        assert key["kid"]
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key), "private members published"


@pytest.mark.parametrize(
    ("resource", "alg", "expected_alg"),
    [
        pytest.param(API_RESOURCE, None, "RS256", id="api-default-RS256"),
        pytest.param(ES_RESOURCE, None, "ES256", id="es-resource-ES256"),
        pytest.param(API_RESOURCE, "ES256", "ES256", id="api-forced-ES256"),
        pytest.param(ES_RESOURCE, "RS256", "RS256", id="es-resource-forced-RS256"),
        pytest.param(OTHER_RESOURCE, None, "RS256", id="other-resource"),
    ],
)
def test_access_token_is_rfc9068_jwt(
    oidc_provider: OIDCProvider, resource: str, alg: Alg | None, expected_alg: str
) -> None:
    token = oidc_provider.token(scope="read:items", resource=resource, alg=alg)
    header = _header(token)
    assert header["typ"] == "at+jwt"
    assert header["alg"] == expected_alg
    jwks = oidc_provider.jwks()
    assert header["kid"] in _kids(jwks)
    assert header["kid"] == oidc_provider.key_state().signing[expected_alg]

    decoded = _verify(token, jwks, oidc_provider.issuer, resource)
    claims = decoded.claims
    assert claims["aud"] == resource
    assert claims["iss"] == oidc_provider.issuer
    assert claims["sub"] == claims["client_id"]
    assert claims["exp"] > claims["iat"]


def test_known_scopes_kept_unknown_dropped(oidc_provider: OIDCProvider) -> None:
    response = oidc_provider.token_response(scope="read:items write:items delete:everything")
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert set(body["scope"].split()) == set(KNOWN_SCOPES)
    claims = _verify(body["access_token"], oidc_provider.jwks(), oidc_provider.issuer, API_RESOURCE).claims
    assert set(claims["scope"].split()) == set(KNOWN_SCOPES)

    only_write = oidc_provider.token(scope="write:items unknown")
    claims = _verify(only_write, oidc_provider.jwks(), oidc_provider.issuer, API_RESOURCE).claims
    assert claims["scope"] == "write:items"


def test_only_unknown_scopes_gives_token_without_scope(oidc_provider: OIDCProvider) -> None:
    token = oidc_provider.token(scope="unknown:scope")
    claims = _verify(token, oidc_provider.jwks(), oidc_provider.issuer, API_RESOURCE).claims
    assert "scope" not in claims


def test_unknown_resource_is_invalid_target(oidc_provider: OIDCProvider) -> None:
    response = oidc_provider.token_response(resource="https://unknown.example.test")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_target"


def test_token_for_other_audience_fails_audience_check(oidc_provider: OIDCProvider) -> None:
    token = oidc_provider.token(resource=OTHER_RESOURCE)
    with pytest.raises(JoseError):
        _verify(token, oidc_provider.jwks(), oidc_provider.issuer, API_RESOURCE)


def test_rotate_then_retire(oidc_provider: OIDCProvider) -> None:
    issuer_before = oidc_provider.discovery()["issuer"]
    before = oidc_provider.key_state()
    old_tokens = {alg: oidc_provider.token(alg=alg) for alg in BOTH_ALGS}
    for alg, token in old_tokens.items():
        assert _header(token)["kid"] == before.signing[alg]

    after = oidc_provider.rotate()
    assert after.generation == before.generation + 1
    jwks = oidc_provider.jwks()
    for alg in BOTH_ALGS:
        new_kid = after.signing[alg]
        assert new_kid != before.signing[alg]
        assert new_kid in _kids(jwks)
        assert before.signing[alg] in _kids(jwks), "old key must stay published until retire()"
        new_token = oidc_provider.token(alg=alg)
        assert _header(new_token)["kid"] == new_kid
        _verify(new_token, jwks, oidc_provider.issuer, API_RESOURCE)
        _verify(old_tokens[alg], jwks, oidc_provider.issuer, API_RESOURCE)
    # same process, same port, same issuer
    assert oidc_provider.discovery()["issuer"] == issuer_before

    retired = oidc_provider.retire()
    jwks = oidc_provider.jwks()
    assert set(retired.published) == set(after.signing.values()) == _kids(jwks)
    for alg in BOTH_ALGS:
        assert before.signing[alg] not in _kids(jwks)
        with pytest.raises(JoseError):  # the old kid is no longer in the set
            _verify(old_tokens[alg], jwks, oidc_provider.issuer, API_RESOURCE)
        _verify(oidc_provider.token(alg=alg), jwks, oidc_provider.issuer, API_RESOURCE)


def test_rotate_one_algorithm(oidc_provider: OIDCProvider) -> None:
    before = oidc_provider.key_state()
    after = oidc_provider.rotate("ES256")
    assert after.signing["RS256"] == before.signing["RS256"]
    assert after.signing["ES256"] != before.signing["ES256"]
    assert _header(oidc_provider.token(resource=ES_RESOURCE))["kid"] == after.signing["ES256"]
    assert _header(oidc_provider.token())["kid"] == after.signing["RS256"]
