"""Rendering the command line's results for people (`--json` prints the same results as JSON)."""

from __future__ import annotations

import json
import textwrap
from typing import Any, Final

from .._algorithms import ASYMMETRIC_ALGORITHMS

__all__ = ["format_decoded", "format_keys", "format_verdict"]

#: Short names of refusal reasons (`AuthError.reason`) for the result line.
REASON_LABELS: Final = {
    "malformed": "malformed token",
    "unsupported": "unsupported token",
    "algorithm": "algorithm not allowed",
    "issuer": "untrusted issuer",
    "unknown_key": "unknown key",
    "signature": "signature invalid",
    "expired": "expired",
    "not_yet_valid": "not valid yet",
    "audience": "wrong audience",
    "claims": "invalid claims",
    "invalid": "invalid token",
    "keys_unavailable": "keys unavailable",
    "stale_keys": "keys too old",
}
_NOT_VERIFIED: Final = (
    "NOT VERIFIED: decoded only. Nothing here is checked: not the signature, issuer, audience or times."
)


def format_decoded(result: dict[str, Any]) -> str:
    """`decode`: the token's parts, clearly marked as not verified."""
    lines = [_token_line(result), _NOT_VERIFIED, *_parts(result)]
    refusal = result["refused_before_keys"]
    if refusal is not None:
        label = REASON_LABELS.get(refusal["reason"], refusal["reason"])
        lines += ["", f"jwks-middleware refuses this token before looking at any key ({label}):"]
        lines.append(f"  {refusal['detail']}")
    return "\n".join(lines)


def format_verdict(result: dict[str, Any]) -> str:
    """`verify`: the token's parts, what it was checked against, and the verdict."""
    lines = [_token_line(result), *_parts(result), "", "Checked against"]
    lines.append(f"  issuer      {result['issuer']}")
    lines.append(f"  audience    {_audience(result)}")
    algorithms = result["algorithms"]
    if algorithms == sorted(ASYMMETRIC_ALGORITHMS):
        lines.append("  algorithms  every asymmetric algorithm (RS*, PS*, ES*, EdDSA), bound to the key type")
    else:
        lines.append(f"  algorithms  {', '.join(algorithms)}")
    lines.append(f"  leeway      {result['leeway']:g} s")
    lines.append(f"  keys        {_keys_line(result['keys'])}")
    lines.append("")
    verdict, reason, detail = result["verdict"], result["reason"], result["detail"]
    if verdict == "valid":
        scopes = " ".join(result["scopes"]) or "(none)"
        lines.append(f"VALID  scopes: {scopes}")
        if not result["audience_checked"]:
            lines.append("  but the audience was NOT checked: give --audience to check it as your API would")
    else:
        label = REASON_LABELS.get(reason, reason)
        headline = "REFUSED" if verdict == "refused" else "COULD NOT CHECK"
        lines.append(f"{headline} ({label}): {detail}")
    return "\n".join(lines)


def format_keys(result: dict[str, Any]) -> str:
    """`keys`: each usable key, then the skipped ones with the reason."""
    lines = [f"Issuer  {result['issuer']}", f"JWKS    {result['jwks_uri']}"]
    if result["discovery_url"]:
        lines.append(f"        (from {result['discovery_url']})")
    lines.append(f"Cache   {result['max_age']:g} s (Cache-Control max-age, clamped to 5 min - 24 h)")
    keys, skipped = result["keys"], result["skipped"]
    lines += ["", f"{len(keys)} usable key{'' if len(keys) == 1 else 's'}" + (":" if keys else "")]
    for key in keys:
        lines += ["", *_key_lines(key)]
    if skipped:
        lines += ["", f"{len(skipped)} skipped (the library ignores them):"]
        lines += [f"  kid {_kid(item['kid'])}: {item['reason']}" for item in skipped]
    if not keys:
        lines += ["", "No usable signing key: every token of this issuer would be refused."]
    return "\n".join(lines)


def _key_lines(key: dict[str, Any]) -> list[str]:
    kind = f"RSA {key['size']} bits" if key["kty"] == "RSA" else f"{key['kty']} {key['crv']}"
    if key["alg"]:
        algorithm = f"{key['alg']} (the key's own alg)"
    else:
        algorithm = f"none given; fits {', '.join(key['algorithms'])}"
    lines = [
        f"  kid          {_kid(key['kid'])}",
        f"  type         {kind}",
        f"  alg          {algorithm}",
        f"  use          {key['use'] or '(not given: signing)'}",
        f"  thumbprint   {key['thumbprint']} (RFC 7638, SHA-256)",
    ]
    if key["certificate_expires"]:
        note = " (expired: not enforced, the key still verifies)" if key["certificate_expired"] else ""
        lines.append(f"  certificate  x5c, expires {key['certificate_expires']}{note}")
    return lines


def _token_line(result: dict[str, Any]) -> str:
    token = result["token"]
    return f"Token   {token['length']} characters, sha256 {token['sha256']}... (not shown)"


def _parts(result: dict[str, Any]) -> list[str]:
    lines = ["", "Header", _json_block(result["header"]), "Claims", _json_block(result["claims"])]
    times = result.get("times")
    if times:
        lines.append("Times")
        lines += [f"  {name:<10}{value['utc']} ({value['relative']})" for name, value in times.items()]
    for problem in result["problems"]:
        lines.append(f"Cannot decode: {problem}")
    return lines


def _json_block(value: Any) -> str:
    if value is None:
        return "  (unreadable)"
    return textwrap.indent(json.dumps(value, indent=2, ensure_ascii=False), "  ")


def _audience(result: dict[str, Any]) -> str:
    if result["audience_checked"]:
        return ", ".join(result["audiences"])
    aud = (result["claims"] or {}).get("aud")
    return f"NOT CHECKED (no --audience given; the token's aud is {json.dumps(aud)})"


def _keys_line(keys: dict[str, Any]) -> str:
    if not keys["fetched"]:
        if keys["last_error"]:
            return "could not be loaded (see below)"
        return "not fetched: the token was refused before its key was needed"
    kids = ", ".join(_kid(kid) for kid in keys["key_ids"]) or "no usable key"
    skipped = f"; {len(keys['skipped'])} skipped" if keys["skipped"] else ""
    return f"{keys['jwks_uri']}: {kids}{skipped}"


def _kid(kid: str | None) -> str:
    return "(none)" if kid is None else repr(kid)
