"""OneLogin: OpenID Connect tokens, whose key set needs an API access token."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from .._issuer import FetchHeaders, Issuer
from ._common import DNS_LABEL, IssuerOptions, preset_issuer

if TYPE_CHECKING:
    from typing_extensions import Unpack


def onelogin(
    subdomain: str,
    access_token: str | Callable[[], Awaitable[str]],
    audience: str | Iterable[str],
    **options: Unpack[IssuerOptions],
) -> Issuer:
    """OneLogin OpenID Connect tokens of `https://{subdomain}.onelogin.com/oidc/2`.

    The key set (`/oidc/2/certs`) is requested with `Authorization: Bearer {access_token}`,
    an API access token made with OneLogin's Generate Token API. Such tokens expire (10 h):
    give an async callable returning a current one and it is called before every key fetch.
    `audience` is the
    application's client ID (or the API authorization's audience). Scopes: `scope`; roles:
    `groups` (when the app sends them) and `roles`.
    """
    if not isinstance(subdomain, str) or not re.fullmatch(DNS_LABEL, subdomain.lower()):
        raise ValueError(
            f"subdomain must be the OneLogin subdomain ('acme' of acme.onelogin.com), not {subdomain!r}"
        )
    iss = f"https://{subdomain.lower()}.onelogin.com/oidc/2"
    headers: FetchHeaders
    if callable(access_token):
        token_source = access_token

        async def headers() -> Mapping[str, str]:
            return {"Authorization": f"Bearer {_api_token(await token_source())}"}

    else:
        headers = {"Authorization": f"Bearer {_api_token(access_token)}"}
    return preset_issuer(
        iss,
        {
            "audience": audience,
            "jwks_uri": f"{iss}/certs",
            "fetch_headers": headers,
            "role_claims": ("groups", "roles"),
        },
        options,
    )


def _api_token(token: object) -> str:
    if not isinstance(token, str) or not re.fullmatch(r"[\x21-\x7e]+", token):
        raise ValueError("access_token must be a OneLogin API access token (printable, no spaces)")
    return token
