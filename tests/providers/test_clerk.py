"""The Clerk preset accepts tokens shaped exactly like Clerk's, and refuses the rest."""

from __future__ import annotations

import base64
import os
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from provider_support import identity_provider

from jwks_middleware import InvalidClaimError, providers

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


CLERK_FRONTEND_API = "https://clerk.example.com"
APP_ORIGIN = "https://app.example.com"


async def test_clerk_session_token_is_bound_by_azp_not_aud() -> None:
    idp = identity_provider("clerk")
    issuer = providers.clerk(CLERK_FRONTEND_API, authorized_parties=[APP_ORIGIN, "http://localhost:3000"])
    async with idp.verifier([issuer]) as verifier:
        claims = await verifier.verify(idp.provider.token("session_token"))
        assert claims.roles == {"admin"}
        assert (await verifier.verify(idp.provider.token("session_token_v1"))).roles == {"org:admin"}
        with pytest.raises(InvalidClaimError, match="azp"):
            await verifier.verify(idp.provider.token("session_token_other_origin"))
    assert idp.urls == [f"{CLERK_FRONTEND_API}/.well-known/jwks.json"]


async def test_clerk_azp_check_can_be_turned_off_explicitly() -> None:
    idp = identity_provider("clerk")
    issuer = providers.clerk("clerk.example.com", authorized_parties=None)
    (claims,) = await idp.verify([issuer], "session_token_other_origin")
    assert claims["azp"] == "https://evil.example.net"


async def test_clerk_pem_public_key_from_the_environment_needs_no_fetch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    idp = identity_provider("clerk")
    pem = (
        idp.provider.private_key("instance")
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    # The dashboard's "JWT public key" is the PEM body on one line, without header and footer.
    body = "".join(line for line in pem.decode().splitlines() if not line.startswith("-----"))
    monkeypatch.setenv("CLERK_JWT_KEY", body)
    issuer = providers.clerk(
        publishable_key=idp.provider.data["publishable_key"],
        public_key=os.environ["CLERK_JWT_KEY"],
        authorized_parties=[APP_ORIGIN],
    )
    assert issuer.issuer == CLERK_FRONTEND_API
    assert not issuer.fetches_keys
    (claims,) = await idp.verify([issuer], "session_token")
    assert claims.subject == "user_2aBcDeFgHiJkLmNoPqRsTuVwXyZ"
    assert idp.requests == []


def test_clerk_development_instance_from_its_publishable_key() -> None:
    key = "pk_test_" + base64.b64encode(b"verb-noun-12.clerk.accounts.dev$").decode().rstrip("=")
    issuer = providers.clerk(publishable_key=key, authorized_parties=["http://localhost:3000"])
    assert issuer.issuer == "https://verb-noun-12.clerk.accounts.dev"
    assert issuer.jwks_uri == "https://verb-noun-12.clerk.accounts.dev/.well-known/jwks.json"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"authorized_parties": [APP_ORIGIN]}, "Frontend API URL"),
        (
            {"frontend_api": CLERK_FRONTEND_API, "publishable_key": "pk_live_x", "authorized_parties": None},
            "not both",
        ),
        (
            {"publishable_key": "sk_live_Y2xlcmsuZXhhbXBsZS5jb20k", "authorized_parties": None},
            "publishable key",
        ),
        (
            {"publishable_key": "pk_live_Y2xlcmsuZXhhbXBsZS5jb20", "authorized_parties": None},
            "publishable key",
        ),
        ({"frontend_api": CLERK_FRONTEND_API, "authorized_parties": ["https://app.example.com/"]}, "origins"),
        ({"frontend_api": CLERK_FRONTEND_API, "authorized_parties": ["app.example.com"]}, "origins"),
        ({"frontend_api": CLERK_FRONTEND_API, "authorized_parties": []}, "authorized_parties"),
        ({"frontend_api": "http://clerk.example.com", "authorized_parties": None}, "https"),
        ({"frontend_api": "https://clerk.example.com/v1", "authorized_parties": None}, "URL"),
    ],
)
def test_clerk_refuses_bad_settings(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        providers.clerk(**arguments)


def test_clerk_refuses_a_publishable_key_that_is_not_base64() -> None:
    with pytest.raises(ValueError, match="publishable key"):
        providers.clerk(publishable_key="pk_live_%%%", authorized_parties=None)
