"""The Auth0 preset accepts tokens shaped exactly like Auth0's, and refuses the rest."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from provider_support import AUTH0_API, AUTH0_DOMAIN, FIXTURES, Provider, b64url_uint, identity_provider

from jwks_middleware import InvalidAudienceError, InvalidTokenError, providers

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def test_auth0_sample_jwks_certificate_agrees_with_n_and_e() -> None:
    sample = json.loads((FIXTURES / "auth0-sample-jwks.json").read_text())
    (key,) = sample["keys"]
    der = base64.b64decode(key["x5c"][0])
    public = x509.load_der_x509_certificate(der).public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    assert b64url_uint(public.public_numbers().n) == key["n"]
    assert b64url_uint(public.public_numbers().e) == key["e"]
    # Auth0's older x5t (and kid): base64url of the SHA-1 thumbprint written in upper-case hex.
    thumbprint = hashlib.sha1(der).hexdigest().upper()  # noqa: S324 - the x5t definition
    assert base64.urlsafe_b64decode(key["x5t"] + "==").decode() == thumbprint
    issuer = providers.auth0(AUTH0_DOMAIN, AUTH0_API, jwks=sample)
    assert issuer.static_keys is not None
    assert [k.kid for k in issuer.static_keys] == [key["kid"]]


def test_auth0_sample_jwks_with_a_modulus_not_of_its_certificate_is_refused() -> None:
    sample = json.loads((FIXTURES / "auth0-sample-jwks.json").read_text())
    other = Provider("auth0").jwk("current")
    tampered = {"keys": [{**sample["keys"][0], "n": other["n"]}]}
    with pytest.raises(ValueError, match="no usable signing key"):
        providers.auth0(AUTH0_DOMAIN, AUTH0_API, jwks=tampered)


async def test_auth0_scopes_are_the_scope_string_and_the_permissions_list() -> None:
    idp = identity_provider("auth0")
    (claims,) = await idp.verify([providers.auth0(AUTH0_DOMAIN, AUTH0_API)], "user_access_token")
    assert claims.scopes == {"openid", "profile", "email", "read:items", "write:items"}
    assert claims.audience == (AUTH0_API, f"https://{AUTH0_DOMAIN}/userinfo")
    assert idp.urls == [f"https://{AUTH0_DOMAIN}/.well-known/jwks.json"]


async def test_auth0_keys_with_x5c_and_hex_thumbprint_kids_verify_every_token_kind() -> None:
    idp = identity_provider("auth0")
    issuer = providers.auth0(AUTH0_DOMAIN.upper(), AUTH0_API)
    assert issuer.issuer == f"https://{AUTH0_DOMAIN}/"
    profile, machine = await idp.verify([issuer], "rfc9068_access_token", "machine_access_token")
    assert profile["client_id"] == machine["azp"]
    assert machine.subject is not None
    assert machine.subject.endswith("@clients")


async def test_auth0_rfc9068_profile_can_be_required() -> None:
    idp = identity_provider("auth0")
    issuer = providers.auth0(AUTH0_DOMAIN, AUTH0_API, access_token_profile=True)
    (claims,) = await idp.verify([issuer], "rfc9068_access_token")
    assert claims.scopes == {"read:items"}
    async with idp.verifier([issuer]) as verifier:
        with pytest.raises(InvalidTokenError, match="type"):  # the Auth0-profile token has typ JWT
            await verifier.verify(idp.provider.token("user_access_token"))


async def test_auth0_id_token_is_not_an_access_token_for_the_api() -> None:
    idp = identity_provider("auth0")
    async with idp.verifier([providers.auth0(AUTH0_DOMAIN, AUTH0_API)]) as verifier:
        with pytest.raises(InvalidAudienceError):
            await verifier.verify(idp.provider.token("id_token"))


def test_auth0_refuses_the_userinfo_url_as_the_api_audience() -> None:
    with pytest.raises(ValueError, match="userinfo"):
        providers.auth0(AUTH0_DOMAIN, [AUTH0_API, f"https://{AUTH0_DOMAIN}/userinfo"])
