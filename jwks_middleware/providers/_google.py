"""Google: ID tokens, under either spelling of Google's issuer."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Final

from .._issuer import Issuer
from ._common import IssuerOptions, host_name, preset_issuer

if TYPE_CHECKING:
    from typing_extensions import Unpack


#: Google signs ID tokens with either spelling of its issuer (OpenID Connect docs, "Validating an ID token").
GOOGLE_ISSUERS: Final = ("https://accounts.google.com", "accounts.google.com")
GOOGLE_JWKS_URI: Final = "https://www.googleapis.com/oauth2/v3/certs"


def google(
    audience: str | Iterable[str], *, hosted_domain: str | None = None, **options: Unpack[IssuerOptions]
) -> list[Issuer]:
    """Google ID tokens: two `Issuer`s, one per spelling of Google's `iss`.

    Google signs with `iss` `https://accounts.google.com` or `accounts.google.com`; both are
    accepted, with keys from `GOOGLE_JWKS_URI`. `audience` is your OAuth client ID (or, for
    Cloud Run / service-to-service tokens, the receiving service's URL). `hosted_domain`
    requires the `hd` claim of a Google Workspace domain. Spread the result into `issuers=`.
    """
    preset: dict[str, Any] = {"audience": audience, "jwks_uri": GOOGLE_JWKS_URI, "algorithms": ("RS256",)}
    if hosted_domain is not None:
        preset["claim_values"] = {"hd": host_name(hosted_domain, "hosted_domain", "example.com")}
    return [preset_issuer(iss, preset, options) for iss in GOOGLE_ISSUERS]
