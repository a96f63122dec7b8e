"""Clerk: session tokens, bound to the app's origins by `azp`."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .._issuer import Issuer
from ._common import IssuerOptions, base_url, host_name, name_list, preset_issuer

if TYPE_CHECKING:
    from typing_extensions import Unpack


def clerk(
    frontend_api: str | None = None,
    *,
    authorized_parties: Iterable[str] | None,
    publishable_key: str | None = None,
    audience: str | Iterable[str] | None = None,
    **options: Unpack[IssuerOptions],
) -> Issuer:
    """Clerk session tokens, bound to your app's origins by `azp` instead of `aud`.

    The instance is named by its Frontend API URL (`frontend_api`, `https://clerk.example.com`
    or just the host) or by its publishable key (`pk_live_...`, which encodes it); `iss` is
    that URL. Keys come from `{frontend_api}/.well-known/jwks.json`, or, networkless, from
    `public_key`: the JWT public key of the dashboard (`CLERK_JWT_KEY`, PEM with or without
    its header and footer). `authorized_parties` lists the origins (`https://app.example.com`)
    allowed in `azp`; a token without `azp` is then refused (stricter than Clerk's SDK). Pass
    `authorized_parties=None` to skip the check. Session tokens carry no `aud`; give `audience`
    only for JWT templates that set one. Roles: the organization role (`o.rol`, `org_role`).
    """
    if publishable_key is not None:
        if frontend_api is not None:
            raise ValueError("give the Frontend API URL or the publishable key, not both")
        frontend_api = _clerk_frontend_api(publishable_key)
    elif frontend_api is None:
        raise ValueError("give the Frontend API URL (frontend_api=...) or the publishable key")
    if isinstance(frontend_api, str) and frontend_api.startswith(("https://", "http://")):
        iss = base_url(
            frontend_api,
            "frontend_api",
            "https://clerk.example.com",
            allow_path=False,
            allow_http=bool(options.get("allow_http")),
        )
    else:
        iss = f"https://{host_name(frontend_api, 'frontend_api', 'clerk.example.com')}"
    preset: dict[str, Any] = {
        "audience": audience,
        "verify_audience": audience is not None,
        "algorithms": ("RS256",),
        "role_claims": (("o", "rol"), "org_role"),
        "jwks_uri": f"{iss}/.well-known/jwks.json",  # replaced by public_key=..., if given
    }
    if authorized_parties is not None:
        preset["claim_values"] = {
            "azp": [_origin(party) for party in name_list(authorized_parties, "authorized_parties")]
        }
    return preset_issuer(iss, preset, options)


def _clerk_frontend_api(publishable_key: str) -> str:
    # A publishable key is `pk_test_` or `pk_live_` and base64 of "{frontend API host}$".
    if not isinstance(publishable_key, str):
        raise TypeError("publishable_key must be a string")
    prefix, _, encoded = publishable_key.partition("_test_")
    if not encoded:
        prefix, _, encoded = publishable_key.partition("_live_")
    try:
        decoded = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError):
        decoded = ""
    if prefix != "pk" or not decoded.endswith("$"):
        raise ValueError("publishable_key is not a Clerk publishable key (pk_test_... or pk_live_...)")
    return decoded[:-1]


def _origin(value: str) -> str:
    parts = urlsplit(value)
    if (
        parts.scheme not in ("http", "https")
        or not parts.netloc
        or parts.path
        or parts.query
        or parts.fragment
    ):
        raise ValueError(f"authorized parties are origins such as 'https://app.example.com', not {value!r}")
    return value
