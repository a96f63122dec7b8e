"""The pytest plugin: registered by its entry point, its `local_issuer` fixtures, cheap to import."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from jwks_middleware._issuer import Issuer
from jwks_middleware.testing import (
    LocalIssuer,
)

NOW = 1_700_000_000


@pytest.fixture(scope="module")
def issuer() -> LocalIssuer:
    """An unserved issuer with a fixed clock (RSA key generation is the slow part: share it)."""
    return LocalIssuer(clock=lambda: NOW)


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as client:
        yield client


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def test_the_plugin_is_registered_by_its_entry_point(request: pytest.FixtureRequest) -> None:
    assert request.config.pluginmanager.hasplugin("jwks_middleware")


def test_local_issuer_fixture_is_a_running_server(local_issuer: LocalIssuer, client: httpx.Client) -> None:
    assert local_issuer.serving
    assert local_issuer.algorithm == "RS256"
    assert client.get(local_issuer.discovery_url).json()["issuer"] == local_issuer.url


def test_local_issuer_config_fixture_trusts_the_local_issuer(
    local_issuer: LocalIssuer, local_issuer_config: Issuer
) -> None:
    assert local_issuer_config.issuer == local_issuer.url
    assert local_issuer_config.audiences == frozenset({local_issuer.audience})
    assert local_issuer_config.metadata_urls[0] == local_issuer.discovery_url


@pytest.mark.parametrize(
    ("local_issuer", "algorithm", "suffix"),
    [("ES256", "ES256", ""), ({"algorithm": "EdDSA", "path": "/tenant"}, "EdDSA", "/tenant")],
    indirect=["local_issuer"],
)
def test_local_issuer_can_be_parametrized(local_issuer: LocalIssuer, algorithm: str, suffix: str) -> None:
    assert local_issuer.algorithm == algorithm
    assert local_issuer.url.endswith(suffix)


def test_importing_the_plugin_is_cheap() -> None:
    code = (
        "import sys, threading\n"
        "import jwks_middleware.pytest_plugin\n"
        "loaded = {'fastapi', 'jwks_middleware.testing', 'http.server'} & set(sys.modules)\n"
        "assert not loaded, loaded\n"
        "assert threading.active_count() == 1\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)  # noqa: S603
