"""Auth0: access tokens for an API of a tenant."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from .._issuer import Issuer
from ._common import IssuerOptions, host_name, name_list, preset_issuer

if TYPE_CHECKING:
    from typing_extensions import Unpack


def auth0(domain: str, audience: str | Iterable[str], **options: Unpack[IssuerOptions]) -> Issuer:
    """Auth0: access tokens for an API, from a tenant domain (or custom domain).

    `domain` is the tenant domain without a scheme (`tenant.eu.auth0.com`); `iss` is
    `https://{domain}/` (with the trailing slash). `audience` is the API Identifier. Auth0
    adds `https://{domain}/userinfo` to `aud` when `openid` was requested; that URL is never
    accepted as this API's audience. Scopes are the `scope` string plus the `permissions`
    list (RBAC "Add Permissions in the Access Token"). Keys: `/.well-known/jwks.json`, RSA
    with `x5c`/`x5t`; Auth0 signs with RS256 (or PS256).
    """
    host = host_name(domain, "domain", "tenant.eu.auth0.com")
    userinfo = f"https://{host}/userinfo"
    audiences = name_list(audience, "audience")
    if userinfo in audiences:
        raise ValueError(f"{userinfo} is Auth0's userinfo audience, not your API's: give the API Identifier")
    return preset_issuer(
        f"https://{host}/",
        {
            "audience": audiences,
            "jwks_uri": f"https://{host}/.well-known/jwks.json",
            "algorithms": ("RS256", "PS256"),
            "scope_claims": ("scope", "permissions"),
        },
        options,
    )
