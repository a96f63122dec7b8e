"""What every preset shares: combining presets, passing `Issuer` options through, checking arguments."""

from __future__ import annotations

from typing import Any

import pytest
from provider_support import (
    APP_CLIENT,
    AUTH0_API,
    AUTH0_DOMAIN,
    GOOGLE_CLIENT,
    OKTA_DOMAIN,
    POOL,
    entra_id_provider,
    identity_provider,
)

from jwks_middleware import providers

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_combine_trusts_a_resolver_and_a_list_together() -> None:
    entra, tenants, api = entra_id_provider()
    google = identity_provider("google")
    resolver = providers.combine(
        providers.entra_id_multi_tenant([tenants["fabrikam"]], api["application_id"]),
        providers.google(GOOGLE_CLIENT),
    )
    (from_google,) = await google.verify(resolver, "id_token_short_issuer")
    assert from_google.issuer == "accounts.google.com"
    (from_entra,) = await entra.verify(resolver, "v2_fabrikam")
    assert from_entra["tid"] == tenants["fabrikam"]
    assert resolver("https://issuer.example.test") is None


def test_combine_refuses_duplicates_and_non_issuers() -> None:
    auth0 = providers.auth0(AUTH0_DOMAIN, AUTH0_API)
    assert providers.combine(auth0)(auth0.issuer) is auth0
    with pytest.raises(ValueError, match="twice"):
        providers.combine(auth0, [auth0])
    with pytest.raises(TypeError):
        providers.combine(["https://issuer.example.test"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="at least one"):
        providers.combine()


async def test_static_jwks_replaces_the_preset_key_source() -> None:
    idp = identity_provider("okta")
    jwks = idp.documents[f"https://{OKTA_DOMAIN}/oauth2/default/v1/keys"]
    issuer = providers.okta(OKTA_DOMAIN, "api://default", jwks=jwks, jwks_uri=None)
    assert issuer.jwks_uri is None
    assert not issuer.fetches_keys
    await idp.verify([issuer], "access_token")
    assert idp.requests == []


def test_issuer_options_pass_through_and_merge() -> None:
    cognito = providers.cognito(
        *POOL, APP_CLIENT, claim_values={"username": "janedoe"}, leeway=5, max_keys=10
    )
    assert cognito.claim_values == {
        "client_id": {APP_CLIENT},
        "token_use": {"access"},
        "username": {"janedoe"},
    }
    assert (cognito.leeway, cognito.max_keys) == (5.0, 10)
    auth0 = providers.auth0(AUTH0_DOMAIN, AUTH0_API, fetch_deadline=3, max_refresh_interval=600)
    assert (auth0.fetch_deadline, auth0.max_refresh_interval, auth0.allow_http) == (3.0, 600.0, False)
    onelogin = providers.onelogin("acme", "t0ken", "client", fetch_headers={"User-Agent": "items-api"})
    assert onelogin.fetch_headers == {"Authorization": "Bearer t0ken", "User-Agent": "items-api"}
    okta = providers.okta(OKTA_DOMAIN, "api://default", algorithms=["RS256", "ES256"], role_claims=["groups"])
    assert okta.algorithms == {"RS256", "ES256"}
    assert okta.role_claims == (("groups",),)
    with pytest.raises(ValueError, match="already checks tid"):
        providers.entra_id_multi_tenant(
            ["3f5b6d1e-8c2a-4e7f-9b10-2d4c6e8a0f12"], "api://items", claim_values={"tid": "another"}
        )
    with pytest.raises(TypeError, match="verify_audience"):
        providers.okta(OKTA_DOMAIN, "api://default", verify_audience=False)  # type: ignore[call-arg]


def test_presets_default_to_the_algorithms_their_providers_sign_with() -> None:
    tid = "3f5b6d1e-8c2a-4e7f-9b10-2d4c6e8a0f12"
    assert providers.entra_id(tid, "api://items").algorithms == {"RS256"}
    assert providers.auth0(AUTH0_DOMAIN, AUTH0_API).algorithms == {"RS256", "PS256"}
    assert "ES256" in providers.keycloak("https://sso.example.com", "acme", "items-api").algorithms


@pytest.mark.parametrize(
    "domain",
    [
        "",
        "https://tenant.eu.auth0.com",
        "tenant.eu.auth0.com/",
        "tenant",
        "tenant .auth0.com",
        "tenant.auth0.com:443",
    ],
)
def test_domain_presets_refuse_anything_but_a_host_name(domain: str) -> None:
    with pytest.raises(ValueError, match="domain"):
        providers.auth0(domain, AUTH0_API)
    with pytest.raises(ValueError, match="domain"):
        providers.okta(domain, "api://default")


@pytest.mark.parametrize(
    "make",
    [
        lambda: providers.entra_id(42, "api://items"),  # type: ignore[arg-type]
        lambda: providers.clerk(publishable_key=42, authorized_parties=None),  # type: ignore[arg-type]
        lambda: providers.supertokens(None),  # type: ignore[arg-type]
        lambda: providers.cognito(*POOL, [APP_CLIENT, None]),  # type: ignore[list-item]
    ],
)
def test_presets_refuse_values_of_the_wrong_type(make: Any) -> None:
    with pytest.raises((TypeError, ValueError)):
        make()
