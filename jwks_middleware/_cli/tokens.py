"""What the command line finds out about a token: its decoded parts, and the verifier's verdict.

Results are JSON-ready dictionaries (the `--json` output); `_cli_format` renders them for people.
Nothing here returns or prints the token itself: only its length and a short SHA-256 prefix.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, Final, TextIO

from .._algorithms import ASYMMETRIC_ALGORITHMS
from .._config import DEFAULT_MAX_TOKEN_BYTES
from .._errors import AuthError, KeysUnavailableError, StaleKeysError
from .._issuer import Issuer
from .._jws import parse_token
from .._verify import TokenVerifier

__all__ = ["EXIT_STATUS", "TokenInputError", "decode_token", "read_token", "verify_token"]

#: Exit status of each verdict: valid, refused, could not check.
EXIT_STATUS: Final = {"valid": 0, "refused": 1, "unchecked": 2}
_TIME_CLAIMS: Final = ("iat", "nbf", "exp", "auth_time")


class TokenInputError(ValueError):
    """No usable token was given on the command line or stdin."""


#: More than any token: larger input is refused before it is read whole.
_MAX_INPUT_CHARACTERS = 1024 * 1024


def read_token(argument: str, stdin: TextIO) -> str:
    """The token argument, or stdin when it is `-`; a pasted `Bearer ` prefix is dropped."""
    if argument == "-":
        try:
            text = stdin.read(_MAX_INPUT_CHARACTERS + 1)
        except UnicodeDecodeError:
            raise TokenInputError("the standard input is not text (a token is ASCII)") from None
        if len(text) > _MAX_INPUT_CHARACTERS:
            raise TokenInputError(f"the standard input holds more than {_MAX_INPUT_CHARACTERS} characters")
    else:
        text = argument
    text = text.strip()
    if text[:7].lower() == "bearer ":
        text = text[7:].strip()
    if not text:
        raise TokenInputError("no token given (pass it as an argument, or '-' to read it from stdin)")
    return text


def decode_token(token: str, *, clock: Callable[[], float] = time.time) -> dict[str, Any]:
    """Header and claims, NOT verified; decoded leniently so even refused tokens can be read.

    `problems` lists what stops decoding; `refused_before_keys` says why the library would
    refuse the token before looking at any key (malformed, `alg: none`, `jku`, ...).
    """
    parts = token.split(".")
    result: dict[str, Any] = {"verified": False, "token": fingerprint(token)}
    problems: list[str] = []
    header = _json_part(parts[0], "header", problems)
    claims: dict[str, Any] | None = None
    if len(parts) == 5:
        problems.append("an encrypted token (JWE, 5 parts): its claims cannot be read without the key")
    elif len(parts) != 3:
        problems.append(f"a signed JWT has 3 parts separated by '.', this one has {len(parts)}")
    else:
        claims = _json_part(parts[1], "payload", problems)
    result.update(header=header, claims=claims, problems=problems)
    if claims is not None:
        result["times"] = claim_times(claims, clock())
    try:
        parse_token(token, max_bytes=DEFAULT_MAX_TOKEN_BYTES)
    except AuthError as error:
        result["refused_before_keys"] = {"reason": error.reason, "detail": error.detail}
    else:
        result["refused_before_keys"] = None
    return result


async def verify_token(
    token: str, issuer: Issuer, *, clock: Callable[[], float] = time.time
) -> dict[str, Any]:
    """Verify as the middleware would; the verdict, the precise reason, and what was checked.

    The verdict is "unchecked" only when the answer depended on keys that could not be
    loaded; a token refused by an earlier check (size, header, issuer, time, audience) is
    "refused" even when the issuer cannot be reached, since no key could make it valid.
    """
    result = decode_token(token, clock=clock)
    del result["verified"], result["refused_before_keys"]  # the verdict below says both
    result.update(
        issuer=issuer.issuer,
        audience_checked=issuer.verify_audience,
        audiences=sorted(issuer.audiences),
        algorithms=sorted(issuer.algorithms),
        leeway=issuer.leeway,
    )
    verifier = TokenVerifier([issuer], clock=clock, token_cache_size=0)
    try:
        claims = await verifier.verify(token)
    except (KeysUnavailableError, StaleKeysError) as error:
        result.update(verdict="unchecked", reason=error.reason, detail=error.detail)
    except AuthError as error:
        result.update(verdict="refused", reason=error.reason, detail=_explain(error, result, issuer))
    else:
        result.update(verdict="valid", reason=None, detail="valid", scopes=sorted(claims.scopes))
    finally:
        await verifier.aclose()
    state = verifier.key_store.states()[0]
    loaded = state.last_success is not None or issuer.static_keys is not None
    result["keys"] = {
        "jwks_uri": state.jwks_uri,
        "fetched": loaded,
        "key_ids": list(state.key_ids) if loaded else None,
        "skipped": [{"kid": skipped.kid, "reason": skipped.reason} for skipped in state.skipped],
        "last_error": state.last_error,
    }
    if result["reason"] == "unknown_key" and loaded:
        kids = ", ".join(repr(kid) if kid is not None else "(a key without kid)" for kid in state.key_ids)
        result["detail"] += f" (JWKS has: {kids or 'no usable key'})"
    return result


def fingerprint(token: str) -> dict[str, Any]:
    """How a token is shown: its length and a SHA-256 prefix, never the token itself."""
    return {"length": len(token), "sha256": hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()[:16]}


def claim_times(claims: dict[str, Any], now: float) -> dict[str, dict[str, str]]:
    """The NumericDate claims as UTC times, each relative to now."""
    times = {}
    for name in _TIME_CLAIMS:
        value = claims.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                moment = datetime.fromtimestamp(value, tz=timezone.utc)
            except (OverflowError, OSError, ValueError):
                continue
            times[name] = {"utc": moment.strftime("%Y-%m-%d %H:%M:%S UTC"), "relative": relative(value - now)}
    return times


def relative(seconds: float) -> str:
    """`in 5 min` or `5 min ago`."""
    amount = abs(int(seconds))
    if amount < 120:
        text = f"{amount} s"
    elif amount < 7200:
        text = f"{amount // 60} min"
    elif amount < 2 * 86400:
        text = f"{amount // 3600} h"
    else:
        text = f"{amount // 86400} days"
    return f"in {text}" if seconds >= 0 else f"{text} ago"


def _explain(error: AuthError, result: dict[str, Any], issuer: Issuer) -> str:
    """The verifier's detail, completed with what only the command line knows."""
    header, claims = result["header"] or {}, result["claims"] or {}
    detail = error.detail
    if error.reason == "issuer":
        iss = claims.get("iss")
        if not isinstance(iss, str):
            return "token has no 'iss' claim; a token must name its issuer"
        hint = (
            " (they differ only by a trailing slash)" if iss.rstrip("/") == issuer.issuer.rstrip("/") else ""
        )
        return f"token iss {iss!r} is not the trusted issuer {issuer.issuer!r}{hint}; iss must match exactly"
    if error.reason == "algorithm" and header.get("alg") not in issuer.algorithms:
        if issuer.algorithms == frozenset(ASYMMETRIC_ALGORITHMS):
            allowed = "the asymmetric ones (RS*, PS*, ES*, EdDSA)"
        else:
            allowed = ", ".join(sorted(issuer.algorithms))
        if str(header.get("alg")).upper().startswith("HS"):
            allowed += "; HS* needs a shared secret and is never verified with keys from a URL"
        return f"{detail}; allowed: {allowed}"
    if error.reason == "signature" and isinstance(header.get("kid"), str):
        return f"{detail} {header['kid']!r}: the token was changed or signed by another key"
    return detail


def _json_part(part: str, what: str, problems: list[str]) -> dict[str, Any] | None:
    try:
        raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        value = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, RecursionError):
        problems.append(f"the {what} is not base64url-encoded JSON")
        return None
    if not isinstance(value, dict):
        problems.append(f"the {what} is not a JSON object")
        return None
    return value
