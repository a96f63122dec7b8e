"""Importing public keys: from a JWKS, a PEM document or a shared secret.

Each key is checked and imported into a joserfc key object once, when its set is loaded,
with its signature check for each algorithm it fits; requests only look keys up. One bad
key never spoils a set: it is skipped with a reason.
"""

from __future__ import annotations

import base64
import binascii
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, OctKey, OKPKey, RSAKey

from ._algorithms import HMAC_ALGORITHMS, SignatureCheck, algorithms_for_key, key_fits, signature_check
from ._config import MIN_HMAC_SECRET_BYTES, MIN_RSA_BITS

__all__ = ["KeyRejectedError", "KeySetImport", "SkippedKey", "VerificationKey"]

JoseKey = RSAKey | ECKey | OKPKey | OctKey

# The public members of each key type (RFC 7518 section 6, RFC 8037 section 2); anything
# else, private members included, is dropped before import.
_PUBLIC_MEMBERS: Final = {"RSA": ("n", "e"), "EC": ("crv", "x", "y"), "OKP": ("crv", "x")}
_IMPORTERS: Final[dict[str, type[RSAKey] | type[ECKey] | type[OKPKey]]] = {
    "RSA": RSAKey,
    "EC": ECKey,
    "OKP": OKPKey,
}
_SIGNING_CURVES: Final = {"EC": {"P-256", "P-384", "P-521", "secp256k1"}, "OKP": {"Ed25519", "Ed448"}}
_BASE64URL: Final = re.compile(r"[A-Za-z0-9_-]*")


class KeyRejectedError(ValueError):
    """A key that cannot be used to verify signatures; the message says why."""


@dataclass(frozen=True, eq=False)
class VerificationKey:
    """A public key ready to verify signatures, with the algorithms it may verify."""

    kid: str | None
    kty: str
    crv: str | None
    algorithms: frozenset[str]
    key: JoseKey
    thumbprint: str
    #: RSA modulus size in bits; None for other key types.
    size: int | None = None
    #: `notAfter` of the first `x5c` certificate, when the key carries one (not enforced:
    #: providers publish long-expired self-signed certificates next to valid keys).
    certificate_expires: datetime | None = None
    #: The `alg` the JWK declared, if any (it then binds the key to that algorithm alone).
    declared_alg: str | None = None
    #: The `use` the JWK declared, if any (only "sig" is imported).
    use: str | None = None
    _checks: dict[str, SignatureCheck] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        checks = {alg: signature_check(alg, self.key) for alg in self.algorithms}
        object.__setattr__(self, "_checks", checks)  # frozen: set once, here

    def verify(self, alg: str, signing_input: bytes, signature: bytes) -> bool:
        """Whether `signature` is this key's `alg` signature of `signing_input`; `alg` must be
        one of `algorithms`."""
        return self._checks[alg](signing_input, signature)

    def __repr__(self) -> str:
        return f"VerificationKey(kid={self.kid!r}, kty={self.kty!r}, algorithms={sorted(self.algorithms)})"


@dataclass(frozen=True)
class SkippedKey:
    """A key of a set that was not imported, and why."""

    kid: str | None
    reason: str


@dataclass(frozen=True)
class KeySetImport:
    """The usable keys of a JWKS and the ones skipped."""

    keys: tuple[VerificationKey, ...]
    skipped: tuple[SkippedKey, ...]


def import_jwk(jwk: Mapping[str, Any]) -> VerificationKey:
    """Check and import one JWK (RFC 7517 section 4); raise KeyRejectedError if unusable."""
    if not isinstance(jwk, Mapping):
        raise KeyRejectedError("a key must be a JSON object")
    kty = jwk.get("kty")
    if kty == "oct":
        raise KeyRejectedError("symmetric keys are never accepted from a key set")
    if kty not in _IMPORTERS:
        raise KeyRejectedError(f"unsupported key type {_show(kty)}")
    kid = jwk.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise KeyRejectedError("'kid' must be a string")
    use = jwk.get("use")
    if use is not None and use != "sig":  # RFC 7517 section 4.2
        raise KeyRejectedError(f"key use is {_show(use)}, not 'sig'")
    key_ops = jwk.get("key_ops")
    if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
        raise KeyRejectedError("'key_ops' does not include 'verify'")  # RFC 7517 section 4.3
    public = {member: jwk[member] for member in _PUBLIC_MEMBERS[kty] if member in jwk}
    certificate_expires = None
    if "x5c" in jwk:
        from_certificate, certificate_expires = _certificate_key(jwk["x5c"], kty)
        for member, value in from_certificate.items():
            if member in public and public[member] != value:
                raise KeyRejectedError(f"'{member}' does not match the x5c certificate")
            public[member] = value
    crv = public.get("crv")
    if kty in _SIGNING_CURVES and crv not in _SIGNING_CURVES[kty]:
        raise KeyRejectedError(f"curve {_show(crv)} is not a signing curve")
    algorithms = algorithms_for_key(kty, crv)
    alg = jwk.get("alg")
    if alg is not None:  # a key's own "alg" binds it (RFC 7517 section 4.4)
        if not isinstance(alg, str) or not key_fits(alg, kty, crv):
            raise KeyRejectedError(f"key algorithm {_show(alg)} is not a signature algorithm for {kty}")
        algorithms = frozenset({alg})
    key = _import_public(kty, public)
    size = None
    if isinstance(key, RSAKey):
        size = key.public_key.key_size
        if size < MIN_RSA_BITS:
            raise KeyRejectedError(f"RSA key of {size} bits is shorter than {MIN_RSA_BITS}")
    return VerificationKey(
        kid=kid,
        kty=kty,
        crv=crv if isinstance(crv, str) else None,
        algorithms=algorithms,
        key=key,
        thumbprint=key.thumbprint(),
        size=size,
        certificate_expires=certificate_expires,
        declared_alg=alg,
        use=use,
    )


def import_key_set(document: object, *, max_keys: int) -> KeySetImport:
    """Import every usable key of a JWKS document; raise ValueError if it is not a JWKS."""
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWKS: expected an object with a 'keys' array")
    keys: list[VerificationKey] = []
    skipped: list[SkippedKey] = []
    for index, jwk in enumerate(document["keys"]):
        kid = jwk.get("kid") if isinstance(jwk, Mapping) else None
        kid = kid if isinstance(kid, str) else None
        if index >= max_keys:
            skipped.append(SkippedKey(kid, f"more than {max_keys} keys in the set"))
            continue
        try:
            keys.append(import_jwk(jwk))
        except KeyRejectedError as error:
            skipped.append(SkippedKey(kid, str(error)))
    return KeySetImport(tuple(keys), tuple(skipped))


def import_pem(pem: str | bytes, *, kid: str | None = None) -> VerificationKey:
    """Import a PEM public key or certificate; the BEGIN/END lines may be left out (Clerk)."""
    text = pem.decode("ascii", "replace") if isinstance(pem, bytes) else pem
    text = text.strip().replace("\\n", "\n")
    if "-----BEGIN" not in text:
        body = "".join(text.split())
        lines = "\n".join(body[i : i + 64] for i in range(0, len(body), 64))
        text = f"-----BEGIN PUBLIC KEY-----\n{lines}\n-----END PUBLIC KEY-----\n"
    if "PRIVATE KEY" in text:
        raise ValueError("give the issuer's public key, not a private key")
    try:
        public_key: object = (
            x509.load_pem_x509_certificate(text.encode()).public_key()
            if "BEGIN CERTIFICATE" in text
            else load_pem_public_key(text.encode())
        )
    except ValueError as error:
        raise ValueError(f"not a PEM public key or certificate: {error}") from None
    jwk = _jwk_of(public_key)
    if kid is not None:
        jwk["kid"] = kid
    try:
        return import_jwk(jwk)
    except KeyRejectedError as error:
        raise ValueError(str(error)) from None


def import_secret(secret: str | bytes) -> VerificationKey:
    """Import a shared secret for HS256/384/512 (at least 32 bytes, RFC 7518 section 3.2)."""
    raw = secret.encode() if isinstance(secret, str) else bytes(secret)
    if len(raw) < MIN_HMAC_SECRET_BYTES:
        raise ValueError(f"a shared secret must have at least {MIN_HMAC_SECRET_BYTES} bytes")
    key = OctKey.import_key(raw)
    return VerificationKey(
        kid=None,
        kty="oct",
        crv=None,
        algorithms=frozenset(HMAC_ALGORITHMS),
        key=key,
        thumbprint=key.thumbprint(),
    )


def _import_public(kty: str, public: dict[str, Any]) -> JoseKey:
    for member in _PUBLIC_MEMBERS[kty]:
        value = public.get(member)
        if not isinstance(value, str) or (member != "crv" and not _BASE64URL.fullmatch(value)):
            raise KeyRejectedError(f"'{member}' is missing or not base64url")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # short RSA keys are refused just below, not warned about
            key: JoseKey = _IMPORTERS[kty].import_key({"kty": kty, **public})
    except (JoseError, ValueError, TypeError, binascii.Error) as error:
        raise KeyRejectedError(f"key material is invalid ({type(error).__name__})") from None
    return key


def _certificate_key(x5c: object, kty: str) -> tuple[dict[str, str], datetime]:
    """Public members of the first certificate of `x5c` (RFC 7517 section 4.7)."""
    if not isinstance(x5c, list) or not x5c or not isinstance(x5c[0], str):
        raise KeyRejectedError("'x5c' must be a non-empty array of strings")
    try:
        der = base64.b64decode(x5c[0], validate=True)
        certificate = x509.load_der_x509_certificate(der)
        jwk = _jwk_of(certificate.public_key())
    except (ValueError, TypeError, binascii.Error):
        raise KeyRejectedError("'x5c' holds no valid certificate") from None
    if jwk.pop("kty") != kty:
        raise KeyRejectedError("the x5c certificate holds another key type")
    return jwk, certificate.not_valid_after_utc


def _jwk_of(public_key: object) -> dict[str, str]:
    if isinstance(public_key, rsa.RSAPublicKey):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # short RSA keys are refused by import_jwk, not warned about
            return dict(RSAKey.import_key(public_key).as_dict())
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return dict(ECKey.import_key(public_key).as_dict())
    if isinstance(public_key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
        return dict(OKPKey.import_key(public_key).as_dict())
    raise KeyRejectedError(f"unsupported public key type {type(public_key).__name__}")


def _show(value: object) -> str:
    """A short, printable rendering of an untrusted value for a reason text."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
