"""Okta: tokens of a custom or the org authorization server."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from .._issuer import Issuer
from ._common import IssuerOptions, host_name, preset_issuer

if TYPE_CHECKING:
    from typing_extensions import Unpack


def okta(
    domain: str,
    audience: str | Iterable[str],
    *,
    authorization_server: str | None = "default",
    **options: Unpack[IssuerOptions],
) -> Issuer:
    """Okta: tokens of a custom authorization server (`default` unless told) or the org server.

    `iss` is `https://{domain}/oauth2/{authorization_server}`, or `https://{domain}` with
    `authorization_server=None` (the org authorization server, whose access tokens are meant
    for Okta's own APIs: verify its ID tokens only, with the client ID as `audience`). The
    `default` server's audience is `api://default` unless changed. Scopes come from the `scp`
    list. Okta rotates its RS256 signing keys regularly: an unknown `kid` refreshes the keys.
    """
    host = host_name(domain, "domain", "dev-123456.okta.com")
    if authorization_server is None:
        iss, jwks_uri = f"https://{host}", f"https://{host}/oauth2/v1/keys"
    else:
        if not isinstance(authorization_server, str) or not re.fullmatch(
            r"[A-Za-z0-9_-]+", authorization_server
        ):
            raise ValueError("authorization_server must be an authorization server ID such as 'default'")
        iss = f"https://{host}/oauth2/{authorization_server}"
        jwks_uri = f"{iss}/v1/keys"
    return preset_issuer(
        iss,
        {
            "audience": audience,
            "jwks_uri": jwks_uri,
            "algorithms": ("RS256",),
            "scope_claims": ("scp", "scope"),
        },
        options,
    )
