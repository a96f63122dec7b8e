"""Checks of an issuer's policy against a token's header and claims (RFC 7519 section 4.1)."""

from __future__ import annotations

import math
from typing import Any, Final

from ._errors import (
    DisallowedAlgorithmError,
    ExpiredTokenError,
    ImmatureTokenError,
    InvalidAudienceError,
    InvalidClaimError,
    InvalidTokenError,
    KeyBoundTokenError,
    UnboundTokenError,
)
from ._issuer import Issuer

__all__ = ["check_bearer", "check_claims", "check_header_policy", "numeric_date"]

# What `cnf` members bind a token to, for the refusal's detail.
_BINDINGS: Final = {"jkt": "a DPoP key, RFC 9449", "x5t#S256": "a client certificate, RFC 8705"}


def check_header_policy(header: dict[str, Any], issuer: Issuer) -> None:
    """The algorithm and token type this issuer accepts."""
    alg = header["alg"]
    if alg not in issuer.algorithms:
        raise DisallowedAlgorithmError(f"alg {_short(alg)} is not allowed for this issuer")
    typ = header.get("typ")
    if typ is None:
        if issuer.access_token_profile:  # RFC 9068 section 2.1
            raise InvalidTokenError("token has no 'typ'; this issuer requires 'at+jwt'")
    elif typ.lower() not in issuer.token_types:
        raise InvalidTokenError(f"token type {_short(typ)} is not accepted")


def check_claims(claims: dict[str, Any], issuer: Issuer, now: float) -> tuple[float, float | None]:
    """Time, issuer, audience and required claims; raise an InvalidTokenError subclass.

    Return `exp` and `nbf` (None when absent), which bound how long the verdict holds.
    """
    leeway = issuer.leeway
    exp = numeric_date(claims, "exp")
    if exp is None:  # required here although optional in RFC 7519 section 4.1.4
        raise InvalidClaimError("token has no 'exp' claim")
    if now >= exp + leeway:  # RFC 7519 section 4.1.4: now must be *before* exp
        raise ExpiredTokenError(f"token expired {_ago(now - exp)} ago")
    nbf = numeric_date(claims, "nbf")
    if nbf is not None and now + leeway < nbf:  # RFC 7519 section 4.1.5
        raise ImmatureTokenError(f"token is not valid for another {_ago(nbf - now)}")
    iat = numeric_date(claims, "iat")
    if iat is not None and now + leeway < iat:  # RFC 7519 section 4.1.6
        raise ImmatureTokenError(f"token was issued {_ago(iat - now)} in the future")
    iss = claims.get("iss")
    if iss != issuer.issuer and iss not in issuer.aliases:  # RFC 7519 section 4.1.1, exact match
        raise InvalidClaimError("token 'iss' does not match the issuer")
    if issuer.verify_audience:
        _check_audience(claims.get("aud"), issuer)
    if issuer.required_claims:
        for name in sorted(issuer.required_claims):
            if claims.get(name) is None:
                raise InvalidClaimError(f"token has no {name!r} claim")
    for name, accepted in issuer.claim_values.items():
        _check_value(claims, name, accepted)
    return exp, nbf


def check_bearer(claims: dict[str, Any], issuer: Issuer) -> None:
    """Refuse a token bound to a key: presented as a bearer token, nobody proved holding it;
    and any token of an issuer whose tokens must be bound (`dpop` or `certificate_bound`
    ``"required"``).

    RFC 9449 section 7.2 (a DPoP-bound token, `cnf.jkt`, sent with the Bearer scheme) and
    RFC 8705 section 3 (a certificate-bound token, `cnf.x5t#S256`, without that certificate).
    Any other confirmation method (RFC 7800 `cnf`: `jwk`, `kid`, ...) binds the token just
    the same, and no proof of any kind is checked here: one rule, every `cnf` is refused.
    """
    if "cnf" in claims:
        cnf = claims["cnf"]
        methods = sorted(cnf) if isinstance(cnf, dict) else []
        bound_to = ", ".join(_BINDINGS.get(name, f"{_short(name)}, RFC 7800") for name in methods)
        raise KeyBoundTokenError(
            f"token is bound to a key ({bound_to or 'cnf'}); no proof of possession was sent"
        )
    if issuer.dpop == "required" or issuer.certificate_bound == "required":
        raise UnboundTokenError("token is not bound to a key, and its issuer requires bound tokens")


def numeric_date(claims: dict[str, Any], name: str) -> float | None:
    """A NumericDate claim (RFC 7519 section 2), None when absent; `null`, a string or a
    boolean is no NumericDate and is refused, never taken for an absent claim."""
    if name not in claims:
        return None
    value = claims[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidClaimError(f"claim {name!r} is not a number")
    try:
        number = float(value)
    except OverflowError:  # a 400-digit integer is valid JSON, but no date
        number = math.inf
    if not math.isfinite(number):  # checked before the signature: refuse, never crash
        raise InvalidClaimError(f"claim {name!r} is out of range")
    return number


def _check_audience(aud: object, issuer: Issuer) -> None:
    # RFC 7519 section 4.1.3: the token must name this API among its audiences.
    if isinstance(aud, str):
        if aud in issuer.audiences:  # the common case, without building a set
            return
        audiences = {aud}
    elif isinstance(aud, list) and all(isinstance(item, str) for item in aud):
        audiences = set(aud)
    elif aud is None:
        raise InvalidAudienceError("token has no 'aud' claim")
    else:
        raise InvalidAudienceError("token 'aud' is not a string or a list of strings")
    if audiences.isdisjoint(issuer.audiences):
        raise InvalidAudienceError(f"audience {_short(sorted(audiences))} not in {sorted(issuer.audiences)}")


def _check_value(claims: dict[str, Any], name: str, accepted: frozenset[str]) -> None:
    value = claims.get(name)
    if isinstance(value, str):
        found = {value}
    elif isinstance(value, list):
        found = {item for item in value if isinstance(item, str)}
    else:
        raise InvalidClaimError(f"token has no {name!r} claim")
    if found.isdisjoint(accepted):
        raise InvalidClaimError(f"claim {name!r} is {_short(value)}, expected one of {sorted(accepted)}")


def _ago(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
