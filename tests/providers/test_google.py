"""The Google preset accepts tokens shaped exactly like Google's, and refuses the rest."""

from __future__ import annotations

import pytest
from provider_support import GOOGLE_CLIENT, identity_provider

from jwks_middleware import InvalidClaimError, providers

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_google_both_issuer_spellings_are_accepted() -> None:
    idp = identity_provider("google")
    issuer = providers.google(GOOGLE_CLIENT)
    assert (issuer.issuer, issuer.aliases) == (
        "https://accounts.google.com",
        frozenset({"accounts.google.com"}),
    )
    long, short = await idp.verify([issuer], "id_token", "id_token_short_issuer")
    assert (long.issuer, short.issuer) == ("https://accounts.google.com", "accounts.google.com")
    # One key set for both spellings: one fetch.
    assert idp.urls == [providers.GOOGLE_JWKS_URI]


async def test_google_hosted_domain_requires_the_hd_claim() -> None:
    idp = identity_provider("google")
    async with idp.verifier([providers.google(GOOGLE_CLIENT, hosted_domain="Example.com")]) as verifier:
        assert (await verifier.verify(idp.provider.token("id_token")))["hd"] == "example.com"
        with pytest.raises(InvalidClaimError, match="hd"):
            await verifier.verify(idp.provider.token("id_token_consumer_account"))


def test_google_hosted_domain_and_audience_are_checked() -> None:
    with pytest.raises(ValueError, match="hosted_domain"):
        providers.google(GOOGLE_CLIENT, hosted_domain="https://example.com")
    with pytest.raises(ValueError, match="audience"):
        providers.google([])
