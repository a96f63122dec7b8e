"""Token introspection (RFC 7662) against a real introspection endpoint on 127.0.0.1.

The local issuer makes opaque tokens, answers introspection for its made-up client, revokes
tokens and misbehaves on demand; the `Introspector` asks it over real sockets. Time moves
only through the shared `Clock`.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from integration_support import EventLog
from support import Clock

from jwks_middleware import AuthUnavailableError, InvalidTokenError
from jwks_middleware._events import Events
from jwks_middleware._introspection import Introspector
from jwks_middleware.testing import LocalIssuer

pytestmark = pytest.mark.anyio

INTROSPECT = "/introspect"


def introspector(
    issuer: LocalIssuer, clock: Clock, events: EventLog | None = None, **options: Any
) -> Introspector:
    limits = {name: options.pop(name) for name in ("fetch_deadline",) if name in options}
    return Introspector(
        issuer.url,
        issuer.introspection(**options),
        clock=clock,
        events=Events(events) if events is not None else None,
        **limits,
    )


def posts(issuer: LocalIssuer) -> int:
    return sum(request.method == "POST" and request.path == INTROSPECT for request in issuer.request_log)


async def test_an_active_opaque_token_gives_its_claims(issuer: LocalIssuer, clock: Clock) -> None:
    token = issuer.issue_opaque("alice", scopes=["read:items", "write:items"], client_id="app-1")
    claims = await introspector(issuer, clock).introspect(token)
    assert claims["sub"] == "alice"
    assert claims["scope"] == "read:items write:items"
    assert claims["client_id"] == "app-1"
    assert claims["iss"] == issuer.url
    assert claims["aud"] == issuer.audience
    assert claims["exp"] == int(clock.now) + 300
    assert "active" not in claims


async def test_an_unknown_token_is_inactive(issuer: LocalIssuer, clock: Clock) -> None:
    with pytest.raises(InvalidTokenError):
        await introspector(issuer, clock).introspect("a-token-this-issuer-never-made")


async def test_an_expired_opaque_token_is_inactive(issuer: LocalIssuer, clock: Clock) -> None:
    token = issuer.issue_opaque(expires_in=60)
    clock.advance(60)
    with pytest.raises(InvalidTokenError):
        await introspector(issuer, clock).introspect(token)


async def test_a_revoked_token_stays_accepted_until_the_cached_answer_expires(
    issuer: LocalIssuer, clock: Clock
) -> None:
    client = introspector(issuer, clock, cache_ttl=30)
    token = issuer.issue_opaque()
    await client.introspect(token)
    issuer.revoke(token)
    clock.advance(29)
    assert (await client.introspect(token))["sub"] == "user-123"  # the cached answer
    clock.advance(1)
    with pytest.raises(InvalidTokenError):
        await client.introspect(token)
    assert posts(issuer) == 2


async def test_revocation_through_the_rfc_7009_endpoint(issuer: LocalIssuer, clock: Clock) -> None:
    token = issuer.issue_opaque()
    client_id, client_secret = issuer.introspection_client
    async with httpx.AsyncClient() as http:
        answer = await http.post(
            issuer.revocation_endpoint, data={"token": token}, auth=(client_id, client_secret)
        )
    assert answer.status_code == 200
    with pytest.raises(InvalidTokenError):
        await introspector(issuer, clock).introspect(token)


async def test_a_revoked_jwt_is_inactive_for_an_issuer_introspecting_every_token(
    issuer: LocalIssuer, clock: Clock
) -> None:
    client = introspector(issuer, clock, all_tokens=True)
    token = issuer.issue(scopes=["read"])
    assert (await client.introspect(token))["scope"] == "read"
    issuer.revoke(token)
    client.forget(token)
    with pytest.raises(InvalidTokenError):
        await client.introspect(token)
    with pytest.raises(InvalidTokenError):
        await client.introspect(issuer.wrong_key_token())


async def test_endpoint_down_is_unavailable_unless_an_answer_is_cached(
    issuer: LocalIssuer, clock: Clock
) -> None:
    client = introspector(issuer, clock)
    cached, other = issuer.issue_opaque("cached"), issuer.issue_opaque("other")
    await client.introspect(cached)
    issuer.stop()
    assert (await client.introspect(cached))["sub"] == "cached"
    with pytest.raises(AuthUnavailableError):
        await client.introspect(other)
    issuer.start()
    assert (await client.introspect(other))["sub"] == "other"


@pytest.mark.parametrize("fault", ["500", "garbage", "redirect"])
async def test_a_misbehaving_endpoint_is_unavailable(issuer: LocalIssuer, clock: Clock, fault: str) -> None:
    if fault == "500":
        issuer.fail_with(500, path=issuer.introspection_endpoint)
    elif fault == "garbage":
        issuer.serve_garbage(path=issuer.introspection_endpoint)
    else:
        issuer.redirect(issuer.url + "/elsewhere", status=307, path=issuer.introspection_endpoint)
    with pytest.raises(AuthUnavailableError):
        await introspector(issuer, clock).introspect(issuer.issue_opaque())
    assert posts(issuer) == 1


async def test_a_slow_endpoint_is_cut_off_by_the_deadline(issuer: LocalIssuer, clock: Clock) -> None:
    issuer.slow_down(30, path=issuer.introspection_endpoint)
    with pytest.raises(AuthUnavailableError, match="deadline"):
        await introspector(issuer, clock, fetch_deadline=0.2).introspect(issuer.issue_opaque())


async def test_a_trickling_endpoint_is_cut_off_by_the_deadline(issuer: LocalIssuer, clock: Clock) -> None:
    issuer.trickle(0.05, path=issuer.introspection_endpoint)
    with pytest.raises(AuthUnavailableError, match="deadline"):
        await introspector(issuer, clock, fetch_deadline=0.3).introspect(issuer.issue_opaque())


async def test_an_oversized_answer_is_unavailable(issuer: LocalIssuer, clock: Clock) -> None:
    token = issuer.issue_opaque(padding="x" * 200_000)
    with pytest.raises(AuthUnavailableError, match="bytes"):
        await introspector(issuer, clock).introspect(token)


async def test_concurrent_introspections_of_one_token_share_one_post(
    issuer: LocalIssuer, clock: Clock
) -> None:
    client = introspector(issuer, clock)
    token = issuer.issue_opaque()
    answers = await asyncio.gather(*(client.introspect(token) for _ in range(25)))
    assert {answer["sub"] for answer in answers} == {"user-123"}
    assert posts(issuer) == 1


@pytest.mark.parametrize("auth_method", ["client_secret_basic", "client_secret_post"])
async def test_both_client_secret_methods_are_accepted(
    issuer: LocalIssuer, clock: Clock, auth_method: str
) -> None:
    claims = await introspector(issuer, clock, auth_method=auth_method).introspect(issuer.issue_opaque())
    assert claims["sub"] == "user-123"
    (request,) = [request for request in issuer.request_log if request.path == INTROSPECT]
    assert ("authorization" in request.headers) == (auth_method == "client_secret_basic")


@pytest.mark.parametrize("auth_method", ["client_secret_basic", "client_secret_post"])
async def test_a_wrong_client_secret_is_unavailable_and_logged_not_an_invalid_token(
    issuer: LocalIssuer, clock: Clock, event_log: EventLog, auth_method: str
) -> None:
    client = introspector(issuer, clock, event_log, client_secret="wrong", auth_method=auth_method)
    with pytest.raises(AuthUnavailableError, match="client credentials"):
        await client.introspect(issuer.issue_opaque())
    assert event_log.kinds()["introspection_unauthorized"] == 1
    assert "HTTP 401" in event_log.events[-1].detail


async def test_the_endpoint_is_found_through_discovery(issuer: LocalIssuer, clock: Clock) -> None:
    claims = await introspector(issuer, clock, endpoint=None).introspect(issuer.issue_opaque())
    assert claims["sub"] == "user-123"
    assert [request.path for request in issuer.request_log] == [
        "/.well-known/openid-configuration",
        INTROSPECT,
    ]
