"""Strict parsing of a compact JWS (RFC 7515 section 7.1) before anything is trusted.

Parsing is done once per new token; the verifier then works on the decoded parts. It is on
the path of every token not yet cached, so it works on bytes with C-level helpers (one
`translate` per part instead of a regular expression, `binascii` without the `base64`
wrappers) and remembers the few distinct headers an issuer uses (`_header`).
"""

from __future__ import annotations

import binascii
import functools
import json
from typing import Any, Final, NamedTuple

from ._errors import DisallowedAlgorithmError, MalformedTokenError, UnsupportedTokenError

__all__ = ["UnverifiedToken", "loads_strict", "parse_token"]

_ALPHABET: Final = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
# The 6-bit value of each base64url character, by byte value.
_SEXTETS: Final = {character: value for value, character in enumerate(_ALPHABET)}
_TO_STANDARD: Final = bytes.maketrans(b"-_", b"+/")
_PADDING: Final = (b"", b"", b"==", b"=")
# Header parameters that point at keys elsewhere or carry one: never followed or trusted
# (RFC 8725 section 3.10 and section 2.4 "key substitution").
_KEY_REFERENCES: Final = ("jku", "x5u", "jwk")


class UnverifiedToken(NamedTuple):
    """The decoded parts of a compact JWS; nothing in it is trusted yet. `header` may be
    shared with other tokens of the same header: read it, never change it."""

    header: dict[str, Any]
    claims: dict[str, Any]
    signing_input: bytes
    signature: bytes

    def __repr__(self) -> str:
        return f"UnverifiedToken(alg={self.header.get('alg')!r}, kid={self.header.get('kid')!r})"


def parse_token(token: str, *, max_bytes: int) -> UnverifiedToken:
    """Split and decode a compact JWS, refusing anything malformed or unsupported."""
    if len(token) > max_bytes:
        raise MalformedTokenError(f"token of {len(token)} bytes is larger than {max_bytes}")
    if not token.isascii():
        raise MalformedTokenError("token holds non-ASCII characters")
    data = token.encode("ascii")
    parts = data.split(b".")
    if len(parts) == 5:
        raise UnsupportedTokenError("encrypted tokens (JWE, 5 parts) are not supported")
    if len(parts) != 3:
        raise MalformedTokenError(f"a compact JWS has 3 parts, this token has {len(parts)}")
    header_part, payload_part, signature_part = parts
    header = _header(header_part)
    claims = _json_object(_b64decode(payload_part, "payload"), "payload")
    signature = _b64decode(signature_part, "signature")
    signing_input = data[: len(header_part) + 1 + len(payload_part)]
    return UnverifiedToken(header, claims, signing_input, signature)


# Bounded, least recently used first out: a flood of distinct headers costs memory for at most
# 256 of them. Refused headers are not remembered (an exception is never cached).
@functools.lru_cache(maxsize=256)
def _header(part: bytes) -> dict[str, Any]:
    """The decoded and checked header of its encoded form. An issuer signs every token with
    the same few headers (alg, typ, kid), so a new token usually needs only its payload
    decoded (what this saves: benchmarks/RESULTS.md, "Speed tricks"). The same dict is shared
    by every token of that header: read it, never change it."""
    header = _json_object(_b64decode(part, "header"), "header")
    check_header(header)
    return header


def check_header(header: dict[str, Any]) -> None:
    """Refuse header parameters this verifier does not or must not act upon."""
    alg = header.get("alg")
    if not isinstance(alg, str):
        raise MalformedTokenError("header has no 'alg' string")
    if alg.lower() == "none":  # RFC 8725 section 3.2
        raise DisallowedAlgorithmError("unsigned tokens (alg 'none') are never accepted")
    if "crit" in header:  # RFC 7515 section 4.1.11: no extension is understood here
        raise UnsupportedTokenError("header lists critical extensions ('crit'), none of which are supported")
    if "b64" in header:  # RFC 7797: unencoded payloads are not access tokens
        raise UnsupportedTokenError("header parameter 'b64' (RFC 7797) is not supported")
    for name in _KEY_REFERENCES:
        if name in header:
            raise UnsupportedTokenError(f"header parameter {name!r} is never followed or trusted")
    for name in ("kid", "typ", "cty"):
        if name in header and not isinstance(header[name], str):
            raise MalformedTokenError(f"header parameter {name!r} is not a string")


def loads_strict(data: bytes) -> Any:
    """Parse JSON as JOSE requires: UTF-8 only, no duplicate member names, no NaN/Infinity."""
    try:
        return _DECODER.decode(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise ValueError(f"invalid JSON: {error}") from None


def _b64decode(part: bytes, what: str) -> bytes:
    """Decode unpadded base64url strictly (RFC 7515 section 2): no padding, no stray bits."""
    remainder = len(part) % 4
    # Deleting every base64url character must leave nothing (no "=", "+", "/" or space).
    if not part or remainder == 1 or part.translate(None, _ALPHABET):
        raise MalformedTokenError(f"{what} is not base64url")
    if remainder and _SEXTETS[part[-1]] & (0x0F if remainder == 2 else 0x03):
        raise MalformedTokenError(f"{what} is not canonical base64url")
    try:
        return binascii.a2b_base64(part.translate(_TO_STANDARD) + _PADDING[remainder])
    except binascii.Error:  # pragma: no cover - excluded by the checks above
        raise MalformedTokenError(f"{what} is not base64url") from None


def _json_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = loads_strict(data)
    except ValueError as error:
        raise MalformedTokenError(f"{what} is not valid JSON ({error})") from None
    if not isinstance(value, dict):
        raise MalformedTokenError(f"{what} is not a JSON object")
    return value


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # RFC 7515 section 5.2 and RFC 8725 section 3.11: duplicate member names are refused,
    # since parsers disagree on which one wins.
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate member name")
    return result


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_DECODER: Final = json.JSONDecoder(object_pairs_hook=_unique_members, parse_constant=_no_constant)
