"""SuperTokens: session access tokens of a backend's `appInfo`."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from .._issuer import Issuer
from ._common import IssuerOptions, base_url, preset_issuer

if TYPE_CHECKING:
    from typing_extensions import Unpack


def supertokens(
    api_domain: str,
    api_base_path: str = "/auth",
    audience: str | Iterable[str] | None = None,
    **options: Unpack[IssuerOptions],
) -> Issuer:
    """SuperTokens session access tokens of the backend at `{apiDomain}{apiBasePath}`.

    `api_domain` and `api_base_path` are the `appInfo` values of your SuperTokens backend SDK
    (`https://api.example.com`, `/auth`); `iss` is their concatenation and the keys are at
    `{apiDomain}{apiBasePath}/jwt/jwks.json`. Session tokens carry no `aud`, so none is checked
    unless `audience` is given. Roles come from the UserRoles claim (`st-role.v`); its
    permissions (`st-perm.v`) count as scopes.
    """
    domain = base_url(
        api_domain,
        "api_domain",
        "https://api.example.com",
        allow_path=False,
        allow_http=bool(options.get("allow_http")),
    )
    if not isinstance(api_base_path, str) or not re.fullmatch(r"[A-Za-z0-9._~/-]*", api_base_path):
        raise ValueError(f"api_base_path must be a URL path such as '/auth', not {api_base_path!r}")
    path = api_base_path.strip("/")
    iss = f"{domain}/{path}" if path else domain
    return preset_issuer(
        iss,
        {
            "audience": audience,
            "verify_audience": audience is not None,
            "jwks_uri": f"{iss}/jwt/jwks.json",
            "algorithms": ("RS256",),
            "scope_claims": (("st-perm", "v"), "scope"),
            "role_claims": (("st-role", "v"),),
        },
        options,
    )
