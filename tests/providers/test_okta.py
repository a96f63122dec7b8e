"""The Okta preset accepts tokens shaped exactly like Okta's, and refuses the rest."""

from __future__ import annotations

import pytest
from provider_support import OKTA_DOMAIN, identity_provider

from jwks_middleware import UntrustedIssuerError, providers

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_okta_scp_list_becomes_scopes() -> None:
    idp = identity_provider("okta")
    (claims,) = await idp.verify([providers.okta(OKTA_DOMAIN, "api://default")], "access_token")
    assert claims.scopes == {"openid", "profile", "items:read"}
    assert idp.urls == [f"https://{OKTA_DOMAIN}/oauth2/default/v1/keys"]


async def test_okta_key_rotation_is_picked_up_on_the_new_kid() -> None:
    idp = identity_provider("okta")
    async with idp.verifier([providers.okta(OKTA_DOMAIN, "api://default")]) as verifier:
        await verifier.verify(idp.provider.token("access_token"))
        idp.documents = idp.provider.key_sets("rotated_key_sets")
        claims = await verifier.verify(idp.provider.token("access_token_after_rotation"))
        assert "items:write" in claims.scopes
        await verifier.verify(idp.provider.token("access_token"))  # the old key still verifies
    assert idp.urls == [f"https://{OKTA_DOMAIN}/oauth2/default/v1/keys"] * 2


async def test_okta_org_authorization_server() -> None:
    idp = identity_provider("okta")
    issuer = providers.okta(OKTA_DOMAIN, "0oa1b2c3d4e5f6g7h8i9", authorization_server=None)
    assert issuer.issuer == f"https://{OKTA_DOMAIN}"
    async with idp.verifier([issuer]) as verifier:
        claims = await verifier.verify(idp.provider.token("org_id_token"))
        assert claims.subject == "00u1a2b3c4d5e6f7g8h9"
        with pytest.raises(UntrustedIssuerError):  # a token of the default server
            await verifier.verify(idp.provider.token("access_token"))
    assert idp.urls == [f"https://{OKTA_DOMAIN}/oauth2/v1/keys"]


def test_okta_custom_authorization_server() -> None:
    issuer = providers.okta(OKTA_DOMAIN, "api://items", authorization_server="aus1a2b3c4d5e6f7g8h9")
    assert issuer.issuer == f"https://{OKTA_DOMAIN}/oauth2/aus1a2b3c4d5e6f7g8h9"
    assert issuer.jwks_uri == f"https://{OKTA_DOMAIN}/oauth2/aus1a2b3c4d5e6f7g8h9/v1/keys"
    with pytest.raises(ValueError, match="authorization_server"):
        providers.okta(OKTA_DOMAIN, "api://items", authorization_server="default/../x")
