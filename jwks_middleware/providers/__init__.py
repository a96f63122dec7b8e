"""Presets for well-known identity providers: ordinary `Issuer` objects that know their quirks.

    from jwks_middleware import providers

    issuers = [
        providers.auth0("tenant.eu.auth0.com", "https://api.example.com"),
        providers.google("1234.apps.googleusercontent.com"),
        providers.entra_id_multi_tenant(["<tenant id>"], "api://my-api"),
    ]

Every preset returns one `Issuer`, except `entra_id_multi_tenant`, which is a resolver (it
decides per `iss` which tenants are trusted); both kinds go into the same `issuers=` list.
Each preset builds the exact `iss`, the key source and the claim checks its provider
documents, in the provider's own terms; see docs/providers.md for the quirks each one handles
and how it is tested. Every preset also takes the ordinary `Issuer` options (`IssuerOptions`:
`algorithms`, `leeway`, `timeout`, `max_stale`, ...). A key source given there (`jwks=`,
`jwks_uri=`, `public_key=`, `discovery_url=`) replaces the preset's; `claim_values` adds checks
to the preset's (never replaces one); `fetch_headers` are merged into the preset's; an option
given as None keeps the preset's value.
Invalid arguments raise `ValueError` (or `TypeError`) at once, never at the first request.
"""

from __future__ import annotations

from .._public import show_as_public
from ._auth0 import auth0
from ._clerk import clerk
from ._cognito import cognito
from ._combine import combine
from ._common import IssuerOptions
from ._entra import ENTRA_COMMON_JWKS_URI, EntraTenants, entra_id, entra_id_multi_tenant
from ._google import GOOGLE_ISSUERS, GOOGLE_JWKS_URI, google
from ._keycloak import keycloak
from ._okta import okta
from ._onelogin import onelogin
from ._supertokens import supertokens

__all__ = [
    "ENTRA_COMMON_JWKS_URI",
    "GOOGLE_ISSUERS",
    "GOOGLE_JWKS_URI",
    "EntraTenants",
    "IssuerOptions",
    "auth0",
    "clerk",
    "cognito",
    "combine",
    "entra_id",
    "entra_id_multi_tenant",
    "google",
    "keycloak",
    "okta",
    "onelogin",
    "supertokens",
]

show_as_public(__name__, globals(), __all__)
