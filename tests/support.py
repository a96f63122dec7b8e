"""The shared test helpers: keys, the one token minter (`mint`), the one fake clock (`Clock`),
issuers and verifiers; no network anywhere. Every test directory imports it (`from support
import ...`): pytest's `pythonpath` and mypy's `mypy_path` hold tests/.

Tokens are assembled by hand (`signed`, `unsigned`) so that tests control every byte of
the header, payload and signature; joserfc only computes signatures. Key generation is
slow for RSA, so every key is made once per test session (`functools.cache`).
"""

from __future__ import annotations

import base64
import datetime
import functools
import hashlib
import hmac
import json
import warnings
from collections.abc import Mapping
from typing import Any, Final, Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from joserfc.errors import SecurityWarning
from joserfc.jwk import ECKey, OKPKey, RSAKey
from joserfc.jws import JWSRegistry

from jwks_middleware import Issuer, TokenVerifier

ISSUER: Final = "https://issuer.example.test/"
OTHER_ISSUER: Final = "https://other-issuer.example.test/"
AUDIENCE: Final = "https://api.example.test"
#: The fixed "now" of every test clock.
NOW: Final = 1_700_000_000
#: A shared secret long enough for HS256/384/512 (at least 32 bytes).
SECRET: Final = "a shared secret of at least thirty-two bytes"
RSA_KID: Final = "rsa-1"

Key = RSAKey | ECKey | OKPKey
_HASHES: Final = {"256": hashlib.sha256, "384": hashlib.sha384, "512": hashlib.sha512}
_KEY_SOURCES: Final = ("jwks", "jwks_uri", "public_key", "secret", "discovery_url")


# -- keys ------------------------------------------------------------------------------


@functools.cache
def rsa_key(index: int = 0) -> RSAKey:
    """A 2048-bit RSA key pair; `index` tells distinct keys apart."""
    key: RSAKey = RSAKey.generate_key(2048)
    return key


@functools.cache
def ec_key(crv: str = "P-256", index: int = 0) -> ECKey:
    """An EC key pair on curve `crv`."""
    key: ECKey = ECKey.generate_key(crv)
    return key


@functools.cache
def okp_key(crv: Literal["Ed25519", "Ed448"] = "Ed25519", index: int = 0) -> OKPKey:
    """An OKP (EdDSA) key pair on curve `crv`."""
    key: OKPKey = OKPKey.generate_key(crv)
    return key


def public_jwk(key: Key, **members: Any) -> dict[str, Any]:
    """The public JWK of `key`, with extra members (kid, alg, use, ...)."""
    return {**key.as_dict(private=False), **members}


def jwks(*keys: Mapping[str, Any]) -> dict[str, Any]:
    """A JWKS document holding `keys`."""
    return {"keys": [dict(key) for key in keys]}


def self_signed_certificate(key: RSAKey | ECKey | rsa.RSAPrivateKey) -> str:
    """A self-signed X.509 certificate of `key`, base64 DER as in a JWK's `x5c`."""
    private = key if isinstance(key, rsa.RSAPrivateKey) else key.private_key
    assert private is not None
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "issuer.example.test")])
    start = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=365))
        .sign(private, hashes.SHA256())
    )
    return base64.b64encode(certificate.public_bytes(Encoding.DER)).decode("ascii")


def short_rsa_jwk(bits: int = 1024, **members: Any) -> dict[str, Any]:
    """The public JWK of an RSA key shorter than the 2048 bits accepted."""
    numbers = rsa.generate_private_key(public_exponent=65537, key_size=bits).public_key().public_numbers()
    return {"kty": "RSA", "n": b64url_int(numbers.n), "e": b64url_int(numbers.e), **members}


# -- encoding --------------------------------------------------------------------------


def b64url(data: bytes) -> str:
    """Unpadded base64url (RFC 7515 section 2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_int(number: int) -> str:
    """A JWK integer member (RFC 7518 section 2, Base64urlUInt)."""
    return b64url(number.to_bytes((number.bit_length() + 7) // 8, "big"))


def json_bytes(value: object) -> bytes:
    """Compact UTF-8 JSON."""
    return json.dumps(value, separators=(",", ":")).encode("utf-8")


def segment(part: Mapping[str, Any] | bytes | str) -> str:
    """A token segment: a mapping is JSON-encoded, bytes are taken as the raw JSON text,
    and a string is used as the (already encoded) segment itself."""
    if isinstance(part, str):
        return part
    if isinstance(part, bytes):
        return b64url(part)
    return b64url(json_bytes(dict(part)))


# -- signing ---------------------------------------------------------------------------


def signature(alg: str, message: bytes, key: Key | bytes) -> bytes:
    """The JWS signature of `message`; bytes are an HMAC secret, used exactly as given."""
    if isinstance(key, bytes):
        return hmac.new(key, message, _HASHES[alg[2:]]).digest()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)  # "EdDSA" is deprecated by RFC 9864
        model = JWSRegistry(algorithms=[alg]).get_alg(alg)
    return model.sign(message, key)


def signed(
    header: Mapping[str, Any] | bytes | str,
    payload: Mapping[str, Any] | bytes | str,
    key: Key | bytes,
    alg: str | None = None,
) -> str:
    """A compact JWS of exactly these parts, correctly signed with `key`.

    `alg` defaults to the header's; give it when the header is raw bytes or a segment.
    """
    if alg is None:
        assert isinstance(header, Mapping)
        alg = str(header["alg"])
    signing_input = f"{segment(header)}.{segment(payload)}"
    return f"{signing_input}.{b64url(signature(alg, signing_input.encode('ascii'), key))}"


def unsigned(header: Mapping[str, Any] | bytes | str, payload: Mapping[str, Any] | bytes | str) -> str:
    """A compact JWS with an empty signature part."""
    return f"{segment(header)}.{segment(payload)}."


def claims(*, without: tuple[str, ...] = (), **members: Any) -> dict[str, Any]:
    """Valid claims for `ISSUER` and `AUDIENCE` at `NOW`, changed by `members`."""
    result = {"iss": ISSUER, "aud": AUDIENCE, "sub": "user-1", "iat": NOW, "exp": NOW + 600, **members}
    for name in without:
        result.pop(name, None)
    return result


def header(alg: str = "RS256", kid: str | None = RSA_KID, **members: Any) -> dict[str, Any]:
    """A JWS header; `kid=None` leaves the kid out."""
    result: dict[str, Any] = {"alg": alg, "typ": "JWT"}
    if kid is not None:
        result["kid"] = kid
    result.update(members)
    return result


def mint(
    key: Key | bytes | None = None,
    *,
    alg: str = "RS256",
    kid: str | None = RSA_KID,
    header_members: Mapping[str, Any] | None = None,
    without: tuple[str, ...] = (),
    **members: Any,
) -> str:
    """A valid token of `ISSUER` (by default RS256 with `rsa_key()` and kid `RSA_KID`)."""
    return signed(
        {**header(alg, kid), **(header_members or {})},
        claims(without=without, **members),
        rsa_key() if key is None else key,
    )


# -- issuers and verifiers -------------------------------------------------------------


def default_jwks() -> dict[str, Any]:
    """The JWKS of `ISSUER`: `rsa_key()` as kid `RSA_KID`, bound to RS256."""
    return jwks(public_jwk(rsa_key(), kid=RSA_KID, alg="RS256", use="sig"))


def make_issuer(issuer: str = ISSUER, **options: Any) -> Issuer:
    """An `Issuer` with `AUDIENCE` and, unless another key source is given, `default_jwks()`."""
    options.setdefault("audience", AUDIENCE)
    if not any(source in options for source in _KEY_SOURCES):
        options["jwks"] = default_jwks()
    return Issuer(issuer, **options)


class Clock:
    """A clock that moves only when told to."""

    def __init__(self, now: float = NOW) -> None:
        self.now = float(now)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_verifier(*issuers: Issuer, clock: Clock | None = None, **options: Any) -> TokenVerifier:
    """A `TokenVerifier` of `issuers` (default: `make_issuer()`) on a fixed clock."""
    return TokenVerifier(
        list(issuers) or [make_issuer()], clock=clock if clock is not None else Clock(), **options
    )
