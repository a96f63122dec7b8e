"""Fixtures of the FastAPI adapter tests: the issuer, tokens, and the app in both modes."""

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from fastapi_support import AUDIENCE, ISSUER, KID, MODES, Mint, make_app
from joserfc import jwt
from joserfc.jwk import RSAKey

from jwks_middleware import Issuer
from jwks_middleware.fastapi import JWKSAuth


@pytest.fixture(scope="module")
def key() -> RSAKey:
    generated: RSAKey = RSAKey.generate_key(2048, private=True)
    return generated


@pytest.fixture(scope="module")
def issuer(key: RSAKey) -> Issuer:
    public = {**key.as_dict(private=False), "kid": KID, "alg": "RS256", "use": "sig"}
    return Issuer(
        ISSUER,
        audience=AUDIENCE,
        jwks={"keys": [public]},
        role_claims=[("realm_access", "roles"), "roles"],
    )


@pytest.fixture(scope="module")
def mint(key: RSAKey) -> Mint:
    def mint(scopes: str | None = None, *, expires_in: int = 300, **claims: Any) -> str:
        now = int(time.time())
        payload: dict[str, Any] = {"iss": ISSUER, "aud": AUDIENCE, "sub": "user-1", "iat": now}
        payload["exp"] = now + expires_in
        if scopes is not None:
            payload["scope"] = scopes
        payload.update(claims)
        return jwt.encode({"alg": "RS256", "kid": KID, "typ": "JWT"}, payload, key)

    return mint


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


@pytest.fixture
def app_and_auth(mode: str, issuer: Issuer) -> tuple[FastAPI, JWKSAuth]:
    return make_app(mode, issuer)


@pytest.fixture
def client(app_and_auth: tuple[FastAPI, JWKSAuth]) -> Iterator[TestClient]:
    with TestClient(app_and_auth[0]) as client:
        yield client


# -- claims --------------------------------------------------------------------------------
