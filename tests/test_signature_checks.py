"""The direct signature checks (`VerificationKey.verify`) give joserfc's verdict on every token.

Requests check signatures with the key's `cryptography` object directly (`_algorithms.
signature_check`) instead of through joserfc's algorithm objects. Here every token of a broad
corpus (each algorithm's valid, tampered and mis-signed tokens made with the test helpers, and
the tokens PyJWT, Authlib and jwcrypto make in `test_cross_library`, accepted and refused alike)
is checked by every key of every type, under every algorithm the key fits, both ways: the
verdicts, failures included, must be the same.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterator

import pytest
import test_cross_library as cross
from support import (
    SECRET,
    Key,
    claims,
    ec_key,
    header,
    mint,
    okp_key,
    public_jwk,
    rsa_key,
    signed,
)

from jwks_middleware._algorithms import algorithm_model
from jwks_middleware._jwk import VerificationKey, import_jwk, import_pem, import_secret
from jwks_middleware._jws import _b64decode

# One signing key per key type and curve, and the algorithms it signs for in the corpus.
_SIGNERS: dict[str, tuple[Callable[[], Key], tuple[str, ...]]] = {
    "RSA": (rsa_key, ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")),
    "P-256": (lambda: ec_key("P-256"), ("ES256",)),
    "P-384": (lambda: ec_key("P-384"), ("ES384",)),
    "P-521": (lambda: ec_key("P-521"), ("ES512",)),
    "secp256k1": (lambda: ec_key("secp256k1"), ("ES256K",)),
    "Ed25519": (lambda: okp_key("Ed25519"), ("EdDSA", "Ed25519")),
    "Ed448": (lambda: okp_key("Ed448"), ("EdDSA", "Ed448")),
}
_OTHER_SIGNERS: dict[str, Callable[[], Key]] = {
    "RSA": lambda: rsa_key(1),
    "P-256": lambda: ec_key("P-256", 1),
    "P-384": lambda: ec_key("P-384", 1),
    "P-521": lambda: ec_key("P-521", 1),
    "secp256k1": lambda: ec_key("secp256k1", 1),
    "Ed25519": lambda: okp_key("Ed25519", 1),
    "Ed448": lambda: okp_key("Ed448", 1),
}
_HMAC = ("HS256", "HS384", "HS512")


@functools.cache
def verification_keys() -> tuple[VerificationKey, ...]:
    """Every key a verifier may hold: one per key type and curve (from a JWKS), the keys the
    cross-library tokens are signed with (from PEM), and the shared secrets of both corpora."""
    from_jwks = [import_jwk(public_jwk(make(), kid=name)) for name, (make, _) in _SIGNERS.items()]
    from_pem = [
        import_pem(cross.signing_key(alg).public_pem) for alg in ("RS256", "ES256", "ES384", "ES512", "EdDSA")
    ]
    secrets = [import_secret(SECRET), import_secret(cross.SECRET)]
    return (*from_jwks, *from_pem, *secrets)


def _tampered(token: str) -> Iterator[str]:
    """`token`, and the ways a signature goes wrong: payload changed, signature cut, extended,
    emptied, zeroed, and one bit flipped."""
    head, payload, signature = token.split(".")
    raw = _b64decode(signature.encode("ascii"), "signature")
    yield token
    yield f"{head}.{cross._b64url(b'{}')}.{signature}"
    for changed in (raw[:-1], raw + b"\x00", b"", bytes(len(raw)), bytes([raw[0] ^ 1]) + raw[1:]):
        yield f"{head}.{payload}.{cross._b64url(changed)}"


def helper_tokens() -> Iterator[str]:
    """Tokens of every algorithm made with the test helpers, by the right and the wrong key."""
    for name, (make, algorithms) in _SIGNERS.items():
        for alg in algorithms:
            for key in (make(), _OTHER_SIGNERS[name]()):
                yield from _tampered(mint(key, alg=alg, kid=name))
    for alg in _HMAC:
        for secret in (SECRET.encode(), b"another secret that is also long enough here"):
            yield from _tampered(signed(header(alg, None), claims(), secret))


def library_tokens() -> Iterator[str]:
    """The tokens of `test_cross_library`: valid ones, the ones every library refuses, `alg:
    none`, and HMAC keyed with a public key."""
    for library, alg in itertools.product(cross.LIBRARIES, cross.ASYMMETRIC + cross.HMAC):
        yield cross.sign_with(library, cross.signing_key(alg), cross._claims(alg))
    for make, _ in cross.REFUSED.values():
        for library, alg in itertools.product(
            cross.LIBRARIES, ("RS256", "PS384", "ES256", "ES512", "EdDSA", "HS256")
        ):
            yield make(library, alg)
    for library, alg in itertools.product(cross.LIBRARIES, ("RS256", "HS256")):
        yield cross._unsigned(library, cross._claims(alg))
    for form, alg in itertools.product(("PEM", "DER"), ("RS256", "ES256")):
        yield cross._hmac_with_public_key(form, alg)


def _verdict(check: Callable[[], bool]) -> bool | str:
    # The verifier takes ValueError and TypeError for an invalid signature: compare those too.
    try:
        return check()
    except (ValueError, TypeError) as error:
        return type(error).__name__


def _disagreements(tokens: Iterator[str]) -> tuple[int, int, list[str]]:
    checked = accepted = 0
    found = []
    for token in tokens:
        head, payload, signature = token.split(".")
        signing_input = f"{head}.{payload}".encode("ascii")
        raw = _b64decode(signature.encode("ascii"), "signature") if signature else b""
        for key in verification_keys():
            for alg in sorted(key.algorithms):
                direct = _verdict(lambda: key.verify(alg, signing_input, raw))  # noqa: B023
                joserfc = _verdict(lambda: algorithm_model(alg).verify(signing_input, raw, key.key))  # noqa: B023
                checked += 1
                accepted += direct is True
                if direct != joserfc:
                    found.append(f"{alg} with {key!r}: direct {direct}, joserfc {joserfc}")
    return checked, accepted, found


@pytest.mark.parametrize(
    "corpus", [helper_tokens, library_tokens], ids=["test helpers", "PyJWT, Authlib, jwcrypto"]
)
def test_direct_signature_checks_agree_with_joserfc_on_every_token(
    corpus: Callable[[], Iterator[str]],
) -> None:
    checked, accepted, disagreements = _disagreements(corpus())
    assert disagreements == []
    assert accepted > 20  # both verdicts occur: the corpus holds valid signatures
    assert checked > 10 * accepted
