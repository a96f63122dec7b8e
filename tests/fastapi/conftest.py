"""Fixtures of the FastAPI adapter tests: the issuer and the app in both modes."""

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from fastapi_support import MODES, make_app
from support import AUDIENCE, ISSUER, default_jwks

from jwks_middleware import Issuer
from jwks_middleware.fastapi import JWKSAuth


@pytest.fixture(scope="module")
def issuer() -> Issuer:
    return Issuer(
        ISSUER,
        audience=AUDIENCE,
        jwks=default_jwks(),
        role_claims=[("realm_access", "roles"), "roles"],
    )


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
