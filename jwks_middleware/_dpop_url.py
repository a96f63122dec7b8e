"""The URI a DPoP proof must name (`htu`, RFC 9449 section 4.3 item 9), and comparing URIs.

`request_url` rebuilds the URI a client requested from an ASGI scope; `normalize_uri` puts a
URI in the form both sides are compared in: syntax-based (RFC 3986 section 6.2.2) and
scheme-based (section 6.2.3) normalization, as RFC 9449 section 4.3 recommends, without
query and fragment.

Where the origin (scheme, host, port) comes from is a security decision. The `Host` header is
never read: it is whatever the client wrote, so trusting it would let a proof made for
another server sharing a token audience be replayed here under that server's name, the very
thing `htu` is there to prevent. The origin is, in order of preference:

1. `public_origin`, configured: the URL clients use, e.g. ``https://api.example.com``;
2. with `trust_forwarded`, the scheme and host a trusted proxy wrote in its `Forwarded`
   (RFC 7239) or `X-Forwarded-Proto` / `X-Forwarded-Host` headers, the last value of each
   (the one the nearest proxy added); only when that proxy sets or overwrites them;
3. the ASGI scope's `scheme` and `server` (the listening socket): right only when clients
   connect straight to this server by that address, as in tests.

WebSocket handshakes are HTTP GET requests (RFC 6455 section 4.1), whose target URI has the
``http``/``https`` scheme (RFC 9110 section 7.1, RFC 8441 section 4): `request_url` gives that
form, and `normalize_uri` maps ``ws``/``wss`` to ``http``/``https`` (RFC 6455 section 3 makes
them the same host, port and path), so a client may sign either spelling.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import Final, Literal
from urllib.parse import quote, quote_from_bytes

from starlette.types import Scope

from ._errors import InvalidDPoPProofError, InvalidRequestError

__all__ = ["ForwardedHeaders", "check_origin", "normalize_uri", "request_url"]

#: Proxy headers `request_url` may be told to trust.
ForwardedHeaders = Literal["forwarded", "x-forwarded"]

_SCHEMES: Final = {"http": "http", "https": "https", "ws": "http", "wss": "https"}
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
_UNRESERVED: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# RFC 3986 section 2: every character a URI may hold (unreserved, reserved, "%").
_URI: Final = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*")
_BAD_PERCENT: Final = re.compile(r"%(?![0-9A-Fa-f]{2})")
_PERCENT: Final = re.compile(r"%([0-9A-Fa-f]{2})")
# RFC 3986 Appendix B, with the authority required (an http(s) URI always has one).
_PARTS: Final = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://([^/?#]*)([^?#]*)(?:\?[^#]*)?(?:#.*)?", re.DOTALL)
# host [ ":" port ], host an IP literal, an IPv4 address or a registered name (section 3.2.2).
_AUTHORITY: Final = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~%!$&'()*+,;=]+)(?::([0-9]*))?")
# Characters kept as they are when a request path is percent-encoded (a path's pchar and "/").
_PATH_SAFE: Final = "/!$&'()*+,;=:@~"
# RFC 7239 section 4: forwarded-pair = token "=" ( token / quoted-string ), ";" or "," between.
_FORWARDED_PAIR: Final = re.compile(r'\s*([^\s=;,"]+)=("(?:[^"\\]|\\.)*"|[^\s;,"]*)\s*([;,]|$)')
_QUOTED_PAIR: Final = re.compile(r"\\(.)")


def normalize_uri(uri: str) -> str:
    """`uri` without query and fragment, normalized for comparison (RFC 3986 sections 6.2.2,
    6.2.3): scheme and host lowercase, default or empty port removed, percent-encodings of
    unreserved characters decoded and the others uppercase, dot segments removed, an empty
    path made "/". Raise ValueError unless it is an absolute http(s) (or ws/wss) URI."""
    if not _URI.fullmatch(uri) or _BAD_PERCENT.search(uri):
        raise ValueError("not a URI")
    parts = _PARTS.fullmatch(uri)
    if parts is None:
        raise ValueError("not an absolute URI with an authority")
    scheme, authority, path = parts.groups()
    scheme = _SCHEMES.get(scheme.lower(), "")
    if not scheme:
        raise ValueError("not an http(s) URI")
    return f"{scheme}://{_normalize_authority(authority, scheme)}{_normalize_path(path)}"


@functools.lru_cache(maxsize=64)
def check_origin(origin: str) -> str:
    """A configured public origin (``https://api.example.com``), normalized; raise ValueError
    if it has anything but a scheme, a host and a port (a trailing "/" is allowed)."""
    if not isinstance(origin, str):
        raise TypeError("the public origin must be a string such as 'https://api.example.com'")
    try:
        normalized = normalize_uri(origin)
    except ValueError as error:
        raise ValueError(f"invalid public origin {origin!r}: {error}") from None
    parts = _PARTS.fullmatch(origin)
    if parts is None or parts.group(3) not in ("", "/") or "?" in origin or "#" in origin:
        raise ValueError(f"the public origin {origin!r} must have no path, query or fragment")
    return normalized[:-1]  # without the "/" path normalization added


def request_url(
    scope: Scope,
    *,
    public_origin: str | None = None,
    trust_forwarded: ForwardedHeaders | None = None,
) -> str:
    """The normalized URI of this request without query, as the client should have put it in
    `htu` (see the module docstring for where the origin comes from).

    Raise `InvalidRequestError` for a malformed trusted proxy header, and
    `InvalidDPoPProofError` when the origin cannot be told (no `server` in the scope).
    """
    path = _request_path(scope)
    if public_origin is not None:
        return check_origin(public_origin) + path
    scheme: str | None = None
    host: str | None = None
    if trust_forwarded == "forwarded":
        element = _last_forwarded_element(_header_values(scope, b"forwarded"))
        scheme, host = element.get("proto"), element.get("host")
    elif trust_forwarded == "x-forwarded":
        scheme = _last_value(_header_values(scope, b"x-forwarded-proto"))
        host = _last_value(_header_values(scope, b"x-forwarded-host"))
    elif trust_forwarded is not None:
        raise ValueError(
            f"trust_forwarded must be 'forwarded', 'x-forwarded' or None, not {trust_forwarded!r}"
        )
    if scheme is None:
        scheme = scope.get("scheme") or ("ws" if scope["type"] == "websocket" else "http")
    http_scheme = _SCHEMES.get(scheme.lower())
    if http_scheme is None:
        raise InvalidRequestError("the forwarded scheme is not http or https")
    if host is None:
        host = _server_authority(scope, http_scheme)
    elif not _AUTHORITY.fullmatch(host):
        raise InvalidRequestError("the forwarded host is not a host name with an optional port")
    return f"{http_scheme}://{_normalize_authority(host, http_scheme)}{path}"


def _request_path(scope: Scope) -> str:
    # ASGI: `raw_path` and `path` both hold the whole path, `root_path` included; the raw
    # form is what the client sent, so "%2F" and "/" stay apart.
    raw_path = scope.get("raw_path")
    if isinstance(raw_path, bytes) and raw_path:
        # Some servers once left the query in `raw_path`; it is never part of `htu`.
        encoded = quote_from_bytes(raw_path.partition(b"?")[0], safe=_PATH_SAFE + "%")
    else:
        encoded = quote(scope["path"], safe=_PATH_SAFE)
    return _normalize_path(encoded)


def _server_authority(scope: Scope, scheme: str) -> str:
    server = scope.get("server")
    # A Unix socket's path (with no port) names no origin; some servers give None for a default port.
    if not server or "/" in server[0]:
        raise InvalidDPoPProofError("the server cannot tell its own origin: configure public_origin")
    host, port = server
    host = f"[{host}]" if ":" in host else host
    return host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"


def _normalize_authority(authority: str, scheme: str) -> str:
    match = _AUTHORITY.fullmatch(authority)
    if match is None:  # userinfo ("@") included: never part of a request's URI (RFC 9110 section 4.2.4)
        raise ValueError("URI authority is not a host with an optional port")
    host, port = match.groups()
    # Case-insensitive once decoded ("%41" is "A"); the hex digits left are then made uppercase.
    host = _normalize_percent(_normalize_percent(host).lower())
    if port and int(port) != _DEFAULT_PORTS[scheme]:
        return f"{host}:{int(port)}"
    return host


def _normalize_path(path: str) -> str:
    path = _normalize_percent(path) or "/"
    return _remove_dot_segments(path) if "." in path else path


def _normalize_percent(text: str) -> str:
    if "%" not in text:
        return text
    return _PERCENT.sub(_percent, text)


def _percent(match: re.Match[str]) -> str:
    character = chr(int(match.group(1), 16))
    return character if character in _UNRESERVED else "%" + match.group(1).upper()


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4 for an absolute path."""
    segments = path.split("/")[1:]
    output: list[str] = []
    for segment in segments:
        if segment == "..":
            if output:
                output.pop()
        elif segment != ".":
            output.append(segment)
    if segments[-1] in (".", ".."):
        output.append("")
    return "/" + "/".join(output)


def _header_values(scope: Scope, name: bytes) -> list[str]:
    return [value.decode("latin-1") for key, value in scope["headers"] if key == name]


def _last_value(values: Iterable[str]) -> str | None:
    # A proxy appends its value to those already sent: the last one is the nearest proxy's.
    items = [item.strip() for value in values for item in value.split(",")]
    return items[-1] if items and items[-1] else None


def _last_forwarded_element(values: list[str]) -> dict[str, str]:
    """The parameters of the last element of `Forwarded` (RFC 7239 section 4)."""
    text = ", ".join(values)
    element: dict[str, str] = {}
    position = 0
    while position < len(text):
        match = _FORWARDED_PAIR.match(text, position)
        if match is None or match.end() == position:
            raise InvalidRequestError("malformed Forwarded header")
        name, value, separator = match.groups()
        if value.startswith('"'):
            value = _QUOTED_PAIR.sub(r"\1", value[1:-1])
        name = name.lower()
        if name in element:  # RFC 7239 section 4: each parameter at most once per element
            raise InvalidRequestError("malformed Forwarded header")
        element[name] = value
        position = match.end()
        if separator == ",":
            element = {}
    return element
