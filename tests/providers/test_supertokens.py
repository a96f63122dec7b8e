"""The SuperTokens preset accepts tokens shaped exactly like SuperTokens', and refuses the rest."""

from __future__ import annotations

import pytest
from provider_support import identity_provider

from jwks_middleware import providers

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_supertokens_keys_at_the_api_base_path_and_roles_from_the_user_roles_claim() -> None:
    idp = identity_provider("supertokens")
    app = idp.provider.data["app_info"]
    issuer = providers.supertokens(app["apiDomain"], app["apiBasePath"])
    assert issuer.issuer == "https://api.example.com/auth"
    (claims,) = await idp.verify([issuer], "access_token")
    assert claims.roles == {"admin"}
    assert claims.scopes == {"read:items", "write:items"}
    assert idp.urls == ["https://api.example.com/auth/jwt/jwks.json"]


def test_supertokens_normalises_domain_and_base_path_as_the_sdk_does() -> None:
    assert providers.supertokens("https://API.example.com/", "auth/").issuer == "https://api.example.com/auth"
    root = providers.supertokens("http://localhost:3001", "/")
    assert (root.issuer, root.jwks_uri) == ("http://localhost:3001", "http://localhost:3001/jwt/jwks.json")
    with_audience = providers.supertokens("https://api.example.com", audience="items")
    assert with_audience.verify_audience


@pytest.mark.parametrize(
    ("domain", "path"),
    [
        ("api.example.com", "/auth"),
        ("http://api.example.com", "/auth"),
        ("https://api.example.com/v1", "/auth"),
        ("https://api.example.com?x=1", "/auth"),
        ("https://api.example.com", "/auth?x"),
    ],
)
def test_supertokens_refuses_bad_app_info(domain: str, path: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        providers.supertokens(domain, path)
