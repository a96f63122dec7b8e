"""A `LocalIssuer`'s keys: made in memory, published or not, one signing; and JWS signing.

Keys are generated per issuer and never written anywhere. The `kid` of each is its RFC 7638
thumbprint.
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from joserfc.errors import JoseError, SecurityWarning
from joserfc.jwk import ECKey, OKPKey, RSAKey
from joserfc.jws import JWSRegistry

from ._endpoints import encode_json

__all__ = ["CURRENT_KEY", "SUPPORTED_ALGORITHMS", "KeyRing", "KidChoice", "SigningKey", "b64"]

_Key = RSAKey | ECKey | OKPKey
# Algorithm -> key type and parameter (RSA size in bits, or curve name).
_KEY_SPECS: Final[dict[str, tuple[type[_Key], int | str]]] = {
    **dict.fromkeys(("RS256", "RS384", "RS512", "PS256", "PS384", "PS512"), (RSAKey, 2048)),
    "ES256": (ECKey, "P-256"),
    "ES384": (ECKey, "P-384"),
    "ES512": (ECKey, "P-521"),
    "ES256K": (ECKey, "secp256k1"),
    "EdDSA": (OKPKey, "Ed25519"),
    "Ed25519": (OKPKey, "Ed25519"),
    "Ed448": (OKPKey, "Ed448"),
}
#: Algorithms a `LocalIssuer` can sign with.
SUPPORTED_ALGORITHMS: Final = tuple(_KEY_SPECS)


class _Current(enum.Enum):
    KEY = "the current signing key"


#: Default of `issue(kid=...)`: sign with the current signing key and put its `kid` in the header.
CURRENT_KEY: Final = _Current.KEY
#: A key choice: a `kid` the issuer made, `CURRENT_KEY`, or None (the current key, no `kid` sent).
KidChoice = str | Literal[_Current.KEY] | None


@dataclass(frozen=True)
class SigningKey:
    """One key pair of the issuer and its public JWK."""

    kid: str
    key: _Key = field(repr=False)
    public: Mapping[str, Any] = field(repr=False)


class KeyRing:
    """Every key an issuer made, the published ones (oldest first) and the signing one.

    The published tuple is swapped whole, never changed in place: the server thread reads it.
    """

    def __init__(self, algorithm: str) -> None:
        if algorithm not in _KEY_SPECS:
            raise ValueError(f"unsupported algorithm {algorithm!r}; use one of {', '.join(_KEY_SPECS)}")
        self.algorithm = algorithm
        with warnings.catch_warnings():
            # joserfc flags "EdDSA" as deprecated by RFC 9864; tests still need such tokens.
            warnings.simplefilter("ignore", SecurityWarning)
            self._alg = JWSRegistry(algorithms=[algorithm]).get_alg(algorithm)
        self._held: dict[str, SigningKey] = {}  # every key made, published or not, by kid
        self.signer = self._new_key()
        self.published: tuple[SigningKey, ...] = (self.signer,)
        self._stranger: SigningKey | None = None

    def publish_next_key(self) -> str:
        key = self._new_key()
        self.published = (*self.published, key)
        return key.kid

    def switch_signer(self) -> None:
        self.signer = self.published[-1]

    def retire_old_keys(self) -> None:
        self.published = (self.signer,)

    def unpublished(self) -> SigningKey:
        """A key this issuer made but never published (the same one each time)."""
        if self._stranger is None:
            self._stranger = self._new_key()
        return self._stranger

    def key(self, kid: KidChoice) -> SigningKey:
        if kid is None or kid is _Current.KEY:
            return self.signer
        try:
            return self._held[kid]
        except KeyError:
            raise ValueError(f"this issuer made no key with kid {kid!r}") from None

    def sign(
        self, payload: Mapping[str, Any] | bytes, header: Mapping[str, Any] | bytes, key: SigningKey
    ) -> str:
        signing_input = b64(encode_json(header)) + b"." + b64(encode_json(payload))
        signature = self._alg.sign(signing_input, key.key)
        return (signing_input + b"." + b64(signature)).decode("ascii")

    def claims_of(self, token: str) -> dict[str, Any] | None:
        """The claims of a JWT this issuer signed (with a key it made, under that key's `kid`
        or, without one, the current key), or None."""
        try:
            header_part, payload_part, signature = token.split(".")
            header = json.loads(_unb64(header_part))
            kid = header.get("kid")
            key = self._held.get(kid) if isinstance(kid, str) else self.signer
            if key is None or header.get("alg") != self.algorithm:
                return None
            if not self._alg.verify(f"{header_part}.{payload_part}".encode(), _unb64(signature), key.key):
                return None
            claims = json.loads(_unb64(payload_part))
        except (ValueError, AttributeError, binascii.Error, JoseError):
            return None
        return claims if isinstance(claims, dict) else None

    def _new_key(self) -> SigningKey:
        key_type, parameter = _KEY_SPECS[self.algorithm]
        key: _Key = key_type.generate_key(parameter, private=True)  # type: ignore[arg-type]
        kid = key.thumbprint()
        public: dict[str, Any] = {"kty": key.key_type, "use": "sig", "alg": self.algorithm, "kid": kid}
        public.update({name: value for name, value in key.as_dict(private=False).items() if name != "kty"})
        made = SigningKey(kid, key, public)
        self._held[kid] = made
        return made


def b64(data: bytes) -> bytes:
    """base64url without padding (RFC 7515 section 2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
