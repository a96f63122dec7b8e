"""OneLogin: OpenID Connect tokens; the key set is public, an API access token optional."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .._issuer import Issuer
from ._common import DNS_LABEL, IssuerOptions, preset_issuer

if TYPE_CHECKING:
    from typing_extensions import Unpack


def onelogin(
    subdomain: str,
    access_token: str | Callable[[], Awaitable[str]] | None = None,
    audience: str | Iterable[str] | None = None,
    **options: Unpack[IssuerOptions],
) -> Issuer:
    """OneLogin OpenID Connect tokens of `https://{subdomain}.onelogin.com/oidc/2`.

    `audience` (required) is the application's client ID (or the API authorization's
    audience). The key set (`/oidc/2/certs`) is public, as OneLogin documents it; only when
    `access_token` is given is it requested with `Authorization: Bearer {access_token}` (an
    API access token made with OneLogin's Generate Token API, for a gateway that asks for
    one). Such tokens expire (10 h): give an async callable returning a current one and it is
    called before every key fetch. Scopes: `scope`; roles: `groups` (when the app sends them)
    and `roles`.
    """
    if not isinstance(subdomain, str) or not re.fullmatch(DNS_LABEL, subdomain.lower()):
        raise ValueError(
            f"subdomain must be the OneLogin subdomain ('acme' of acme.onelogin.com), not {subdomain!r}"
        )
    if audience is None:
        raise TypeError("onelogin() needs audience=...: the application's client ID")
    iss = f"https://{subdomain.lower()}.onelogin.com/oidc/2"
    preset: dict[str, Any] = {
        "audience": audience,
        "jwks_uri": f"{iss}/certs",
        "role_claims": ("groups", "roles"),
    }
    if callable(access_token):
        token_source = access_token

        async def headers() -> Mapping[str, str]:
            return {"Authorization": f"Bearer {_api_token(await token_source())}"}

        preset["fetch_headers"] = headers
    elif access_token is not None:
        preset["fetch_headers"] = {"Authorization": f"Bearer {_api_token(access_token)}"}
    return preset_issuer(iss, preset, options)


def _api_token(token: object) -> str:
    if not isinstance(token, str) or not re.fullmatch(r"[\x21-\x7e]+", token):
        raise ValueError("access_token must be a OneLogin API access token (printable, no spaces)")
    return token
