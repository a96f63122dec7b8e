"""DPoP (RFC 9449): checking a proof and a token's key binding.

A request with a DPoP-bound token carries ``Authorization: DPoP <token>`` and one ``DPoP``
header holding a proof: a JWT signed by the client's key, naming the request's method and
URI. `verify_proof` makes every check of RFC 9449 section 4.3 and returns the RFC 7638
thumbprint of the proof's key; `check_binding` compares it with the token's `cnf.jkt`.

Order of checks: cheap ones first (size, parsing, header, claims, nonce, `ath`), then the key
and the signature, and only then the replay store, so that nothing unsigned is recorded
(a forged proof must not use up another client's `jti`).

The caller verifies the access token first, so that only holders of a valid token reach the
signature check and the replay store.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from starlette.types import Scope

from ._algorithms import key_fits
from ._dpop_policy import (
    DEFAULT_DPOP_ALGORITHMS,
    DEFAULT_DPOP_LEEWAY,
    DEFAULT_DPOP_MAX_AGE,
    DEFAULT_MAX_PROOF_BYTES,
    DPoPPolicy,
)
from ._dpop_url import normalize_uri
from ._errors import (
    DPoPBindingError,
    InvalidDPoPProofError,
    ReplayedDPoPProofError,
    ReplayStoreUnavailableError,
    UseDPoPNonceError,
)
from ._jwk import KeyRejectedError, VerificationKey, import_jwk
from ._jws import loads_strict
from ._replay import ReplayStore

__all__ = [
    "DEFAULT_DPOP_ALGORITHMS",
    "DEFAULT_DPOP_LEEWAY",
    "DEFAULT_DPOP_MAX_AGE",
    "DEFAULT_MAX_PROOF_BYTES",
    "DPoPPolicy",
    "VerifiedProof",
    "access_token_hash",
    "check_binding",
    "proof_header",
    "verify_proof",
]


# RFC 7515 section 4.1.9: "dpop+jwt" is the media type "application/dpop+jwt", case-insensitive.
_PROOF_TYPES: Final = frozenset({"dpop+jwt", "application/dpop+jwt"})
# Private members of RSA, EC and OKP keys (RFC 7518 section 6, RFC 8037 section 2) and the
# secret of a symmetric key: a proof's `jwk` must carry none (RFC 9449 section 4.3 item 7).
_PRIVATE_MEMBERS: Final = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
_BASE64URL: Final = re.compile(r"[A-Za-z0-9_-]+")
# Decoded headers and imported keys by the header's encoded form. A client signs every proof
# under the same header (its `jwk` does not change), so a new proof of a known client needs no
# key import, which costs more than the signature check. Only headers whose key was imported
# are kept; bounded: cleared when full, so a flood of new keys costs at most this many.
_PROOF_KEY_CACHE_SIZE: Final = 1024
_proof_keys: dict[str, tuple[dict[str, Any], VerificationKey]] = {}


@dataclass(frozen=True)
class VerifiedProof:
    """A proof that passed every check: `jkt` is the RFC 7638 thumbprint of its key."""

    jkt: str
    jti: str
    issued_at: float
    algorithm: str
    nonce: str | None = None


def proof_header(scope: Scope) -> str | None:
    """The request's one `DPoP` header, None without one; more than one is refused
    (RFC 9449 section 4.3 item 1)."""
    found: bytes | None = None
    for name, value in scope["headers"]:
        if name == b"dpop":
            if found is not None:
                raise InvalidDPoPProofError("more than one DPoP header")
            found = value
    return None if found is None else found.decode("latin-1")


async def verify_proof(
    proof: str,
    *,
    method: str,
    url: str,
    access_token: str | None,
    policy: DPoPPolicy,
    replay_store: ReplayStore,
    now: float,
) -> VerifiedProof:
    """Check a DPoP proof (RFC 9449 section 4.3) for a request and record its `jti`.

    `method` is the request's method (``"GET"`` for a WebSocket handshake); `url` the URI the
    proof must name, as `request_url` gives it; `access_token` the token sent with it (its
    hash must be the proof's `ath`), None where no token is presented. Raise
    `InvalidDPoPProofError` (`ReplayedDPoPProofError` for a replay), `UseDPoPNonceError` when
    a nonce is required and missing or old, `ReplayStoreUnavailableError` when the store fails.
    """
    header_segment, payload_segment, signature_segment = _split(proof, policy.max_proof_bytes)
    known = _proof_keys.get(header_segment)
    header = _json_object(header_segment, "header") if known is None else known[0]
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in policy.algorithms:  # section 4.3 item 5
        raise InvalidDPoPProofError("proof 'alg' is not an accepted asymmetric algorithm")
    typ = header.get("typ")
    if not isinstance(typ, str) or typ.lower() not in _PROOF_TYPES:  # section 4.3 item 4
        raise InvalidDPoPProofError("proof 'typ' is not 'dpop+jwt'")
    if "crit" in header or "b64" in header:  # RFC 7515 section 4.1.11, RFC 7797: not understood
        raise InvalidDPoPProofError("proof header has 'crit' or 'b64', which are not supported")
    claims = _json_object(payload_segment, "payload")
    signature = _b64decode(signature_segment, "signature")
    jti, htm, htu, iat = _required_claims(claims)  # section 4.3 item 3, section 4.2
    if htm != method:  # section 4.3 item 8; methods are case-sensitive (RFC 9110 section 9.1)
        raise InvalidDPoPProofError("proof 'htm' is not the request method")
    _check_htu(htu, url)  # section 4.3 item 9
    if iat < now - policy.max_age:  # section 4.3 item 11, section 11.1
        raise InvalidDPoPProofError(f"proof was made {now - iat:.0f} s ago, more than {policy.max_age:g} s")
    if iat > now + policy.leeway:
        raise InvalidDPoPProofError(f"proof was made {iat - now:.0f} s in the future")
    nonce = claims.get("nonce")
    if policy.nonces is not None and not policy.nonces.check(nonce, now):  # section 4.3 item 10
        detail = "proof has no nonce" if nonce is None else "proof nonce is not current"
        raise UseDPoPNonceError(detail, nonce=policy.nonces.issue(now))
    if access_token is not None:  # section 4.3 item 12, section 7
        _check_ath(claims.get("ath"), access_token)
    if known is None:
        known = (header, _import_key(header))  # section 4.3 item 7
        if len(_proof_keys) >= _PROOF_KEY_CACHE_SIZE:
            _proof_keys.clear()
        _proof_keys[header_segment] = known
    key = known[1]
    if alg not in key.algorithms or not key_fits(alg, key.kty, key.crv):  # RFC 8725 section 3.1
        raise InvalidDPoPProofError(f"proof 'alg' {alg} does not fit its {key.kty} key")
    try:  # section 4.3 item 6
        valid = key.verify(alg, f"{header_segment}.{payload_segment}".encode("ascii"), signature)
    except (ValueError, TypeError):  # pragma: no cover - joserfc answers False; never a 500 if not
        valid = False
    if not valid:
        raise InvalidDPoPProofError("proof signature does not verify with its 'jwk'")
    jkt = key.thumbprint
    await _record(replay_store, jkt, jti, iat + policy.max_age + policy.leeway)
    return VerifiedProof(jkt, jti, iat, alg, nonce if isinstance(nonce, str) else None)


def check_binding(claims: Mapping[str, Any], jkt: str) -> None:
    """Refuse a token whose `cnf.jkt` is not `jkt`, the proof key's thumbprint (RFC 9449
    section 6.1); a token without `cnf.jkt` is not bound to a DPoP key and is refused too."""
    cnf = claims.get("cnf")
    bound = cnf.get("jkt") if isinstance(cnf, Mapping) else None
    if not isinstance(bound, str):
        raise DPoPBindingError("token has no 'cnf.jkt': it is not bound to a DPoP key")
    if not hmac.compare_digest(_utf8(bound), _utf8(jkt)):
        raise DPoPBindingError("token 'cnf.jkt' is not the thumbprint of the proof key")


def access_token_hash(access_token: str) -> str:
    """The `ath` of a token: base64url of its SHA-256 (RFC 9449 section 4.2)."""
    digest = hashlib.sha256(_utf8(access_token)).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _split(proof: str, max_bytes: int) -> list[str]:
    """The three parts of a compact JWS (RFC 7515 section 7.1; section 4.3 item 2)."""
    if len(proof) > max_bytes:
        raise InvalidDPoPProofError(f"proof of {len(proof)} bytes is larger than {max_bytes}")
    if not proof.isascii():
        raise InvalidDPoPProofError("proof holds non-ASCII characters")
    parts = proof.split(".")
    if len(parts) != 3:
        raise InvalidDPoPProofError(f"a proof is a compact JWS of 3 parts, this one has {len(parts)}")
    return parts


def _b64decode(segment: str, what: str) -> bytes:
    """Unpadded base64url, canonical only (RFC 7515 section 2): one spelling per value."""
    if not _BASE64URL.fullmatch(segment) or len(segment) % 4 == 1:
        raise InvalidDPoPProofError(f"proof {what} is not base64url")
    data = segment.encode("ascii")
    try:
        decoded = base64.urlsafe_b64decode(data + b"=" * (-len(data) % 4))
    except binascii.Error:  # pragma: no cover - excluded by the checks above
        raise InvalidDPoPProofError(f"proof {what} is not base64url") from None
    if base64.urlsafe_b64encode(decoded).rstrip(b"=") != data:  # stray bits in the last character
        raise InvalidDPoPProofError(f"proof {what} is not canonical base64url")
    return decoded


def _json_object(segment: str, what: str) -> dict[str, Any]:
    try:
        value = loads_strict(_b64decode(segment, what))  # UTF-8, no duplicate members (RFC 7515 section 5.2)
    except ValueError as error:
        raise InvalidDPoPProofError(f"proof {what} is not valid JSON ({error})") from None
    if not isinstance(value, dict):
        raise InvalidDPoPProofError(f"proof {what} is not a JSON object")
    return value


def _required_claims(claims: dict[str, Any]) -> tuple[str, str, str, float]:
    jti, htm, htu, iat = claims.get("jti"), claims.get("htm"), claims.get("htu"), claims.get("iat")
    if not isinstance(jti, str) or not jti:
        raise InvalidDPoPProofError("proof has no 'jti'")
    if not isinstance(htm, str):
        raise InvalidDPoPProofError("proof has no 'htm'")
    if not isinstance(htu, str):
        raise InvalidDPoPProofError("proof has no 'htu'")
    if isinstance(iat, bool) or not isinstance(iat, (int, float)):
        raise InvalidDPoPProofError("proof has no numeric 'iat'")
    try:
        issued_at = float(iat)
    except OverflowError:  # a 400-digit integer is valid JSON, but no date
        issued_at = math.inf
    if not math.isfinite(issued_at):
        raise InvalidDPoPProofError("proof 'iat' is out of range")
    return jti, htm, htu, issued_at


def _check_htu(htu: str, url: str) -> None:
    if htu == url:  # the common case: a client names the URI as the server sees it
        return
    try:
        expected = normalize_uri(url)
    except ValueError:
        raise InvalidDPoPProofError("the request URI is not an http(s) URI") from None
    try:
        claimed = normalize_uri(htu)
    except ValueError:
        raise InvalidDPoPProofError("proof 'htu' is not an http(s) URI") from None
    if claimed != expected:
        raise InvalidDPoPProofError("proof 'htu' is not the request URI")


def _check_ath(ath: object, access_token: str) -> None:
    if not isinstance(ath, str):
        raise InvalidDPoPProofError("proof has no 'ath' although an access token is presented")
    expected = access_token_hash(access_token)
    if not hmac.compare_digest(_utf8(ath), expected.encode("ascii")):
        raise InvalidDPoPProofError("proof 'ath' is not the hash of the access token")


def _import_key(header: dict[str, Any]) -> VerificationKey:
    """The public key of the proof's `jwk` header (section 4.3 item 7: no private members)."""
    jwk = header.get("jwk")
    if not isinstance(jwk, dict):
        raise InvalidDPoPProofError("proof header has no 'jwk' object")
    if any(member in jwk for member in _PRIVATE_MEMBERS):
        raise InvalidDPoPProofError("proof 'jwk' holds a private or symmetric key")
    try:
        return import_jwk(jwk)  # public members only; symmetric keys and short RSA keys refused
    except KeyRejectedError as error:
        raise InvalidDPoPProofError(f"proof 'jwk' is not usable: {error}") from None


async def _record(store: ReplayStore, jkt: str, jti: str, expires_at: float) -> None:
    """Record the proof in the replay store (section 4.3 item 3's `jti`, section 11.1).

    Keyed by the proof key's thumbprint and the `jti`, hashed to a fixed length: a replayed
    proof has both, while one client's `jti` values can never collide with another's. The
    issuer plays no part: a proof belongs to a client key, whichever server issued its token.
    """
    key = hashlib.sha256(_utf8(f"{jkt}.{jti}")).digest()
    try:
        new = await store.add(base64.urlsafe_b64encode(key).rstrip(b"=").decode("ascii"), expires_at)
    except ReplayStoreUnavailableError:
        raise
    except Exception as error:  # noqa: BLE001 - a proof that cannot be checked is refused, never a 500
        raise ReplayStoreUnavailableError(f"replay store failed: {type(error).__name__}") from None
    if not new:
        raise ReplayedDPoPProofError("proof 'jti' was already used")


def _utf8(text: str) -> bytes:
    # JSON may carry lone surrogates ("\ud800"): encoded as they are, never an exception.
    return text.encode("utf-8", "surrogatepass")
