"""The local issuer's opaque tokens, its introspection (RFC 7662) and revocation (RFC 7009) endpoints."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from jwks_middleware.testing import (
    DEFAULT_ISSUER_URL,
    LocalIssuer,
)

NOW = 1_700_000_000


@pytest.fixture(scope="module")
def issuer() -> LocalIssuer:
    """An unserved issuer with a fixed clock (RSA key generation is the slow part: share it)."""
    return LocalIssuer(clock=lambda: NOW)


@pytest.fixture
def served() -> Iterator[LocalIssuer]:
    with LocalIssuer.serve(algorithm="ES256") as issuer:
        yield issuer


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as client:
        yield client


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# -- opaque tokens and introspection ----------------------------------------------------------


def introspect(
    served: LocalIssuer, client: httpx.Client, token: str, *, auth: tuple[str, str] | None = None
) -> httpx.Response:
    return client.post(
        served.introspection_endpoint,
        data={"token": token, "token_type_hint": "access_token"},
        auth=auth or served.introspection_client,
    )


def test_metadata_names_the_introspection_and_revocation_endpoints(issuer: LocalIssuer) -> None:
    metadata = issuer.metadata()
    assert metadata["introspection_endpoint"] == f"{DEFAULT_ISSUER_URL}/introspect"
    assert metadata["revocation_endpoint"] == f"{DEFAULT_ISSUER_URL}/revoke"
    assert "client_secret_basic" in metadata["introspection_endpoint_auth_methods_supported"]


def test_opaque_tokens_are_random_and_not_jws(issuer: LocalIssuer) -> None:
    first, second = issuer.issue_opaque(), issuer.issue_opaque()
    assert first != second
    assert "." not in first
    assert len(first) >= 32


def test_opaque_token_scopes_given_as_one_string_are_refused(issuer: LocalIssuer) -> None:
    with pytest.raises(TypeError, match="scopes"):
        issuer.issue_opaque(scopes="read write")


def test_introspection_answers_an_opaque_tokens_claims(served: LocalIssuer, client: httpx.Client) -> None:
    token = served.issue_opaque("alice", scopes=["read"], client_id="app-1", exp=None)
    answer = introspect(served, client, token)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["cache-control"] == "no-store"  # RFC 7662 section 2.2
    claims = answer.json()
    assert claims["active"] is True
    assert (claims["sub"], claims["scope"], claims["client_id"]) == ("alice", "read", "app-1")
    assert claims["iss"] == served.url
    assert "exp" not in claims


def test_client_secret_post_is_accepted(served: LocalIssuer, client: httpx.Client) -> None:
    client_id, client_secret = served.introspection_client
    form = {"token": served.issue_opaque(), "client_id": client_id, "client_secret": client_secret}
    assert client.post(served.introspection_endpoint, data=form).json()["active"] is True


@pytest.mark.parametrize(
    "auth",
    [("local-resource-server", "wrong"), ("someone-else", "wrong"), None],
    ids=["secret", "id", "none"],
)
def test_wrong_client_credentials_are_refused_with_401(
    served: LocalIssuer, client: httpx.Client, auth: tuple[str, str] | None
) -> None:
    form = {"token": served.issue_opaque()}
    url = served.introspection_endpoint
    answer = client.post(url, data=form) if auth is None else client.post(url, data=form, auth=auth)
    assert answer.status_code == 401  # RFC 7662 section 2.3
    assert answer.json()["error"] == "invalid_client"
    assert answer.headers["www-authenticate"].startswith("Basic")


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"token_type_hint=access_token", "application/x-www-form-urlencoded"),
        (b'{"token": "t"}', "application/json"),
        (b"token=a&token=b", "application/x-www-form-urlencoded"),
    ],
    ids=["no token", "not a form", "token twice"],
)
def test_a_malformed_introspection_request_is_400(
    served: LocalIssuer, client: httpx.Client, content: bytes, content_type: str
) -> None:
    answer = client.post(
        served.introspection_endpoint,
        content=content,
        headers={"Content-Type": content_type},
        auth=served.introspection_client,
    )
    assert answer.status_code == 400
    assert answer.json() == {"error": "invalid_request"}


def test_two_client_authentication_methods_at_once_are_400(served: LocalIssuer, client: httpx.Client) -> None:
    client_id, client_secret = served.introspection_client
    form = {"token": served.issue_opaque(), "client_id": client_id, "client_secret": client_secret}
    answer = client.post(served.introspection_endpoint, data=form, auth=(client_id, client_secret))
    assert answer.status_code == 400


def test_introspection_is_post_only(served: LocalIssuer, client: httpx.Client) -> None:
    answer = client.get(served.introspection_endpoint)
    assert answer.status_code == 405
    assert answer.headers["allow"] == "POST"


def test_unknown_expired_and_revoked_tokens_are_inactive(served: LocalIssuer, client: httpx.Client) -> None:
    revoked = served.issue_opaque()
    served.revoke(revoked)
    for token in ("never-issued", served.issue_opaque(issued_at=time.time() - 600), revoked):
        assert introspect(served, client, token).json() == {"active": False}


def test_the_issuers_own_jwts_can_be_introspected_and_revoked(
    served: LocalIssuer, client: httpx.Client
) -> None:
    token = served.issue(scopes=["read"])
    assert introspect(served, client, token).json()["scope"] == "read"
    served.revoke(token)
    assert introspect(served, client, token).json() == {"active": False}
    for forged in (served.wrong_key_token(), served.unsigned_token(), served.expired_token()):
        assert introspect(served, client, forged).json() == {"active": False}


def test_the_revocation_endpoint_revokes(served: LocalIssuer, client: httpx.Client) -> None:
    token = served.issue_opaque()
    answer = client.post(served.revocation_endpoint, data={"token": token}, auth=served.introspection_client)
    assert answer.status_code == 200
    assert introspect(served, client, token).json() == {"active": False}
    refused = client.post(served.revocation_endpoint, data={"token": token}, auth=("x", "y"))
    assert refused.status_code == 401


def test_introspection_requests_are_logged_without_their_body(
    served: LocalIssuer, client: httpx.Client
) -> None:
    token = served.issue_opaque()
    introspect(served, client, token)
    (request,) = served.request_log
    assert (request.method, request.path) == ("POST", "/introspect")
    assert token not in repr(request) + str(request.headers)
    assert served.requests["/introspect"] == 1


def test_faults_apply_to_the_introspection_endpoint(served: LocalIssuer, client: httpx.Client) -> None:
    served.fail_with(503, path=served.introspection_endpoint, times=1)
    assert introspect(served, client, served.issue_opaque()).status_code == 503
    assert introspect(served, client, served.issue_opaque()).status_code == 200


def test_a_body_too_large_is_refused(served: LocalIssuer, client: httpx.Client) -> None:
    answer = client.post(served.introspection_endpoint, content=b"x" * (65 * 1024))
    assert answer.status_code == 413


@pytest.mark.anyio
async def test_introspection_is_served_in_memory_too(issuer: LocalIssuer) -> None:
    token = issuer.issue_opaque("bob")
    async with issuer.http_client() as http:
        answer = await http.post(
            issuer.introspection_endpoint, data={"token": token}, auth=issuer.introspection_client
        )
    assert answer.json()["sub"] == "bob"
    assert issuer.request_log[-1].method == "POST"


def test_introspection_gives_a_ready_configuration(issuer: LocalIssuer) -> None:
    config = issuer.introspection(cache_ttl=5, auth_method="client_secret_post")
    assert config.endpoint == issuer.introspection_endpoint
    assert (config.client_id, config.client_secret) == issuer.introspection_client
    assert (config.cache_ttl, config.auth_method) == (5, "client_secret_post")


def test_the_served_controls_are_methods_of_the_issuer_itself(served: LocalIssuer) -> None:
    for name in ("fail_with", "serve_garbage", "redirect", "slow_down", "trickle", "recover", "stop"):
        assert callable(getattr(type(served), name)), name
        assert getattr(type(served), name).__doc__, name
    served.cache_max_age = None
    assert served.cache_max_age is None
