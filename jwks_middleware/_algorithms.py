"""JWS algorithms: which exist, which are allowed by default, and which keys fit each.

joserfc is the algorithm registry: this module decides which of its algorithm objects may be
used, and binds every algorithm to the key type (and curve) it needs (RFC 8725 section 3.1).

`signature_check` makes, once per imported key and algorithm, the check a request runs: the
`cryptography` call joserfc's `verify` makes, with the parameters of joserfc's algorithm
object, minus its per-call work (the key found through `get_op_key`, new hash and ECDSA
objects, R and S decoded through hexadecimal). `tests/test_signature_checks.py` shows both
give the same verdict on every token.
"""

from __future__ import annotations

import hmac
import warnings
from collections.abc import Callable, Iterable
from typing import Any, Final, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ec import ECDSA
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from joserfc.errors import SecurityWarning
from joserfc.jws import JWSRegistry

__all__ = [
    "ASYMMETRIC_ALGORITHMS",
    "HMAC_ALGORITHMS",
    "JWSAlgorithm",
    "algorithm_model",
    "algorithms_for_key",
    "check_algorithms",
    "key_fits",
    "signature_check",
]


class JWSAlgorithm(Protocol):
    """The part of a joserfc algorithm used here: signature verification."""

    name: str

    def verify(self, msg: bytes, sig: bytes, key: Any) -> bool: ...


#: `check(signing_input, signature)`: whether the signature is valid (see `signature_check`).
SignatureCheck = Callable[[bytes, bytes], bool]


#: Every asymmetric JWS algorithm: the default allowlist of issuers whose keys are fetched.
ASYMMETRIC_ALGORITHMS: Final = (
    "RS256", "RS384", "RS512",
    "PS256", "PS384", "PS512",
    "ES256", "ES384", "ES512", "ES256K",
    "EdDSA", "Ed25519", "Ed448",
)  # fmt: skip
#: Shared-secret algorithms, only ever used with a secret configured on the issuer.
HMAC_ALGORITHMS: Final = ("HS256", "HS384", "HS512")

# Key type and, for curves, the curve names each algorithm accepts (RFC 7518 section 3,
# RFC 8037 section 3.1, RFC 8812 section 3.2, RFC 9864 section 2).
_KEY_FIT: Final[dict[str, tuple[str, frozenset[str] | None]]] = {
    **dict.fromkeys(("RS256", "RS384", "RS512", "PS256", "PS384", "PS512"), ("RSA", None)),
    **dict.fromkeys(HMAC_ALGORITHMS, ("oct", None)),
    "ES256": ("EC", frozenset({"P-256"})),
    "ES384": ("EC", frozenset({"P-384"})),
    "ES512": ("EC", frozenset({"P-521"})),
    "ES256K": ("EC", frozenset({"secp256k1"})),
    "EdDSA": ("OKP", frozenset({"Ed25519", "Ed448"})),
    "Ed25519": ("OKP", frozenset({"Ed25519"})),
    "Ed448": ("OKP", frozenset({"Ed448"})),
}


def _load_models() -> dict[str, JWSAlgorithm]:
    registry = JWSRegistry(algorithms=list(_KEY_FIT))
    with warnings.catch_warnings():
        # joserfc warns that "EdDSA" is deprecated by RFC 9864; it stays accepted because
        # providers still sign with it. The warning would otherwise fire on every lookup.
        warnings.simplefilter("ignore", SecurityWarning)
        return {name: registry.get_alg(name) for name in _KEY_FIT}


_MODELS: Final = _load_models()


def algorithm_model(name: str) -> JWSAlgorithm:
    """joserfc's implementation of a supported algorithm."""
    return _MODELS[name]


def signature_check(name: str, key: Any) -> SignatureCheck:
    """The check of `name` signatures by `key` (a joserfc key that fits `name`): the verdict of
    `algorithm_model(name).verify(signing_input, signature, key)`, computed directly."""
    model: Any = _MODELS[name]
    kty = _KEY_FIT[name][0]
    public = key.get_op_key("verify")  # for "oct": the secret's bytes
    if kty == "RSA":  # RS* and PS*: joserfc's padding and hash (RFC 7518 sections 3.3, 3.5)
        return _rsa_check(public, model.padding, model.hash_alg())
    if kty == "EC":  # ES*: joserfc's hash, on the key's curve (RFC 7518 section 3.4)
        return _ecdsa_check(public, ECDSA(model.hash_alg()), (public.curve.key_size + 7) // 8)
    if kty == "OKP":  # EdDSA, Ed25519, Ed448 (RFC 8037 section 3.1, RFC 9864)
        return _eddsa_check(public)
    return _hmac_check(public, model.hash_alg)  # HS* (RFC 7518 section 3.2)


def _rsa_check(public: Any, padding: Any, hash_algorithm: Any) -> SignatureCheck:
    verify = public.verify

    def check(signing_input: bytes, signature: bytes) -> bool:
        try:
            verify(signature, signing_input, padding, hash_algorithm)
        except InvalidSignature:
            return False
        return True

    return check


def _ecdsa_check(public: Any, ecdsa: ECDSA, length: int) -> SignatureCheck:
    verify = public.verify

    def check(signing_input: bytes, signature: bytes) -> bool:
        # JWS carries R and S as two fixed-size big-endian integers (RFC 7518 section 3.4);
        # `cryptography` takes them DER-encoded.
        if len(signature) != 2 * length:
            return False
        r = int.from_bytes(signature[:length], "big")
        s = int.from_bytes(signature[length:], "big")
        try:
            verify(encode_dss_signature(r, s), signing_input, ecdsa)
        except InvalidSignature:
            return False
        return True

    return check


def _eddsa_check(public: Any) -> SignatureCheck:
    verify = public.verify

    def check(signing_input: bytes, signature: bytes) -> bool:
        try:
            verify(signature, signing_input)
        except InvalidSignature:
            return False
        return True

    return check


def _hmac_check(secret: bytes, digest: Any) -> SignatureCheck:
    def check(signing_input: bytes, signature: bytes) -> bool:
        # Constant-time comparison: no timing oracle on the expected MAC.
        return hmac.compare_digest(signature, hmac.digest(secret, signing_input, digest))

    return check


def key_fits(algorithm: str, kty: str, crv: str | None) -> bool:
    """Whether a key of this type (and curve) may verify this algorithm."""
    fit = _KEY_FIT.get(algorithm)
    if fit is None:
        return False
    key_type, curves = fit
    return kty == key_type and (curves is None or crv in curves)


def algorithms_for_key(kty: str, crv: str | None) -> frozenset[str]:
    """Every algorithm a key of this type and curve could verify."""
    return frozenset(name for name in _KEY_FIT if key_fits(name, kty, crv))


def check_algorithms(algorithms: Iterable[str], *, has_secret: bool) -> frozenset[str]:
    """Validate an issuer's allowlist at construction; raise ValueError on anything unsafe."""
    if isinstance(algorithms, str):
        raise TypeError("algorithms must be a list of names, not a string")
    chosen = frozenset(algorithms)
    if not chosen:
        raise ValueError("algorithms must not be empty")
    for name in sorted(chosen):
        if name.lower() == "none":
            raise ValueError("the 'none' algorithm is never allowed (RFC 8725 section 3.2)")
        if name not in _KEY_FIT:
            raise ValueError(f"unsupported JWS algorithm: {name!r}")
        if name in HMAC_ALGORITHMS and not has_secret:
            raise ValueError(f"{name} needs a shared secret configured on the issuer (secret=...)")
        if name not in HMAC_ALGORITHMS and has_secret:
            raise ValueError(f"an issuer with a shared secret verifies only HS* algorithms, not {name}")
    return chosen
