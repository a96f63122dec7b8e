"""Which URLs keys, metadata and introspection answers may be fetched from: https, or plain
http on a loopback host, or on any host with the issuer's explicit `allow_http`."""

from __future__ import annotations

from typing import Any

import pytest
from support import AUDIENCE, ISSUER

from jwks_middleware import Issuer
from jwks_middleware._urls import check_fetch_url


@pytest.mark.parametrize(
    "url",
    [
        "http://issuer.example.test/",
        "http://10.0.0.1/",
        "http://localhost.attacker.example/",
        "ftp://issuer.example.test/",
        "https://",
        "issuer.example.test",
        "https://[::1/",
    ],
)
def test_keys_are_never_fetched_from_a_url_that_is_not_https_or_loopback(url: str) -> None:
    with pytest.raises(ValueError, match=r"URL|https"):
        Issuer(ISSUER, audience=AUDIENCE, jwks_uri=url)


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:8080/",
        "http://127.0.0.1/",
        "http://127.0.0.2:9000/jwks",
        "http://[::1]:8000/",
        "https://issuer.example.test/",
    ],
)
def test_https_and_loopback_http_are_accepted(url: str) -> None:
    assert Issuer(url, audience=AUDIENCE).issuer == url
    assert Issuer(ISSUER, audience=AUDIENCE, jwks_uri=url).jwks_uri == url


@pytest.mark.parametrize(
    "options",
    [
        {"issuer": "http://keycloak:8080/realms/acme"},
        {"jwks_uri": "http://keycloak:8080/realms/acme/protocol/openid-connect/certs"},
        {"discovery_url": "http://10.0.0.7/.well-known/openid-configuration"},
    ],
)
def test_http_on_a_private_host_is_refused_with_a_message_naming_the_opt_in(options: dict[str, Any]) -> None:
    issuer = options.pop("issuer", ISSUER)
    with pytest.raises(ValueError, match=r"opt in with Issuer\(\.\.\., allow_http=True\)"):
        Issuer(issuer, audience=AUDIENCE, **options)
    assert Issuer(issuer, audience=AUDIENCE, allow_http=True, **options).allow_http


@pytest.mark.parametrize("url", ["ftp://keycloak/", "http:///jwks.json", "keycloak:8080"])
def test_allow_http_allows_plain_http_and_nothing_else(url: str) -> None:
    with pytest.raises(ValueError, match="https") as refused:
        Issuer(ISSUER, audience=AUDIENCE, jwks_uri=url, allow_http=True)
    assert "allow_http" not in str(refused.value)


def test_discovery_issuer_must_be_https() -> None:
    with pytest.raises(ValueError, match="https"):
        Issuer("http://issuer.example.test/", audience=AUDIENCE)
    with pytest.raises(ValueError, match="https"):
        Issuer(ISSUER, audience=AUDIENCE, discovery_url="http://issuer.example.test/.well-known/x")


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080/introspect", "https://issuer.example.test/introspect"]
)
def test_check_fetch_url_accepts_https_and_loopback_http(url: str) -> None:
    check_fetch_url(url)


def test_check_fetch_url_names_the_refused_url_and_the_opt_in() -> None:
    with pytest.raises(ValueError, match=r"only fetched over https.*'http://10\.0\.0\.7/x'.*allow_http=True"):
        check_fetch_url("http://10.0.0.7/x")
    check_fetch_url("http://10.0.0.7/x", allow_http=True)


def test_an_introspection_endpoint_follows_the_same_rule() -> None:
    from jwks_middleware import Introspection

    plain = Introspection("api", client_secret="s3cret", endpoint="http://10.0.0.7/introspect")
    with pytest.raises(ValueError, match="allow_http=True"):
        Issuer(ISSUER, audience=AUDIENCE, introspection=plain)
    assert Issuer(ISSUER, audience=AUDIENCE, introspection=plain, allow_http=True).introspection is plain
