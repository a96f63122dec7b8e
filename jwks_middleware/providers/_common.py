"""What every preset shares: the `Issuer` options it passes through and checks of its arguments."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Final, TypedDict
from urllib.parse import urlsplit

import httpx

from .._issuer import ClaimPath, FetchHeaders, Issuer
from .._urls import check_fetch_url


class IssuerOptions(TypedDict, total=False):
    """`Issuer` options every preset passes through (see `Issuer` for each one)."""

    jwks_uri: str | None
    discovery_url: str | None
    jwks: Mapping[str, Any] | None
    public_key: str | bytes | None
    algorithms: Iterable[str] | None
    leeway: float
    token_types: Iterable[str] | None
    access_token_profile: bool
    required_claims: Iterable[str]
    claim_values: Mapping[str, str | Iterable[str]] | None
    scope_claims: Iterable[ClaimPath]
    role_claims: Iterable[ClaimPath]
    fetch_headers: FetchHeaders | None
    max_stale: float
    refresh_cooldown: float
    max_keys: int
    max_document_bytes: int
    timeout: httpx.Timeout | float
    fetch_deadline: float
    max_refresh_interval: float
    allow_http: bool


_OPTIONS: Final = frozenset(IssuerOptions.__annotations__)
_KEY_SOURCES: Final = ("jwks_uri", "discovery_url", "jwks", "public_key")
_MERGED: Final = ("claim_values", "fetch_headers")
#: One label of a host name, in lower case.
DNS_LABEL: Final = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST: Final = re.compile(rf"{DNS_LABEL}(?:\.{DNS_LABEL})+")


def preset_issuer(iss: str, preset: Mapping[str, Any], options: Mapping[str, Any]) -> Issuer:
    """The preset's `Issuer` arguments, overridden or extended by the caller's options."""
    unknown = sorted(set(options) - _OPTIONS)
    if unknown:
        raise TypeError(f"unexpected Issuer options: {', '.join(unknown)}")
    given = {name: value for name, value in options.items() if value is not None}
    arguments = dict(preset)
    if any(name in given for name in _KEY_SOURCES):
        for name in _KEY_SOURCES:
            arguments.pop(name, None)
    for name, value in given.items():
        if name in _MERGED:
            preset_value = arguments.get(name, {})
            if callable(preset_value) or callable(value):
                raise ValueError(f"this preset makes its own {name}; it cannot be combined with yours")
            # The preset's claim checks are what binds tokens to you: add to them, never replace.
            clash = sorted(set(preset_value) & set(value)) if name == "claim_values" else []
            if clash:
                raise ValueError(f"this preset already checks {', '.join(clash)}; use its own parameters")
            value = {**preset_value, **value}
        arguments[name] = value
    return Issuer(iss, **arguments)


def host_name(value: object, what: str, example: str) -> str:
    """A host name as providers print it: no scheme, no path, no port."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must be a host name such as {example!r}")
    if "://" in value:
        raise ValueError(f"give {what} without a scheme, e.g. {example!r}, not {value!r}")
    host = value.lower()
    if len(host) > 253 or not _HOST.fullmatch(host):
        raise ValueError(f"{what} must be a host name such as {example!r}, not {value!r}")
    return host


def base_url(value: object, what: str, example: str, *, allow_path: bool, allow_http: bool = False) -> str:
    """An https URL (http only on loopback, or anywhere with `allow_http`), without a trailing
    slash, query or fragment."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must be a URL such as {example!r}")
    try:
        parts = urlsplit(value)
        check_fetch_url(value, allow_http=allow_http)
    except ValueError as error:
        opt_in = " (or opt in to plain http with allow_http=True)" if "allow_http" in str(error) else ""
        raise ValueError(f"{what} must be an https URL such as {example!r}{opt_in}, not {value!r}") from None
    path = parts.path.rstrip("/")
    if parts.query or parts.fragment or "@" in parts.netloc or (path and not allow_path):
        raise ValueError(f"{what} must be a URL such as {example!r}, not {value!r}")
    return f"{parts.scheme}://{parts.netloc.lower()}{path}"


def name_list(value: str | Iterable[str], what: str) -> list[str]:
    """A string or a list of strings, as a non-empty list of non-empty strings."""
    names = [value] if isinstance(value, str) else list(value)
    if not all(isinstance(name, str) for name in names):
        raise TypeError(f"{what} must be a string or a list of strings")
    if not names or not all(names):
        raise ValueError(f"{what} must be a non-empty string or a list of them")
    return names
