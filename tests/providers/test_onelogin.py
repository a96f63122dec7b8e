"""The OneLogin preset accepts tokens shaped exactly like OneLogin's, and refuses the rest."""

from __future__ import annotations

import pytest
from provider_support import identity_provider

from jwks_middleware import providers

pytestmark = pytest.mark.anyio

CLIENT_ID = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d123456"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_onelogin_key_set_request_carries_the_api_bearer_token() -> None:
    idp = identity_provider("onelogin")
    api_token = idp.provider.data["api_access_token"]
    issuer = providers.onelogin("acme", api_token, CLIENT_ID)
    (claims,) = await idp.verify([issuer], "access_token")
    assert claims.roles == {"Engineering", "Admins"}
    assert claims.scopes == {"openid", "profile", "groups"}
    (request,) = idp.requests
    assert str(request.url) == "https://acme.onelogin.com/oidc/2/certs"
    assert request.headers["Authorization"] == f"Bearer {api_token}"
    assert api_token not in repr(issuer)


async def test_onelogin_key_set_is_fetched_without_credentials_when_no_api_token_is_given() -> None:
    idp = identity_provider("onelogin")
    issuer = providers.onelogin("acme", audience=CLIENT_ID)
    (claims,) = await idp.verify([issuer], "access_token")
    assert claims.roles == {"Engineering", "Admins"}
    (request,) = idp.requests
    assert str(request.url) == "https://acme.onelogin.com/oidc/2/certs"
    assert "authorization" not in request.headers


async def test_onelogin_without_an_api_token_still_takes_fetch_headers() -> None:
    idp = identity_provider("onelogin")
    issuer = providers.onelogin("acme", audience=CLIENT_ID, fetch_headers={"User-Agent": "items-api"})
    await idp.verify([issuer], "access_token")
    (request,) = idp.requests
    assert request.headers["user-agent"] == "items-api"
    assert "authorization" not in request.headers


def test_onelogin_needs_an_audience() -> None:
    with pytest.raises(TypeError, match="audience"):
        providers.onelogin("acme")


@pytest.mark.parametrize(
    ("subdomain", "token"),
    [("acme.onelogin.com", "t0ken"), ("", "t0ken"), ("acme", "t0ken\r\nX: y"), ("acme", "")],
)
def test_onelogin_refuses_bad_settings(subdomain: str, token: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        providers.onelogin(subdomain, token, "client")


async def test_onelogin_asks_for_a_current_api_token_before_every_key_fetch() -> None:
    idp = identity_provider("onelogin")
    api_token: str = idp.provider.data["api_access_token"]
    calls: list[str] = []

    async def current_api_token() -> str:
        calls.append("asked")
        return api_token

    issuer = providers.onelogin("acme", current_api_token, CLIENT_ID)
    (claims,) = await idp.verify([issuer], "access_token")
    assert claims.subject
    (request,) = idp.requests
    assert request.headers["Authorization"] == f"Bearer {api_token}"
    assert calls == ["asked"]


def test_onelogin_with_a_token_callable_cannot_merge_more_fetch_headers() -> None:
    async def current_api_token() -> str:
        return "t0ken"

    with pytest.raises(ValueError, match="fetch_headers"):
        providers.onelogin("acme", current_api_token, "client", fetch_headers={"User-Agent": "items-api"})
