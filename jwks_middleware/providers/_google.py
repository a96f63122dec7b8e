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
) -> Issuer:
    """Google ID tokens, with either spelling of Google's `iss`.

    Google signs with `iss` `https://accounts.google.com` or `accounts.google.com`; both are
    accepted (the second as an alias of the first), with keys from `GOOGLE_JWKS_URI`.
    `audience` is your OAuth client ID (or, for Cloud Run / service-to-service tokens, the
    receiving service's URL). `hosted_domain`
    requires the `hd` claim of a Google Workspace domain.
    """
    preset: dict[str, Any] = {
        "aliases": GOOGLE_ISSUERS[1:],
        "audience": audience,
        "jwks_uri": GOOGLE_JWKS_URI,
        "algorithms": ("RS256",),
    }
    if hosted_domain is not None:
        preset["claim_values"] = {"hd": host_name(hosted_domain, "hosted_domain", "example.com")}
    return preset_issuer(GOOGLE_ISSUERS[0], preset, options)
