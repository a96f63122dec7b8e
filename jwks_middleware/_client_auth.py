"""How a resource server authenticates itself to an authorization server (RFC 6749 section 2.3).

Three methods, as OpenID Connect Core section 9 names them: `client_secret_basic` (HTTP Basic,
RFC 6749 section 2.3.1), `client_secret_post` (the same pair in the form body) and
`private_key_jwt` (a short-lived JWT signed by the client's key, RFC 7523 sections 2.2 and 3).
"""

from __future__ import annotations

import base64
import secrets
import warnings
from collections.abc import Mapping
from typing import Any, Final, Literal
from urllib.parse import quote_plus

from joserfc import jwt
from joserfc.errors import JoseError, SecurityWarning
from joserfc.jwk import ECKey, OKPKey, RSAKey

from ._algorithms import ASYMMETRIC_ALGORITHMS, key_fits
from ._config import CLIENT_ASSERTION_LIFETIME, MIN_RSA_BITS

__all__ = ["AUTH_METHODS", "AuthMethod", "PrivateKey", "client_credentials", "import_private_key"]

AuthMethod = Literal["client_secret_basic", "client_secret_post", "private_key_jwt"]
#: The client authentication methods supported.
AUTH_METHODS: Final = ("client_secret_basic", "client_secret_post", "private_key_jwt")
PrivateKey = RSAKey | ECKey | OKPKey

#: RFC 7523 section 2.2.
_ASSERTION_TYPE: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_DEFAULT_ALGORITHM: Final = {"RSA": "RS256", "P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}
_DEFAULT_ALGORITHM_OKP: Final = "EdDSA"  # what servers accept today for Ed25519 and Ed448


def import_private_key(key: object) -> tuple[PrivateKey, str]:
    """A signing key (a joserfc key, a PEM private key, or a private JWK) and its algorithm:
    the JWK's own `alg`, or the usual one for its type (RS256, ES256/384/512, EdDSA)."""
    if isinstance(key, (RSAKey, ECKey, OKPKey)):
        imported: PrivateKey = key
    elif isinstance(key, (str, bytes)):
        imported = _import_pem(key)
    elif isinstance(key, Mapping):
        imported = _import_jwk(key)
    else:
        raise TypeError("private_key must be a joserfc RSA/EC/OKP key, a PEM private key or a JWK")
    if not imported.is_private:
        raise ValueError("private_key holds no private key: it must sign the client assertion")
    if isinstance(imported, RSAKey) and imported.raw_value.key_size < MIN_RSA_BITS:
        raise ValueError(f"an RSA private_key must have at least {MIN_RSA_BITS} bits")
    crv = None if isinstance(imported, RSAKey) else str(imported.get("crv"))
    alg = imported.get("alg")
    if alg is None:
        alg = _DEFAULT_ALGORITHM_OKP if isinstance(imported, OKPKey) else _DEFAULT_ALGORITHM.get(crv or "RSA")
    if alg not in ASYMMETRIC_ALGORITHMS or not key_fits(str(alg), imported.key_type, crv):
        raise ValueError(f"no supported signing algorithm fits this private_key ({imported.key_type} {crv})")
    return imported, str(alg)


def _import_pem(pem: str | bytes) -> PrivateKey:
    for key_type in (RSAKey, ECKey, OKPKey):
        try:
            imported: PrivateKey = key_type.import_key(pem)
            return imported
        except (JoseError, ValueError, TypeError):
            continue
    raise ValueError("private_key is not a PEM RSA, EC or OKP key")


def _import_jwk(jwk: Mapping[str, Any]) -> PrivateKey:
    key_types: dict[str, type[PrivateKey]] = {"RSA": RSAKey, "EC": ECKey, "OKP": OKPKey}
    key_type = key_types.get(str(jwk.get("kty")))
    if key_type is None:
        raise ValueError("a private_key JWK must have kty RSA, EC or OKP")
    try:
        imported: PrivateKey = key_type.import_key(dict(jwk))
        return imported
    except (JoseError, ValueError, TypeError) as error:
        raise ValueError(f"private_key is not a valid {jwk.get('kty')} JWK ({error})") from None


def client_credentials(
    method: AuthMethod,
    client_id: str,
    *,
    client_secret: str | None = None,
    private_key: tuple[PrivateKey, str] | None = None,
    audience: str = "",
    now: float = 0.0,
) -> tuple[dict[str, str], dict[str, str]]:
    """The form members and headers that authenticate the client with `method`.

    `audience` and `now` date and address a `private_key_jwt` assertion; a new one (fresh
    `jti`) is made for every request, as RFC 7523 section 3 lets servers refuse replays.
    """
    if method == "client_secret_basic":
        # RFC 6749 section 2.3.1: both are form-urlencoded before they are joined and encoded.
        pair = f"{quote_plus(client_id)}:{quote_plus(client_secret or '')}"
        return {}, {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode("ascii")}
    if method == "client_secret_post":
        return {"client_id": client_id, "client_secret": client_secret or ""}, {}
    if private_key is None:
        raise ValueError("private_key_jwt needs a private_key")
    assertion = _client_assertion(client_id, private_key, audience=audience, now=now)
    return {
        "client_id": client_id,
        "client_assertion_type": _ASSERTION_TYPE,
        "client_assertion": assertion,
    }, {}


def _client_assertion(
    client_id: str, private_key: tuple[PrivateKey, str], *, audience: str, now: float
) -> str:
    key, algorithm = private_key
    # RFC 7523 section 3 / OpenID Connect Core section 9: iss and sub are the client, aud the
    # authorization server, a unique jti, and a short life.
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "jti": secrets.token_urlsafe(16),
        "iat": int(now),
        "exp": int(now) + CLIENT_ASSERTION_LIFETIME,
    }
    header: dict[str, Any] = {"alg": algorithm, "typ": "JWT"}
    if key.kid is not None:
        header["kid"] = key.kid
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)  # "EdDSA" is deprecated by RFC 9864
        return jwt.encode(header, claims, key, algorithms=[algorithm])
