"""OAuth 2.0 Protected Resource Metadata (RFC 9728): the document, its URL, its challenge.

A client that is refused finds, in the `WWW-Authenticate` challenge, where this API's metadata
lives (`resource_metadata="..."`, RFC 9728 section 5.1); the metadata names the authorization
servers that issue tokens for it, the scopes it knows and how tokens may be presented. MCP
clients require this to find where to get a token.

Wiring it into a middleware takes a few lines (nothing here depends on the middleware)::

    # at construction (RFC 8707; `issuers_for_resource` is in `_resource_audience`):
    issuers = issuers_for_resource(issuers, metadata.resource)
    # first thing for an `http` scope, before any token is looked at (CORS preflights too):
    if scope["path"] == metadata.well_known_path:
        await metadata(scope, receive, send)
        return
    # in every 401 and 403 `Bearer` challenge, after the RFC 6750 parameters:
    params.append(metadata.challenge_parameter)

`ResourceMetadataMiddleware` does the second in front of any ASGI app.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from ._algorithms import ASYMMETRIC_ALGORITHMS
from ._resource_audience import resource_audiences
from ._urls import is_loopback

__all__ = [
    "DEFAULT_METADATA_MAX_AGE",
    "WELL_KNOWN_PREFIX",
    "ResourceMetadata",
    "ResourceMetadataMiddleware",
    "challenge_parameter",
    "metadata_url",
    "well_known_path",
]

#: RFC 9728 section 3: the well-known URI suffix of protected resource metadata.
WELL_KNOWN_PREFIX: Final = "/.well-known/oauth-protected-resource"
#: `Cache-Control: max-age` of the served document, in seconds (what the MCP SDK sends).
DEFAULT_METADATA_MAX_AGE: Final = 3600
#: RFC 6750 section 2: how a bearer token may be sent (RFC 9728 `bearer_methods_supported`).
BEARER_METHODS: Final = frozenset({"header", "body", "query"})

# RFC 3986 section 2: the characters of a URI. Anything else (quotes, spaces, controls,
# non-ASCII) is refused, so a URL is safe inside a quoted challenge parameter and in JSON.
_URI: Final = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
# RFC 6749 section 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).
_SCOPE_TOKEN: Final = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")
_ALLOWED_METHODS: Final = b"GET, HEAD, OPTIONS"


@dataclass(frozen=True, init=False)
class ResourceMetadata:
    """The RFC 9728 metadata of one protected resource, checked when made (`ValueError`).

    `resource` is the resource identifier: the URL clients call (for an MCP server, its
    endpoint, e.g. ``https://mcp.example.com/mcp``), https (http only on a loopback host),
    with no fragment, query or user info, scheme and host in lower case. It is published
    exactly as given: a client checks that it equals the URL it asked about (section 3.3).

    Also an ASGI app serving the document (GET and HEAD; OPTIONS for CORS preflights; other
    methods 405), to mount at `well_known_path`: ``Route(metadata.well_known_path, metadata)``.
    Every answer allows any origin (``Access-Control-Allow-Origin: *``): browser-based MCP
    clients read it from another origin, and it carries nothing secret.
    """

    resource: str
    authorization_servers: tuple[str, ...]
    scopes_supported: tuple[str, ...]
    bearer_methods_supported: tuple[str, ...]
    dpop_signing_alg_values_supported: tuple[str, ...]
    dpop_bound_access_tokens_required: bool
    tls_client_certificate_bound_access_tokens: bool
    resource_name: str | None
    resource_documentation: str | None
    resource_policy_uri: str | None
    resource_tos_uri: str | None
    cache_max_age: int
    # Made once: the wiring reads them on every request.
    _body: bytes = field(init=False, repr=False, compare=False)
    _path: str = field(init=False, repr=False, compare=False)
    _challenge: str = field(init=False, repr=False, compare=False)
    _audiences: frozenset[str] = field(init=False, repr=False, compare=False)

    def __init__(
        self,
        resource: str,
        *,
        authorization_servers: Iterable[str] = (),
        scopes_supported: Iterable[str] = (),
        bearer_methods_supported: Iterable[str] = ("header",),
        dpop_signing_alg_values_supported: Iterable[str] = (),
        dpop_bound_access_tokens_required: bool = False,
        tls_client_certificate_bound_access_tokens: bool = False,
        resource_name: str | None = None,
        resource_documentation: str | None = None,
        resource_policy_uri: str | None = None,
        resource_tos_uri: str | None = None,
        cache_max_age: int = DEFAULT_METADATA_MAX_AGE,
    ) -> None:
        # RFC 9728 section 1.2 and RFC 8707 section 2: an absolute https URL, no fragment.
        _check_url(resource, "resource")
        servers = tuple(dict.fromkeys(_strings(authorization_servers, "authorization_servers")))
        for server in servers:
            # RFC 9728 section 2: issuer identifiers (RFC 8414 section 2: https, no query or fragment).
            _check_url(server, "authorization server")
        scopes = tuple(dict.fromkeys(_strings(scopes_supported, "scopes_supported")))
        if bad := [scope for scope in scopes if not _SCOPE_TOKEN.fullmatch(scope)]:
            raise ValueError(f"not an RFC 6749 section 3.3 scope token: {bad[0]!r}")
        methods = tuple(dict.fromkeys(_strings(bearer_methods_supported, "bearer_methods_supported")))
        if unknown := set(methods) - BEARER_METHODS:
            raise ValueError(f"bearer methods are header, body or query (RFC 6750), not {sorted(unknown)}")
        algorithms = tuple(dict.fromkeys(_strings(dpop_signing_alg_values_supported, "dpop algorithms")))
        if refused := set(algorithms) - set(ASYMMETRIC_ALGORITHMS):
            # RFC 9449 section 4.2: DPoP proofs use asymmetric algorithms only.
            raise ValueError(f"DPoP proofs need asymmetric algorithms, not {sorted(refused)}")
        if dpop_bound_access_tokens_required and not algorithms:
            raise ValueError("dpop_bound_access_tokens_required needs dpop_signing_alg_values_supported")
        if resource_name is not None and (not isinstance(resource_name, str) or not resource_name.strip()):
            raise ValueError("resource_name must be a non-empty string")
        for name, url in (
            ("resource_documentation", resource_documentation),
            ("resource_policy_uri", resource_policy_uri),
            ("resource_tos_uri", resource_tos_uri),
        ):
            if url is not None:
                _check_url(url, name, allow_query=True)
        if isinstance(cache_max_age, bool) or not isinstance(cache_max_age, int) or cache_max_age < 0:
            raise ValueError("cache_max_age must be a number of seconds >= 0")
        values: dict[str, Any] = {
            "resource": resource,
            "authorization_servers": servers,
            "scopes_supported": scopes,
            "bearer_methods_supported": methods,
            "dpop_signing_alg_values_supported": algorithms,
            "dpop_bound_access_tokens_required": bool(dpop_bound_access_tokens_required),
            "tls_client_certificate_bound_access_tokens": bool(tls_client_certificate_bound_access_tokens),
            "resource_name": resource_name,
            "resource_documentation": resource_documentation,
            "resource_policy_uri": resource_policy_uri,
            "resource_tos_uri": resource_tos_uri,
            "cache_max_age": cache_max_age,
        }
        for name, value in values.items():
            object.__setattr__(self, name, value)
        object.__setattr__(self, "_body", json.dumps(self.document(), separators=(",", ":")).encode())
        object.__setattr__(self, "_path", well_known_path(resource))
        object.__setattr__(self, "_challenge", challenge_parameter(metadata_url(resource)))
        object.__setattr__(self, "_audiences", resource_audiences(resource))

    def document(self) -> dict[str, Any]:
        """The metadata as JSON members (RFC 9728 section 2); empty and default members left out,
        except `bearer_methods_supported`, where an empty list says "no bearer token"."""
        members: dict[str, Any] = {"resource": self.resource}
        lists = (
            ("authorization_servers", self.authorization_servers),
            ("scopes_supported", self.scopes_supported),
        )
        members.update((name, list(values)) for name, values in lists if values)
        members["bearer_methods_supported"] = list(self.bearer_methods_supported)
        if self.dpop_signing_alg_values_supported:
            members["dpop_signing_alg_values_supported"] = list(self.dpop_signing_alg_values_supported)
        if self.dpop_bound_access_tokens_required:
            members["dpop_bound_access_tokens_required"] = True
        if self.tls_client_certificate_bound_access_tokens:
            members["tls_client_certificate_bound_access_tokens"] = True
        optional = (
            ("resource_name", self.resource_name),
            ("resource_documentation", self.resource_documentation),
            ("resource_policy_uri", self.resource_policy_uri),
            ("resource_tos_uri", self.resource_tos_uri),
        )
        members.update((name, value) for name, value in optional if value is not None)
        return members

    @property
    def well_known_path(self) -> str:
        """The path the document is served at (see `well_known_path()`)."""
        return self._path

    @property
    def url(self) -> str:
        """The document's URL, for the `resource_metadata` challenge parameter."""
        return metadata_url(self.resource)

    @property
    def challenge_parameter(self) -> str:
        """``resource_metadata="<url>"``: the parameter every 401 challenge carries (section 5.1)."""
        return self._challenge

    @property
    def audiences(self) -> frozenset[str]:
        """The `aud` values a token for this resource may carry (see `resource_audiences()`)."""
        return self._audiences

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # a WebSocket handshake to a document: refused
            await send({"type": "websocket.close", "code": 1008})
            return
        method = scope["method"]
        cors = [(b"access-control-allow-origin", b"*")]
        if method in ("GET", "HEAD"):
            status, body = 200, self._body
            headers = [
                (b"content-type", b"application/json"),
                (b"cache-control", b"public, max-age=%d" % self.cache_max_age),
                *cors,
            ]
        elif method == "OPTIONS":  # a CORS preflight (Fetch standard): any request header
            status, body = 204, b""
            headers = [
                (b"allow", _ALLOWED_METHODS),
                *cors,
                (b"access-control-allow-methods", _ALLOWED_METHODS),
                (b"access-control-allow-headers", b"*"),
                (b"access-control-max-age", b"%d" % self.cache_max_age),
            ]
        else:
            status, body = 405, b""
            headers = [(b"allow", _ALLOWED_METHODS), *cors]
        if status != 204:
            headers.append((b"content-length", b"%d" % len(body)))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})


class ResourceMetadataMiddleware:
    """Serves `metadata` at its well-known path in front of any ASGI app, before anything
    else (no authentication); every other request goes to `app` untouched."""

    def __init__(self, app: ASGIApp, *, metadata: ResourceMetadata) -> None:
        self.app = app
        self.metadata = metadata
        self._path = metadata.well_known_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == self._path:
            await self.metadata(scope, receive, send)
            return
        await self.app(scope, receive, send)


def well_known_path(resource: str) -> str:
    """The path of a resource's metadata (RFC 9728 section 3.1): the well-known suffix
    inserted between the host and the resource's path; a lone trailing ``/`` is dropped.

    ``https://api.example.com`` -> ``/.well-known/oauth-protected-resource``;
    ``https://api.example.com/mcp`` -> ``/.well-known/oauth-protected-resource/mcp``.
    """
    path = urlsplit(resource).path
    return WELL_KNOWN_PREFIX if path in ("", "/") else WELL_KNOWN_PREFIX + path


def metadata_url(resource: str) -> str:
    """The URL of a resource's metadata document, on the resource's own origin (section 3.1)."""
    parts = urlsplit(resource)
    return f"{parts.scheme}://{parts.netloc}{well_known_path(resource)}"


def challenge_parameter(url: str) -> str:
    """``resource_metadata="<url>"`` for a `WWW-Authenticate` challenge (RFC 9728 section 5.1).

    The URL must be made of RFC 3986 characters only, so nothing can end the quoted string
    or the header early; anything else raises `ValueError`.
    """
    if not isinstance(url, str) or not _URI.fullmatch(url):
        raise ValueError("a resource metadata URL must be made of URI characters (RFC 3986)")
    return f'resource_metadata="{url}"'


def _check_url(url: object, what: str, *, allow_query: bool = False) -> None:
    """https (http on a loopback host), a host, URI characters only, no user info or fragment."""
    if not isinstance(url, str) or not _URI.fullmatch(url):
        raise ValueError(f"the {what} must be a URL made of URI characters (RFC 3986), not {url!r}")
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - raises for a port that is not a number from 0 to 65535
    except ValueError:
        raise ValueError(f"the {what} has an invalid port: {url!r}") from None
    scheme, host = parts.scheme, parts.hostname or ""
    if not (scheme == "https" and host) and not (scheme == "http" and is_loopback(host)):
        raise ValueError(f"the {what} must be an https URL (http only on a loopback host), not {url!r}")
    if "@" in parts.netloc or "#" in url or ("?" in url and not allow_query):
        forbidden = "user info or fragment" if allow_query else "user info, query or fragment"
        raise ValueError(f"the {what} must have no {forbidden}, not {url!r}")
    if not url.startswith(scheme) or parts.netloc != parts.netloc.lower():
        # Clients compare identifiers as strings (RFC 9728 section 3.3), and MCP clients send
        # the lower-case form as the RFC 8707 `resource`, which becomes the token's `aud`.
        raise ValueError(f"write the {what} with a lower-case scheme and host, not {url!r}")


def _strings(values: Iterable[str], what: str) -> list[str]:
    if isinstance(values, (str, bytes)):
        raise TypeError(f"{what} must be a list of strings, not one string")
    result = list(values)
    if not all(isinstance(value, str) and value for value in result):
        raise TypeError(f"{what} must hold non-empty strings")
    return result
