"""What the FastAPI adapters show in the OpenAPI document and Swagger UI: the security scheme
of a `JWKSAuth` (HTTP bearer by default) and Swagger UI's OAuth settings. Imported only
through `jwks_middleware.fastapi`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from fastapi.openapi.models import SecuritySchemeType
from fastapi.security import HTTPBearer
from fastapi.security.base import SecurityBase

from .._authorization import names

#: OpenAPI name of the default security scheme (HTTP bearer, JWT).
DEFAULT_SCHEME_NAME: Final = "JWT"


def bearer_scheme(scheme: SecurityBase | None) -> SecurityBase:
    """`scheme`, checked to describe bearer tokens; None: HTTP bearer, JWT, `DEFAULT_SCHEME_NAME`."""
    if scheme is None:
        return HTTPBearer(
            bearerFormat="JWT",
            scheme_name=DEFAULT_SCHEME_NAME,
            description="A JWT access token from a trusted issuer: `Authorization: Bearer <token>`.",
        )
    if not isinstance(scheme, SecurityBase):
        raise TypeError("scheme must be a FastAPI security scheme, e.g. HTTPBearer() or OpenIdConnect()")
    kind = scheme.model.type_
    bearer = kind == SecuritySchemeType.http and getattr(scheme.model, "scheme", "").lower() == "bearer"
    if not bearer and kind not in (SecuritySchemeType.oauth2, SecuritySchemeType.openIdConnect):
        raise ValueError("scheme must describe bearer tokens: HTTP bearer, OAuth2 or OpenID Connect")
    return scheme


def swagger_ui_oauth(client_id: str, *, scopes: Iterable[str] = ()) -> dict[str, Any]:
    """Swagger UI's OAuth settings for the authorization code flow with PKCE (a public client,
    no secret): ``FastAPI(swagger_ui_init_oauth=swagger_ui_oauth("my-client", scopes=[...]))``.
    The issuer must accept the redirect URI ``<app>/docs/oauth2-redirect``."""
    if not isinstance(client_id, str) or not client_id:
        raise ValueError("client_id must be a non-empty string")
    settings: dict[str, Any] = {"clientId": client_id, "usePkceWithAuthorizationCodeGrant": True}
    scope_list = tuple(scopes)
    if scope_list:
        settings["scopes"] = " ".join(names(scope_list, "swagger_ui_oauth", "scope"))
    return settings
