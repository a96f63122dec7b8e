"""Which URLs keys, metadata and introspection answers may be fetched from."""

from __future__ import annotations

import ipaddress
from typing import Final
from urllib.parse import urlsplit

__all__ = ["check_fetch_url", "is_loopback"]

_LOOPBACK_HOSTS: Final = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


def check_fetch_url(url: str, *, allow_http: bool = False) -> None:
    """Refuse URLs keys may not be fetched from: only https, or http on a loopback host (or on
    any host when the issuer opted in with `allow_http=True`)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        raise ValueError(f"invalid URL: {url!r}") from None
    if parts.scheme == "https" and host:
        return
    if parts.scheme == "http" and host and (allow_http or is_loopback(host)):
        return
    # RFC 8414 section 2: the jwks_uri MUST use https (so must the issuer, OpenID Connect
    # Discovery 1.0 section 4): keys decide trust. Plain http only where nobody else is on the
    # path (loopback), or by the operator's explicit choice for a private network.
    opt_in = (
        "; on a private network (e.g. http://keycloak:8080), opt in with Issuer(..., allow_http=True)"
        if parts.scheme == "http" and host
        else ""
    )
    raise ValueError(
        f"keys are only fetched over https (or http on a loopback host), not from {url!r}{opt_in}"
    )


def is_loopback(host: str) -> bool:
    """Whether `host` names this machine (a loopback name or address)."""
    if host in _LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
