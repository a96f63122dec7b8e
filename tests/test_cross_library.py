"""Tokens minted by PyJWT, Authlib and jwcrypto: accepted when valid, refused when not.

For every supported algorithm each library signs a token the verifier must accept, and each
library's own verification (configured as its documentation recommends) must agree. Tokens
the libraries refuse (expired, another audience, another key, a changed payload) are
refused here too; so are the dangerous tokens a library still makes when asked: `alg: none`
and HS256 keyed with the issuer's public key.
"""

from __future__ import annotations

import base64
import functools
import json
import time
import warnings
from dataclasses import dataclass
from typing import Any

import jwt as pyjwt
import pytest
from authlib.deprecate import AuthlibDeprecationWarning  # type: ignore[import-untyped]
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwcrypto import jwk as cjwk  # type: ignore[import-untyped]
from jwcrypto import jws as cjws
from jwcrypto import jwt as cjwt
from jwcrypto.common import JWException  # type: ignore[import-untyped]

from jwks_middleware import (
    AuthError,
    DisallowedAlgorithmError,
    ExpiredTokenError,
    InvalidAudienceError,
    InvalidSignatureError,
    Issuer,
    TokenVerifier,
)

with warnings.catch_warnings():
    # Authlib 1.6+ warns that `authlib.jose` moves to joserfc; only its import warns.
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.jose import JsonWebToken  # type: ignore[import-untyped]
    from authlib.jose.errors import JoseError  # type: ignore[import-untyped]

pytestmark = pytest.mark.anyio

ISSUER = "https://issuer.example.test/"
HMAC_ISSUER = "https://hmac-issuer.example.test/"
AUDIENCE = "https://api.example.test"
#: At least the hash size of HS512 (RFC 7518 section 3.2), so no library warns about its length.
SECRET = b"a shared secret of 64 bytes or more, long enough for HS256/384/512!"
ASYMMETRIC = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
HMAC = ("HS256", "HS384", "HS512")
LIBRARIES = ("pyjwt", "authlib", "jwcrypto")
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
_CURVES = {"ES256": ec.SECP256R1(), "ES384": ec.SECP384R1(), "ES512": ec.SECP521R1()}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# -- keys ------------------------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _uint(value: int, size: int | None = None) -> str:
    return _b64url(value.to_bytes(size or (value.bit_length() + 7) // 8, "big"))


@dataclass(frozen=True)
class SigningKey:
    """A key in the forms each library takes: object, PEM, or the HMAC secret."""

    alg: str
    private: PrivateKey | None
    secret: bytes | None = None

    @property
    def kid(self) -> str:
        return f"{self.alg.lower()}-key"

    @property
    def private_pem(self) -> bytes:
        assert self.private is not None
        return self.private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    @property
    def public(self) -> PublicKey:
        assert self.private is not None
        return self.private.public_key()

    @property
    def public_pem(self) -> bytes:
        return self.public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    @property
    def public_der(self) -> bytes:
        return self.public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def public_jwk(self) -> dict[str, str]:
        """The public JWK, written from the key's numbers (no JOSE library involved)."""
        public = self.public
        if isinstance(public, rsa.RSAPublicKey):
            numbers = public.public_numbers()
            members = {"kty": "RSA", "n": _uint(numbers.n), "e": _uint(numbers.e)}
        elif isinstance(public, ec.EllipticCurvePublicKey):
            point = public.public_numbers()
            size = (public.curve.key_size + 7) // 8
            crv = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}[public.curve.name]
            members = {"kty": "EC", "crv": crv, "x": _uint(point.x, size), "y": _uint(point.y, size)}
        else:
            assert isinstance(public, ed25519.Ed25519PublicKey)
            raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            members = {"kty": "OKP", "crv": "Ed25519", "x": _b64url(raw)}
        return {**members, "use": "sig", "kid": self.kid}


def _generate(alg: str) -> SigningKey:
    if alg in HMAC:
        return SigningKey(alg, None, SECRET)
    private: PrivateKey
    if alg[:2] in ("RS", "PS"):
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    elif alg in _CURVES:
        private = ec.generate_private_key(_CURVES[alg])
    else:
        private = ed25519.Ed25519PrivateKey.generate()
    return SigningKey(alg, private)


@functools.cache
def signing_key(alg: str) -> SigningKey:
    return _generate(alg)


@functools.cache
def other_key(alg: str) -> SigningKey:
    """Another key of the same type, for tokens signed by the wrong key under the right kid."""
    if alg in HMAC:
        return SigningKey(alg, None, b"another shared secret, which is also 64 bytes long or even longer")
    return _generate(alg)


def _issuers() -> list[Issuer]:
    jwks = {"keys": [signing_key(alg).public_jwk() for alg in ASYMMETRIC]}
    return [
        Issuer(ISSUER, audience=AUDIENCE, jwks=jwks),
        Issuer(HMAC_ISSUER, audience=AUDIENCE, secret=SECRET),
    ]


# -- minting and verifying with each library ---------------------------------------------------


def _claims(alg: str, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": HMAC_ISSUER if alg.startswith("HS") else ISSUER,
        "sub": "user-123",
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 300,
        "scope": "read:items",
    }
    claims.update(changes)
    return claims


def sign_with(library: str, key: SigningKey, claims: dict[str, Any], *, alg: str | None = None) -> str:
    """A token signed by `library` with `key` (using `alg`, by default the key's own)."""
    alg = alg or key.alg
    header = {"alg": alg, "kid": signing_key(key.alg).kid}
    if library == "pyjwt":
        material: Any = key.secret if key.secret is not None else key.private
        return pyjwt.encode(claims, material, algorithm=alg, headers={"kid": header["kid"]})
    if library == "authlib":
        token: bytes = JsonWebToken([alg]).encode(header, claims, key.secret or key.private_pem)
        return token.decode("ascii")
    assert library == "jwcrypto"
    jwk = (
        cjwk.JWK(kty="oct", k=_b64url(key.secret))
        if key.secret is not None
        else cjwk.JWK.from_pem(key.private_pem)
    )
    signed = cjwt.JWT(header=header, claims=claims)
    signed.make_signed_token(jwk)
    serialized: str = signed.serialize()
    return serialized


def library_accepts(library: str, token: str, alg: str) -> bool:
    """Whether `library` accepts the token, set up as its docs recommend for this issuer."""
    key = signing_key(alg)
    issuer = HMAC_ISSUER if alg in HMAC else ISSUER
    if library == "pyjwt":
        material: Any = key.secret if key.secret is not None else key.public
        try:
            pyjwt.decode(
                token,
                material,
                algorithms=[alg],
                audience=AUDIENCE,
                issuer=issuer,
                leeway=60,
                options={"require": ["exp", "iss", "aud"]},
            )
        except pyjwt.PyJWTError:
            return False
        return True
    if library == "authlib":
        options = {
            "iss": {"essential": True, "value": issuer},
            "aud": {"essential": True, "value": AUDIENCE},
            "exp": {"essential": True},
        }
        try:
            claims = JsonWebToken([alg]).decode(token, key.secret or key.public_pem, claims_options=options)
            claims.validate(leeway=60)
        except JoseError:
            return False
        return True
    assert library == "jwcrypto"
    jwk = (
        cjwk.JWK(kty="oct", k=_b64url(key.secret))
        if key.secret is not None
        else cjwk.JWK.from_pem(key.public_pem)
    )
    try:
        cjwt.JWT(
            jwt=token,
            key=jwk,
            algs=[alg],
            expected_type="JWS",
            check_claims={"iss": issuer, "aud": AUDIENCE, "exp": None},
        )
    except (JWException, ValueError):
        return False
    return True


async def verify(token: str) -> dict[str, Any]:
    async with TokenVerifier(_issuers()) as verifier:
        return dict(await verifier.verify(token))


async def refusal(token: str) -> AuthError:
    async with TokenVerifier(_issuers()) as verifier:
        with pytest.raises(AuthError) as caught:
            await verifier.verify(token)
    return caught.value


# -- valid tokens: accepted by every library and here ------------------------------------------


@pytest.mark.parametrize("library", LIBRARIES)
@pytest.mark.parametrize("alg", ASYMMETRIC + HMAC)
async def test_valid_token_of_each_library_and_algorithm_is_accepted(library: str, alg: str) -> None:
    claims = _claims(alg)
    token = sign_with(library, signing_key(alg), claims)
    assert all(library_accepts(other, token, alg) for other in LIBRARIES)
    assert await verify(token) == claims


# -- tokens the libraries refuse are refused here -------------------------------------------


def _expired(library: str, alg: str) -> str:
    now = int(time.time())
    return sign_with(library, signing_key(alg), _claims(alg, iat=now - 7200, exp=now - 3600))


def _wrong_audience(library: str, alg: str) -> str:
    return sign_with(library, signing_key(alg), _claims(alg, aud="https://another-api.example.test"))


def _wrong_key(library: str, alg: str) -> str:
    return sign_with(library, other_key(alg), _claims(alg))


def _changed_payload(library: str, alg: str) -> str:
    header, _, signature = sign_with(library, signing_key(alg), _claims(alg)).split(".")
    payload = _b64url(json.dumps(_claims(alg, scope="read:items admin")).encode())
    return f"{header}.{payload}.{signature}"


REFUSED = {
    "expired": (_expired, ExpiredTokenError),
    "wrong audience": (_wrong_audience, InvalidAudienceError),
    "signed by another key": (_wrong_key, InvalidSignatureError),
    "payload changed after signing": (_changed_payload, InvalidSignatureError),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
@pytest.mark.parametrize("library", LIBRARIES)
@pytest.mark.parametrize("alg", ["RS256", "PS384", "ES256", "ES512", "EdDSA", "HS256"])
async def test_token_every_library_refuses_is_refused(case: str, library: str, alg: str) -> None:
    make, error = REFUSED[case]
    token = make(library, alg)
    assert not any(library_accepts(other, token, alg) for other in LIBRARIES)
    assert type(await refusal(token)) is error


# -- dangerous tokens the libraries still make when asked ------------------------------------


def _unsigned(library: str, claims: dict[str, Any]) -> str:
    """An `alg: none` token made by `library`, each explicitly allowing 'none' to sign."""
    if library == "pyjwt":
        return pyjwt.encode(claims, "", algorithm="none")  # PyJWT takes "" as "no key"
    if library == "authlib":
        token: bytes = JsonWebToken(["none"]).encode({"alg": "none"}, claims, None)
        return token.decode("ascii")
    unsigned = cjws.JWS(json.dumps(claims))
    unsigned.allowed_algs = ["none"]
    unsigned.add_signature(cjwk.JWK(kty="oct", k=""), alg="none", protected={"alg": "none"})
    serialized: str = unsigned.serialize(compact=True)
    return serialized


@pytest.mark.parametrize("library", LIBRARIES)
@pytest.mark.parametrize("alg", ["RS256", "HS256"])
async def test_unsigned_token_is_refused(library: str, alg: str) -> None:
    token = _unsigned(library, _claims(alg))
    assert token.endswith(".")
    assert not any(library_accepts(other, token, alg) for other in LIBRARIES)
    assert isinstance(await refusal(token), DisallowedAlgorithmError)


def _hmac_with_public_key(key_form: str, alg: str) -> str:
    """HS256 keyed with the issuer's public key (the RS/HS confusion of RFC 8725 section 2.1).

    PyJWT and Authlib refuse to use a public key as an HMAC secret; jwcrypto still signs with
    any bytes made into an `oct` key.
    """
    key = signing_key(alg)
    public = key.public_pem if key_form == "PEM" else key.public_der
    signed = cjwt.JWT(header={"alg": "HS256", "kid": key.kid}, claims=_claims(alg))
    signed.make_signed_token(cjwk.JWK(kty="oct", k=_b64url(public)))
    serialized: str = signed.serialize()
    return serialized


@pytest.mark.parametrize("key_form", ["PEM", "DER"])
@pytest.mark.parametrize("alg", ["RS256", "ES256"])
async def test_hmac_token_keyed_with_the_public_key_is_refused(key_form: str, alg: str) -> None:
    token = _hmac_with_public_key(key_form, alg)
    assert not any(library_accepts(other, token, alg) for other in LIBRARIES)
    assert isinstance(await refusal(token), DisallowedAlgorithmError)
    pem_issuer = Issuer(ISSUER, audience=AUDIENCE, public_key=signing_key(alg).public_pem)
    async with TokenVerifier([pem_issuer]) as verifier:
        with pytest.raises(DisallowedAlgorithmError):
            await verifier.verify(token)


def test_libraries_that_refuse_to_key_hmac_with_a_public_key() -> None:
    claims = _claims("HS256")
    public = signing_key("RS256").public_pem
    with pytest.raises(pyjwt.InvalidKeyError):
        pyjwt.encode(claims, public, algorithm="HS256")
    with pytest.raises(ValueError, match="safe"):
        JsonWebToken(["HS256"]).encode({"alg": "HS256"}, claims, public)
