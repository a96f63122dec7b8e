"""The Keycloak preset accepts tokens shaped exactly like Keycloak's, and refuses the rest."""

from __future__ import annotations

import pytest
from provider_support import identity_provider

from jwks_middleware import InvalidAudienceError, InvalidClaimError, providers

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_keycloak_realm_and_client_roles_appear_in_claims_roles() -> None:
    idp = identity_provider("keycloak")
    issuer = providers.keycloak("https://sso.example.com", "acme", "items-api", client_id="items-api")
    async with idp.verifier([issuer]) as verifier:
        claims = await verifier.verify(idp.provider.token("access_token"))
        (state,) = verifier.key_store.states()
    assert claims.roles == {
        "default-roles-acme",
        "offline_access",
        "uma_authorization",
        "auditor",
        "items-admin",
    }
    assert "manage-account" not in claims.roles  # another client's roles
    assert claims.scopes == {"openid", "email", "profile"}
    # Keycloak publishes its encryption key in the same set: skipped, never used to verify.
    assert [skipped.kid for skipped in state.skipped] == [idp.provider.jwk("rsa-enc-generated")["kid"]]
    assert idp.urls == ["https://sso.example.com/realms/acme/protocol/openid-connect/certs"]


async def test_keycloak_default_account_audience_is_not_the_api() -> None:
    idp = identity_provider("keycloak")
    async with idp.verifier([providers.keycloak("https://sso.example.com", "acme", "items-api")]) as verifier:
        with pytest.raises(InvalidAudienceError):
            await verifier.verify(idp.provider.token("access_token_default_audience"))


async def test_keycloak_id_token_is_refused_by_its_typ_claim() -> None:
    idp = identity_provider("keycloak")
    async with idp.verifier([providers.keycloak("https://sso.example.com", "acme", "items-api")]) as verifier:
        with pytest.raises(InvalidClaimError, match="typ"):
            await verifier.verify(idp.provider.token("id_token"))
    lenient = providers.keycloak("https://sso.example.com", "acme", "items-api", token_type=None)
    (claims,) = await identity_provider("keycloak").verify([lenient], "id_token")
    assert claims.roles == frozenset()


def test_keycloak_server_url_forms() -> None:
    legacy = providers.keycloak("https://sso.example.com/auth/", "acme", "items-api")
    assert legacy.issuer == "https://sso.example.com/auth/realms/acme"
    assert legacy.jwks_uri == "https://sso.example.com/auth/realms/acme/protocol/openid-connect/certs"
    local = providers.keycloak("http://localhost:8080", "dev", "items-api")
    assert local.issuer == "http://localhost:8080/realms/dev"
    for url, realm in [
        ("http://sso.example.com", "acme"),
        ("sso.example.com", "acme"),
        ("https://sso", "a/b"),
    ]:
        with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
            providers.keycloak(url, realm, "items-api")
    with pytest.raises(ValueError, match="client_id"):
        providers.keycloak("https://sso.example.com", "acme", "items-api", client_id="")


def test_keycloak_on_a_private_network_needs_the_plain_http_opt_in() -> None:
    with pytest.raises(ValueError, match="allow_http=True"):
        providers.keycloak("http://keycloak:8080", "acme", "items-api")
    issuer = providers.keycloak("http://keycloak:8080", "acme", "items-api", allow_http=True)
    assert issuer.issuer == "http://keycloak:8080/realms/acme"
    assert issuer.jwks_uri == "http://keycloak:8080/realms/acme/protocol/openid-connect/certs"
    assert issuer.allow_http
