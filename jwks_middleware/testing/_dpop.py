"""A DPoP client key for tests: it makes proofs (RFC 9449 section 4.2) for requests.

    key = DPoPKey()                                   # EC P-256, ES256
    token = issuer.issue(**dpop_bound_claims(key))         # a LocalIssuer token bound to it
    headers = {
        "Authorization": f"DPoP {token}",
        "DPoP": key.proof("GET", "http://testserver/items", access_token=token),
    }

Keys are generated in memory and never written anywhere.
"""

from __future__ import annotations

import base64
import secrets
import time
import warnings
from collections.abc import Callable, Mapping
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

from joserfc.errors import SecurityWarning
from joserfc.jwk import ECKey, OKPKey, RSAKey
from joserfc.jws import JWSRegistry

from .._dpop import access_token_hash
from ._endpoints import encode_json

__all__ = ["DPoPKey", "dpop_bound_claims"]

_Key = RSAKey | ECKey | OKPKey
# Algorithm -> key type and parameter (RSA size in bits, or curve name).
_KEY_SPECS: Final[dict[str, tuple[type[_Key], int | str]]] = {
    **dict.fromkeys(("RS256", "RS384", "RS512", "PS256", "PS384", "PS512"), (RSAKey, 2048)),
    "ES256": (ECKey, "P-256"),
    "ES384": (ECKey, "P-384"),
    "ES512": (ECKey, "P-521"),
    "EdDSA": (OKPKey, "Ed25519"),
    "Ed25519": (OKPKey, "Ed25519"),
}


class DPoPKey:
    """A client's DPoP key pair: EC P-256/384/521 (ES*), Ed25519 (EdDSA) or RSA 2048 (RS*/PS*).

    `clock` (seconds since the epoch) dates the proofs.
    """

    def __init__(self, algorithm: str = "ES256", *, clock: Callable[[], float] = time.time) -> None:
        if algorithm not in _KEY_SPECS:
            raise ValueError(f"unsupported algorithm {algorithm!r}; use one of {', '.join(_KEY_SPECS)}")
        key_type, parameter = _KEY_SPECS[algorithm]
        self.algorithm = algorithm
        self._key: _Key = key_type.generate_key(parameter, private=True)  # type: ignore[arg-type]
        self._clock = clock
        with warnings.catch_warnings():
            # joserfc flags "EdDSA" as deprecated by RFC 9864; clients still sign with it.
            warnings.simplefilter("ignore", SecurityWarning)
            self._alg = JWSRegistry(algorithms=[algorithm]).get_alg(algorithm)

    def __repr__(self) -> str:
        return f"DPoPKey({self.algorithm!r}, thumbprint={self.thumbprint!r})"

    @property
    def thumbprint(self) -> str:
        """The RFC 7638 SHA-256 thumbprint of the public key: a bound token's `cnf.jkt`."""
        thumbprint: str = self._key.thumbprint()
        return thumbprint

    @property
    def public_jwk(self) -> dict[str, Any]:
        """The public key as a JWK, as a proof's header carries it."""
        return dict(self._key.as_dict(private=False))

    def proof(
        self,
        method: str,
        url: str,
        *,
        access_token: str | None = None,
        nonce: str | None = None,
        jti: str | None = None,
        iat: float | None = None,
        alg: str | None = None,
        headers: Mapping[str, Any] | None = None,
        **extra_claims: Any,
    ) -> str:
        """A proof for a `method` request to `url` (`htu` is `url` without query and fragment).

        Claims: `jti` (random unless given), `htm`, `htu`, `iat` (now unless given), `ath`
        when `access_token` is given, `nonce` when given; `extra_claims` add or replace claims,
        and a claim given as None is left out. Header: ``typ: dpop+jwt``, `alg` (the key's
        unless `alg` says otherwise: the signature is always the key's own algorithm) and the
        public `jwk`; `headers` add or replace members after that (None removes one).
        """
        parts = urlsplit(url)
        claims: dict[str, Any] = {
            "jti": secrets.token_urlsafe(16) if jti is None else jti,
            "htm": method,
            "htu": urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")),
            "iat": int(self._clock()) if iat is None else iat,
        }
        if access_token is not None:
            claims["ath"] = access_token_hash(access_token)
        if nonce is not None:
            claims["nonce"] = nonce
        claims.update(extra_claims)
        header: dict[str, Any] = {"typ": "dpop+jwt", "alg": alg or self.algorithm, "jwk": self.public_jwk}
        header.update(headers or {})
        return self.sign(_without_none(claims), header=_without_none(header))

    def sign(
        self, payload: Mapping[str, Any] | bytes, *, header: Mapping[str, Any] | bytes | None = None
    ) -> str:
        """Sign any payload under any header, used verbatim (bytes as they are), for proofs
        `proof` cannot make: duplicate JSON members, odd encodings. Without `header`: the
        header `proof` makes."""
        if header is None:
            header = {"typ": "dpop+jwt", "alg": self.algorithm, "jwk": self.public_jwk}
        signing_input = _b64(encode_json(header)) + b"." + _b64(encode_json(payload))
        signature = self._alg.sign(signing_input, self._key)
        return (signing_input + b"." + _b64(signature)).decode("ascii")


def dpop_bound_claims(key: DPoPKey) -> dict[str, Any]:
    """The confirmation claim binding a token to `key` (RFC 9449 section 6.1), for
    ``LocalIssuer.issue(**dpop_bound_claims(key))``."""
    return {"cnf": {"jkt": key.thumbprint}}


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _without_none(members: Mapping[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in members.items() if value is not None}
