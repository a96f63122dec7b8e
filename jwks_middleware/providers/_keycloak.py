"""Keycloak: access tokens of a realm."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .._issuer import ClaimPath, Issuer
from ._common import IssuerOptions, base_url, preset_issuer

if TYPE_CHECKING:
    from typing_extensions import Unpack


def keycloak(
    server_url: str,
    realm: str,
    audience: str | Iterable[str],
    *,
    client_id: str | None = None,
    token_type: str | None = "Bearer",  # noqa: S107 - Keycloak's `typ` claim, not a password
    **options: Unpack[IssuerOptions],
) -> Issuer:
    """Keycloak access tokens of a realm: `iss` `{server_url}/realms/{realm}`.

    `server_url` is the server's base URL (`https://sso.example.com`, or with `/auth` for
    Keycloak before 17). Keycloak puts `aud` `account` in access tokens by default; add an
    Audience mapper (Included Client Audience: your API's client) and pass that client ID as
    `audience` rather than accepting `account`, which every token of the realm carries. Roles:
    realm roles (`realm_access.roles`) and, with `client_id`, that client's roles
    (`resource_access.{client_id}.roles`). `token_type` checks Keycloak's `typ` claim, so ID
    tokens ("ID") are not accepted as access tokens ("Bearer"); None turns that off.
    """
    base = base_url(
        server_url,
        "server_url",
        "https://sso.example.com",
        allow_path=True,
        allow_http=bool(options.get("allow_http")),
    )
    if not isinstance(realm, str) or not re.fullmatch(r"[^\s/?#%]+", realm):
        raise ValueError(f"realm must be a realm name such as 'myrealm', not {realm!r}")
    iss = f"{base}/realms/{realm}"
    roles: list[ClaimPath] = [("realm_access", "roles")]
    if client_id is not None:
        if not isinstance(client_id, str) or not client_id:
            raise ValueError("client_id must be the Keycloak client ID whose roles to use")
        roles.append(("resource_access", client_id, "roles"))
    preset: dict[str, Any] = {
        "audience": audience,
        "jwks_uri": f"{iss}/protocol/openid-connect/certs",
        "role_claims": tuple(roles),
    }
    if token_type is not None:
        preset["claim_values"] = {"typ": token_type}
    return preset_issuer(iss, preset, options)
