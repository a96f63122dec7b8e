"""The Amazon Cognito preset accepts tokens shaped exactly like Cognito's, and refuses the rest."""

from __future__ import annotations

from typing import Any

import pytest
from provider_support import APP_CLIENT, POOL, identity_provider

from jwks_middleware import InvalidAudienceError, InvalidClaimError, providers

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


MACHINE_CLIENT = "7machine890client12345abcd"


async def test_cognito_access_token_without_aud_is_bound_by_client_id_and_token_use() -> None:
    idp = identity_provider("cognito")
    issuer = providers.cognito(*POOL, [APP_CLIENT, MACHINE_CLIENT])
    user, machine = await idp.verify([issuer], "access_token", "machine_access_token")
    assert "aud" not in user
    assert user.roles == {"admin", "editors"}
    assert user.scopes == {"aws.cognito.signin.user.admin", "openid", "items/read"}
    assert machine.scopes == {"items/read", "items/write"}
    assert idp.urls == [f"https://cognito-idp.us-east-1.amazonaws.com/{POOL[1]}/.well-known/jwks.json"]


async def test_cognito_access_token_of_another_app_client_is_refused() -> None:
    idp = identity_provider("cognito")
    async with idp.verifier([providers.cognito(*POOL, "another-app-client")]) as verifier:
        with pytest.raises(InvalidClaimError, match="client_id"):
            await verifier.verify(idp.provider.token("access_token"))


async def test_cognito_id_token_is_refused_where_access_tokens_are_expected() -> None:
    idp = identity_provider("cognito")
    async with idp.verifier([providers.cognito(*POOL, APP_CLIENT)]) as verifier:
        with pytest.raises(InvalidClaimError):
            await verifier.verify(idp.provider.token("id_token"))


async def test_cognito_token_use_must_match_even_with_the_right_client() -> None:
    idp = identity_provider("cognito")
    forged = dict(idp.provider.claims("id_token"), client_id=APP_CLIENT)
    idp.provider.data["tokens"]["id_token"]["claims"] = forged
    async with idp.verifier([providers.cognito(*POOL, APP_CLIENT)]) as verifier:
        with pytest.raises(InvalidClaimError, match="token_use"):
            await verifier.verify(idp.provider.token("id_token"))


async def test_cognito_id_tokens_are_checked_by_aud() -> None:
    idp = identity_provider("cognito")
    (claims,) = await idp.verify([providers.cognito(*POOL, APP_CLIENT, token_use="id")], "id_token")
    assert claims["cognito:username"] == "janedoe"
    assert claims.roles == {"admin", "editors"}
    async with idp.verifier([providers.cognito(*POOL, APP_CLIENT, token_use="id")]) as verifier:
        with pytest.raises(InvalidAudienceError):
            await verifier.verify(idp.provider.token("access_token"))


@pytest.mark.parametrize(
    ("region", "pool", "clients", "token_use"),
    [
        ("us-east", "us-east_AbC", "client", "access"),
        ("us-east-1", "eu-west-1_AbCdEfGhI", "client", "access"),
        ("us-east-1", "AbCdEfGhI", "client", "access"),
        ("us-east-1", "us-east-1_AbCdEfGhI", [], "access"),
        ("us-east-1", "us-east-1_AbCdEfGhI", "client", "refresh"),
    ],
)
def test_cognito_refuses_bad_pool_settings(region: str, pool: str, clients: Any, token_use: Any) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        providers.cognito(region, pool, clients, token_use=token_use)
