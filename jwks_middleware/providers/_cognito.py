"""Amazon Cognito: user pool tokens, bound to app client IDs."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal

from .._issuer import Issuer
from ._common import IssuerOptions, name_list, preset_issuer

if TYPE_CHECKING:
    from typing_extensions import Unpack


def cognito(
    region: str,
    user_pool_id: str,
    client_ids: str | Iterable[str],
    *,
    token_use: Literal["access", "id"] = "access",  # noqa: S107 - a claim value, not a password
    **options: Unpack[IssuerOptions],
) -> Issuer:
    """Amazon Cognito user pool tokens, bound to your app client IDs.

    `iss` is `https://cognito-idp.{region}.amazonaws.com/{user_pool_id}`. Access tokens carry
    no `aud`: they are bound by `client_id` (one of `client_ids`) and `token_use` "access".
    With `token_use="id"`, ID tokens are checked by `aud` and `token_use` "id". Groups
    (`cognito:groups`) become roles; the `scope` string becomes scopes.
    """
    if not isinstance(region, str) or not re.fullmatch(r"[a-z]{2}(?:-[a-z]+)+-\d+", region):
        raise ValueError(f"region must be an AWS region such as 'us-east-1', not {region!r}")
    if not isinstance(user_pool_id, str) or not re.fullmatch(
        rf"{re.escape(region)}_[A-Za-z0-9]+", user_pool_id
    ):
        raise ValueError(f"user_pool_id must look like '{region}_AbC123xyZ' (the pool's region, '_', its ID)")
    clients = name_list(client_ids, "client_ids")
    iss = f"https://cognito-idp.{region}.amazonaws.com/{user_pool_id}"
    preset: dict[str, Any] = {
        "jwks_uri": f"{iss}/.well-known/jwks.json",
        "algorithms": ("RS256",),
        "role_claims": ("cognito:groups",),
    }
    if token_use not in ("access", "id"):
        raise ValueError(f"token_use must be 'access' or 'id', not {token_use!r}")
    if token_use == "id":  # noqa: S105 - a claim value, not a password
        preset.update(audience=clients, claim_values={"token_use": "id"})
    else:
        preset.update(verify_audience=False, claim_values={"client_id": clients, "token_use": "access"})
    return preset_issuer(iss, preset, options)
