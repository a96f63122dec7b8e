"""What the FastAPI adapters show in the OpenAPI document and Swagger UI: the security scheme
of a `JWKSAuth` (HTTP bearer by default), Swagger UI's OAuth settings, and what described
guards require, in their operations' descriptions. Imported only
through `jwks_middleware.fastapi`."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Final

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.models import SecuritySchemeType
from fastapi.routing import APIRoute
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


def describe_requirements(app: FastAPI) -> None:
    """Make `app`'s OpenAPI document say, in each operation's description, what its guards
    with a description require (`JWKSAuth.require_check(..., description=...)`)."""
    generate = app.openapi
    if getattr(generate, "describes_requirements", False):
        return  # once per app, however often its lifespan starts

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = generate()
        for route in app.routes:
            if not isinstance(route, APIRoute):
                continue
            texts = list(dict.fromkeys(_requirements(route.dependant)))
            operations = document.get("paths", {}).get(route.path_format, {})
            for method in route.methods or ():
                operation = operations.get(method.lower())
                if texts and operation is not None:
                    lines = [operation.get("description", ""), "Requires: " + "; ".join(texts)]
                    operation["description"] = "\n\n".join(line for line in lines if line)
        return document

    openapi.describes_requirements = True  # type: ignore[attr-defined]
    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to customise


def _requirements(dependant: Dependant) -> Iterator[str]:
    for dependency in dependant.dependencies:
        requirement = getattr(dependency.call, "requirement", None)
        if isinstance(dependency.call, SecurityBase) and isinstance(requirement, str):
            yield requirement
        yield from _requirements(dependency)
