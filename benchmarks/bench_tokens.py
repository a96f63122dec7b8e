"""The token of every benchmark: a realistic ~800-byte access token (RS256-2048; ES256 and
EdDSA tokens carry the same claims), and pools of distinct ones minted before any timing, so
"first sight" really is first sight. Also the raw `cryptography` checks of the floors."""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from jwks_middleware.testing import LocalIssuer

AUDIENCE: Final = "https://api.example.com"
ALGORITHMS: Final = ("RS256", "ES256", "EdDSA")
LIFETIME: Final = 3600.0  # seconds: outlives the whole run
SCOPES: Final = ("openid", "profile", "email", "read:items", "write:items")


def mint(issuer: LocalIssuer, index: int, **extra: Any) -> str:
    """An Auth0-style access token: iss, sub, aud, iat, exp, jti, scope, azp.

    With an RS256-2048 key and a `http://127.0.0.1:<port>` issuer it is about 800 bytes; the
    ES256 and EdDSA (Ed25519) tokens have the same claims and a shorter signature (about 545
    bytes).
    """
    return issuer.issue(
        sub=f"auth0|{index:024x}",
        scopes=SCOPES,
        expires_in=LIFETIME,
        azp="Xk3vQ9mN2pL7rT5wY8zA1bC4dE6fG0hJ",
        **extra,
    )


def mint_pool(issuer: LocalIssuer, count: int) -> list[str]:
    """`count` distinct tokens (distinct `sub` and `jti`)."""
    return [mint(issuer, index) for index in range(count)]


def random_kid_tokens(issuer: LocalIssuer, count: int) -> list[str]:
    """Tokens signed by the issuer's key but naming a random, unknown `kid`."""
    return [mint(issuer, index, headers={"kid": secrets.token_urlsafe(16)}) for index in range(count)]


@dataclass(frozen=True)
class RawSignature:
    """What the signature check of one token needs, for `cryptography` directly: the floor."""

    message: bytes
    signature: bytes  # DER for ECDSA, as OpenSSL wants it


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def raw_signature(token: str, alg: str) -> RawSignature:
    """The signing input and signature of a token, decoded as `cryptography` takes them."""
    header, payload, signature = token.split(".")
    raw = _b64decode(signature)
    if alg == "ES256":
        raw = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    return RawSignature(f"{header}.{payload}".encode("ascii"), raw)


def raw_signatures(tokens: list[str], alg: str) -> list[RawSignature]:
    """The signing input and signature of each token, decoded ahead of time."""
    return [raw_signature(token, alg) for token in tokens]


def raw_verifier(public_key: Any, alg: str) -> Callable[[RawSignature], None]:
    """A function checking one `RawSignature` with `cryptography` and nothing else."""
    if alg == "RS256":
        assert isinstance(public_key, rsa.RSAPublicKey)
        rsa_key: rsa.RSAPublicKey = public_key
        pkcs1, sha256 = padding.PKCS1v15(), hashes.SHA256()

        def check_rsa(item: RawSignature) -> None:
            rsa_key.verify(item.signature, item.message, pkcs1, sha256)

        return check_rsa
    if alg == "EdDSA":
        assert isinstance(public_key, ed25519.Ed25519PublicKey)
        ed_key: ed25519.Ed25519PublicKey = public_key

        def check_ed(item: RawSignature) -> None:
            ed_key.verify(item.signature, item.message)

        return check_ed
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    ec_key: ec.EllipticCurvePublicKey = public_key
    ecdsa = ec.ECDSA(hashes.SHA256())

    def check_ec(item: RawSignature) -> None:
        ec_key.verify(item.signature, item.message, ecdsa)

    return check_ec


def jws_check(public_key: Any, alg: str) -> Callable[[bytes, bytes], bool]:
    """`check(signing_input, signature)` on the signature as a JWS carries it, `cryptography`
    directly: the hand-written reference's signature check."""
    if alg == "RS256":
        assert isinstance(public_key, rsa.RSAPublicKey)
        rsa_key: rsa.RSAPublicKey = public_key
        pkcs1, sha256 = padding.PKCS1v15(), hashes.SHA256()

        def check_rsa(message: bytes, signature: bytes) -> bool:
            try:
                rsa_key.verify(signature, message, pkcs1, sha256)
            except InvalidSignature:
                return False
            return True

        return check_rsa
    if alg == "EdDSA":
        assert isinstance(public_key, ed25519.Ed25519PublicKey)
        ed_key: ed25519.Ed25519PublicKey = public_key

        def check_ed(message: bytes, signature: bytes) -> bool:
            try:
                ed_key.verify(signature, message)
            except InvalidSignature:
                return False
            return True

        return check_ed
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    ec_key: ec.EllipticCurvePublicKey = public_key
    ecdsa = ec.ECDSA(hashes.SHA256())

    def check_ec(message: bytes, signature: bytes) -> bool:
        if len(signature) != 64:
            return False
        der = encode_dss_signature(
            int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        )
        try:
            ec_key.verify(der, message, ecdsa)
        except InvalidSignature:
            return False
        return True

    return check_ec


def es256_floor() -> Callable[[int], Awaitable[float]]:
    """`floor(n)`: the seconds of n raw ES256 signature checks of a 400-byte message, the floor
    of a DPoP proof check (a batch for `bench_driver.Variant`)."""
    private = ec.generate_private_key(ec.SECP256R1())
    public, message = private.public_key(), b"x" * 400
    signature = private.sign(message, ec.ECDSA(hashes.SHA256()))

    async def floor(n: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            public.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        return time.perf_counter() - start

    return floor
