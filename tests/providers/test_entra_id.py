"""The Entra ID presets accept tokens shaped exactly like Entra ID's, and refuse the rest."""

from __future__ import annotations

import pytest
from provider_support import entra_id_provider

from jwks_middleware import InvalidClaimError, UntrustedIssuerError, providers

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_entra_v2_scp_string_and_roles_list_from_keys_without_alg() -> None:
    idp, tenants, api = entra_id_provider()
    assert all("alg" not in key for doc in idp.documents.values() for key in doc["keys"])
    issuer = providers.entra_id(tenants["contoso"], api["application_id"])
    delegated, app_only = await idp.verify([issuer], "v2_delegated", "v2_app_only")
    assert delegated.scopes == {"Items.Read", "Items.Write"}
    assert app_only.scopes == frozenset()
    assert app_only.roles == {"Items.Read.All"}
    assert idp.urls == [f"https://login.microsoftonline.com/{tenants['contoso']}/discovery/v2.0/keys"]


async def test_entra_v1_issuer_and_application_id_uri_audience() -> None:
    idp, tenants, api = entra_id_provider()
    issuer = providers.entra_id(tenants["contoso"], api["application_id_uri"], version=1)
    assert issuer.issuer == f"https://sts.windows.net/{tenants['contoso']}/"
    (claims,) = await idp.verify([issuer], "v1_delegated")
    assert claims.scopes == {"Items.Read"}
    assert idp.urls == [f"https://login.microsoftonline.com/{tenants['contoso']}/discovery/keys"]


async def test_entra_single_tenant_trusts_only_its_own_version_and_tenant() -> None:
    idp, tenants, api = entra_id_provider()
    issuer = providers.entra_id(
        tenants["contoso"].upper(), [api["application_id"], api["application_id_uri"]]
    )
    async with idp.verifier([issuer]) as verifier:
        for token in ("v1_delegated", "v2_fabrikam"):
            with pytest.raises(UntrustedIssuerError):
                await verifier.verify(idp.provider.token(token))


async def test_entra_multi_tenant_accepts_allowed_tenants_in_both_versions() -> None:
    idp, tenants, api = entra_id_provider()
    resolver = providers.entra_id_multi_tenant(
        [tenants["contoso"], tenants["fabrikam"]], [api["application_id"], api["application_id_uri"]]
    )
    found = await idp.verify(resolver, "v2_delegated", "v1_delegated", "v2_fabrikam", "v1_fabrikam")
    assert [claims["tid"] for claims in found] == [tenants["contoso"]] * 2 + [tenants["fabrikam"]] * 2
    assert set(idp.urls) == {providers.ENTRA_COMMON_JWKS_URI}


async def test_entra_multi_tenant_refuses_other_tenants_without_fetching() -> None:
    idp, tenants, api = entra_id_provider()
    resolver = providers.entra_id_multi_tenant([tenants["contoso"]], api["application_id"])
    async with idp.verifier(resolver) as verifier:
        for token in ("v2_woodgrove", "v1_woodgrove", "v2_fabrikam"):
            with pytest.raises(UntrustedIssuerError):
                await verifier.verify(idp.provider.token(token))
    assert idp.requests == []


async def test_entra_multi_tenant_tid_must_be_the_tenant_of_the_issuer() -> None:
    idp, tenants, api = entra_id_provider()
    resolver = providers.entra_id_multi_tenant(
        [tenants["contoso"], tenants["fabrikam"]], api["application_id"]
    )
    async with idp.verifier(resolver) as verifier:
        with pytest.raises(InvalidClaimError, match="tid"):
            await verifier.verify(idp.provider.token("v2_contoso_iss_fabrikam_tid"))


async def test_entra_multi_tenant_with_a_tenant_lookup_and_one_version() -> None:
    idp, tenants, api = entra_id_provider()
    asked: list[str] = []

    def onboarded(tenant_id: str) -> bool:
        asked.append(tenant_id)
        return tenant_id == tenants["fabrikam"]

    resolver = providers.entra_id_multi_tenant(onboarded, api["application_id"], versions=[2])
    assert "callable" in repr(resolver)
    assert resolver("https://login.microsoftonline.com/common/v2.0") is None
    async with idp.verifier(resolver) as verifier:
        await verifier.verify(idp.provider.token("v2_fabrikam"))
        for token in ("v1_fabrikam", "v2_woodgrove"):
            with pytest.raises(UntrustedIssuerError):
                await verifier.verify(idp.provider.token(token))
    assert asked == [tenants["fabrikam"], tenants["woodgrove"]]


def test_entra_multi_tenant_issuers_are_exact() -> None:
    tid = "3f5b6d1e-8c2a-4e7f-9b10-2d4c6e8a0f12"
    resolver = providers.entra_id_multi_tenant([tid], "api://items")
    assert tid in repr(resolver)
    v2 = resolver(f"https://login.microsoftonline.com/{tid}/v2.0")
    assert v2 is not None
    assert v2.jwks_uri == providers.ENTRA_COMMON_JWKS_URI
    assert v2.claim_values["tid"] == {tid}
    for iss in (
        f"https://login.microsoftonline.com/{tid}/v2.0/",
        f"https://login.microsoftonline.com/{tid.upper()}/v2.0",
        f"https://sts.windows.net/{tid}",
        f"http://sts.windows.net/{tid}/",
        f"https://login.microsoftonline.com/{tid}",
    ):
        assert resolver(iss) is None


@pytest.mark.parametrize(
    "tenant",
    ["common", "organizations", "consumers", "contoso.onmicrosoft.com", "3f5b6d1e8c2a4e7f9b102d4c6e8a0f12"],
)
def test_entra_refuses_tenant_names_that_are_not_tenant_ids(tenant: str) -> None:
    with pytest.raises(ValueError, match="tenant"):
        providers.entra_id(tenant, "api://items")
    with pytest.raises(ValueError, match="tenant"):
        providers.entra_id_multi_tenant([tenant], "api://items")


def test_entra_refuses_bad_versions() -> None:
    tid = "3f5b6d1e-8c2a-4e7f-9b10-2d4c6e8a0f12"
    with pytest.raises(ValueError, match="version"):
        providers.entra_id(tid, "api://items", version=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="versions"):
        providers.entra_id_multi_tenant([tid], "api://items", versions=[])
    with pytest.raises(TypeError):
        providers.entra_id_multi_tenant([42], "api://items")  # type: ignore[list-item]
    with pytest.raises(ValueError, match="audience"):  # checked at once, even with a lookup
        providers.entra_id_multi_tenant(lambda tid: True, [])
