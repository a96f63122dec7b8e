"""The OpenAPI document of guarded routes: the bearer scheme, each route's scopes, the OAuth2 and
OpenID Connect schemes, and Swagger UI's OAuth settings.

No `from __future__ import annotations` here: routes are defined inside functions, and FastAPI
reads their annotations at run time, where names local to a function cannot be resolved.
"""

from typing import Annotated, Any

import pytest
from asgi_helpers import clock
from fastapi import FastAPI, Security
from fastapi.security import OAuth2AuthorizationCodeBearer, OpenIdConnect
from fastapi.testclient import TestClient

from jwks_middleware import Claims, Issuer
from jwks_middleware.fastapi import (
    DEFAULT_SCHEME_NAME,
    JWKSAuth,
    swagger_ui_oauth,
)


def security_of(document: dict[str, Any], path: str, method: str = "get") -> Any:
    return document["paths"][path][method].get("security")


def test_openapi_has_the_bearer_scheme_and_each_routes_scopes(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert document["components"]["securitySchemes"] == {
        DEFAULT_SCHEME_NAME: {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "A JWT access token from a trusted issuer: `Authorization: Bearer <token>`.",
        }
    }
    assert security_of(document, "/me") == [{"JWT": []}]
    assert security_of(document, "/maybe") == [{"JWT": []}]
    assert security_of(document, "/items") == [{"JWT": ["read:items"]}]
    assert security_of(document, "/items", "post") == [{"JWT": ["read:items", "write:items"]}]
    assert security_of(document, "/admin/stats") == [{"JWT": ["admin", "read:items"]}]
    assert security_of(document, "/profile") == [{"JWT": ["profile"]}]
    assert security_of(document, "/any") == [{"JWT": []}]
    assert security_of(document, "/roles") == [{"JWT": []}]
    assert security_of(document, "/tenant") == [{"JWT": []}]


def test_openapi_shows_an_oauth2_authorization_code_scheme_for_swagger_ui(issuer: Issuer) -> None:
    scheme = OAuth2AuthorizationCodeBearer(
        authorizationUrl="https://issuer.example.test/authorize",
        tokenUrl="https://issuer.example.test/token",
        scopes={"read:items": "Read items"},
        scheme_name="OAuth2",
    )
    auth = JWKSAuth(clock=clock, issuers=[issuer], scheme=scheme)
    app = FastAPI(swagger_ui_init_oauth=swagger_ui_oauth("swagger", scopes=["openid", "read:items"]))
    auth.install(app)

    @app.get("/items", dependencies=[auth.require_scopes("read:items")])
    async def items() -> list[str]:
        return []  # pragma: no cover - only the documents are read

    with TestClient(app) as client:
        document = client.get("/openapi.json").json()
        docs = client.get("/docs").text
    assert document["components"]["securitySchemes"]["OAuth2"] == {
        "type": "oauth2",
        "flows": {
            "authorizationCode": {
                "authorizationUrl": "https://issuer.example.test/authorize",
                "tokenUrl": "https://issuer.example.test/token",
                "scopes": {"read:items": "Read items"},
            }
        },
    }
    assert security_of(document, "/items") == [{"OAuth2": ["read:items"]}]
    assert '"usePkceWithAuthorizationCodeGrant": true' in docs
    assert '"clientId": "swagger"' in docs


def test_openapi_shows_an_openid_connect_scheme(issuer: Issuer) -> None:
    url = "https://issuer.example.test/.well-known/openid-configuration"
    auth = JWKSAuth(clock=clock, issuers=[issuer], scheme=OpenIdConnect(openIdConnectUrl=url))
    app = FastAPI()

    @app.get("/me")
    async def me(claims: Annotated[Claims, Security(auth.claims, scopes=["openid"])]) -> None:
        pass  # pragma: no cover - only the document is read

    document = TestClient(app).get("/openapi.json").json()
    assert document["components"]["securitySchemes"] == {
        "OpenIdConnect": {"type": "openIdConnect", "openIdConnectUrl": url}
    }
    assert security_of(document, "/me") == [{"OpenIdConnect": ["openid"]}]


def test_swagger_ui_oauth_settings() -> None:
    assert swagger_ui_oauth("spa") == {"clientId": "spa", "usePkceWithAuthorizationCodeGrant": True}
    assert swagger_ui_oauth("spa", scopes=["openid", "x"])["scopes"] == "openid x"
    with pytest.raises(ValueError, match="client_id"):
        swagger_ui_oauth("")
