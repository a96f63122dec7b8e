"""Floods of made-up `kid` and `iss` values: no fetch storm, immediate refusals, bounded memory."""

from __future__ import annotations

import asyncio
import secrets
import tracemalloc
from typing import Any

import pytest
from integration_support import EventLog, VerifierFactory, forged_token, jwks_requests
from support import Clock

from jwks_middleware import (
    Issuer,
    TokenVerifier,
    UnknownKeyError,
    UntrustedIssuerError,
)
from jwks_middleware.testing import LocalIssuer

pytestmark = pytest.mark.anyio

COOLDOWN = 30.0


def claims_of(issuer: LocalIssuer, clock: Clock, **claims: Any) -> dict[str, Any]:
    now = int(clock())
    return {"iss": issuer.url, "sub": "x", "aud": issuer.audience, "iat": now, "exp": now + 300, **claims}


def random_kid_tokens(issuer: LocalIssuer, clock: Clock, count: int) -> list[str]:
    claims = claims_of(issuer, clock)
    return [forged_token(claims, {"alg": "RS256", "kid": secrets.token_urlsafe(12)}) for _ in range(count)]


async def test_1000_random_kids_one_after_another_cause_at_most_two_fetches(
    issuer: LocalIssuer, clock: Clock, started_verifier: VerifierFactory, event_log: EventLog
) -> None:
    async with started_verifier(refresh_cooldown=COOLDOWN) as verifier:
        assert jwks_requests(issuer) == 1
        refused = 0
        for token in random_kid_tokens(issuer, clock, 1000):
            clock.advance(COOLDOWN / 1000 / 2)  # the whole flood stays inside half a cooldown
            with pytest.raises(UnknownKeyError):
                await verifier.verify(token)
            refused += 1

        assert refused == 1000
        # The start-up load took one token of the bucket; the first random kid took the other
        # (half a cooldown grows back only half a token): one fetch for the whole flood.
        flood_fetches = jwks_requests(issuer) - 1
        assert flood_fetches == 1
        kinds = event_log.kinds()
        assert kinds["unknown_kid"] == 1000
        assert kinds["refresh_cooldown"] == 1000 - flood_fetches
        # Real tokens are not held up by the flood.
        assert (await verifier.verify(issuer.issue())).subject == "user-123"
        assert jwks_requests(issuer) == 1 + flood_fetches


async def test_1000_concurrent_random_kids_cause_at_most_two_fetches(
    issuer: LocalIssuer, clock: Clock, started_verifier: VerifierFactory
) -> None:
    async with started_verifier(refresh_cooldown=COOLDOWN) as verifier:
        tokens = random_kid_tokens(issuer, clock, 1000)
        results = await asyncio.gather(*(verifier.verify(token) for token in tokens), return_exceptions=True)
        assert all(isinstance(result, UnknownKeyError) for result in results)
        assert jwks_requests(issuer) - 1 == 1  # every request joined the first one's fetch


async def test_a_cold_flood_of_random_kids_costs_the_first_load_and_one_fetch(
    issuer: LocalIssuer, clock: Clock, started_verifier: VerifierFactory
) -> None:
    async with started_verifier(start=False, refresh_cooldown=COOLDOWN) as verifier:
        tokens = random_kid_tokens(issuer, clock, 1000)
        results = await asyncio.gather(*(verifier.verify(token) for token in tokens), return_exceptions=True)
        assert all(isinstance(result, UnknownKeyError) for result in results)
        # The first load, shared by all; then one fetch for the unknown kids, shared by all.
        assert jwks_requests(issuer) == 2
        assert verifier.ready()


async def test_a_rotation_right_after_a_flood_gets_through_a_second_later(
    issuer: LocalIssuer, clock: Clock, started_verifier: VerifierFactory
) -> None:
    async with started_verifier(refresh_cooldown=COOLDOWN) as verifier:
        for token in random_kid_tokens(issuer, clock, 100):
            with pytest.raises(UnknownKeyError):
                await verifier.verify(token)
        fetches = jwks_requests(issuer)
        issuer.rotate()
        # The flood spent the bucket: the new kid is refused at once, without a fetch...
        with pytest.raises(UnknownKeyError, match="cooling down"):
            await verifier.verify(issuer.issue(sub="first"))
        assert jwks_requests(issuer) == fetches
        # ...and, presented again a second later (as a rotation's kid is), earns one fetch of its
        # own; the flood's kids, each seen once, never did.
        clock.advance(1)
        assert (await verifier.verify(issuer.issue(sub="second"))).subject == "second"
        assert jwks_requests(issuer) == fetches + 1


async def test_a_flood_of_random_kids_costs_one_fetch_per_cooldown_plus_the_spare(
    issuer: LocalIssuer, clock: Clock, started_verifier: VerifierFactory
) -> None:
    async with started_verifier(refresh_cooldown=COOLDOWN) as verifier:
        cooldowns = 10
        for token in random_kid_tokens(issuer, clock, 10 * int(cooldowns * COOLDOWN) - 1):
            clock.advance(0.1)  # ten tokens a second, for ten cooldowns
            with pytest.raises(UnknownKeyError):
                await verifier.verify(token)
        assert jwks_requests(issuer) - 1 <= cooldowns + 1


async def test_a_flood_that_sends_each_kid_again_a_second_later_stays_bounded(
    issuer: LocalIssuer, clock: Clock, started_verifier: VerifierFactory
) -> None:
    """An attacker can make its kids look like a rotation's; it gets the repeated-kid budget
    (one fetch per cooldown) on top of the bucket, and nothing more."""
    async with started_verifier(refresh_cooldown=COOLDOWN) as verifier:
        cooldowns = 10
        tokens = random_kid_tokens(issuer, clock, 10 * int(cooldowns * COOLDOWN))
        for index, token in enumerate(tokens):
            clock.advance(0.1)
            again = [tokens[index - 10]] if index >= 10 else []  # the kid sent a second ago
            for sent in (token, *again):
                with pytest.raises(UnknownKeyError):
                    await verifier.verify(sent)
        # The bucket: its spare and one per cooldown; the repeated-kid budget: the same.
        assert jwks_requests(issuer) - 1 <= 2 * (cooldowns + 1)


def random_iss_tokens(issuer: LocalIssuer, clock: Clock, count: int, prefix: str = "") -> list[str]:
    header = {"alg": "RS256", "kid": issuer.kid}
    return [
        forged_token(claims_of(issuer, clock, iss=f"{prefix}{secrets.token_hex(8)}"), header)
        for _ in range(count)
    ]


async def verify_all_refused(verifier: TokenVerifier, tokens: list[str]) -> None:
    for token in tokens:
        with pytest.raises(UntrustedIssuerError):
            await verifier.verify(token)


async def memory_growth(verifier: TokenVerifier, make_tokens: Any, verify: Any) -> int:
    """Bytes still allocated after a second batch of refused tokens, compared with after the
    first: what an endless flood would keep growing."""
    await verify(verifier, make_tokens())
    first, second = make_tokens(), make_tokens()
    tracemalloc.start()
    try:
        await verify(verifier, first)
        baseline = tracemalloc.get_traced_memory()[0]
        await verify(verifier, second)
        return tracemalloc.get_traced_memory()[0] - baseline
    finally:
        tracemalloc.stop()


async def test_10000_random_iss_values_are_refused_with_no_fetch_and_nothing_stored(
    issuer: LocalIssuer, clock: Clock
) -> None:
    async with TokenVerifier([issuer.config()], clock=clock) as verifier:  # no event recorder
        requests = issuer.requests.total()

        growth = await memory_growth(
            verifier,
            lambda: random_iss_tokens(issuer, clock, 5000, prefix="https://"),
            verify_all_refused,
        )

        assert issuer.requests.total() == requests
        assert [keys.issuer.issuer for keys in verifier.key_store.issuers()] == [issuer.url]
        assert growth < 64 * 1024
        assert len(verifier.events.counters) <= 10


async def test_a_resolver_keeps_at_most_max_resolved_issuers(issuer: LocalIssuer, clock: Clock) -> None:
    """A multi-tenant resolver trusts every `{url}/tenants/<id>` issuer (keys known locally
    here) and declines the rest: the LRU stays bounded, evicted issuers are stopped."""
    jwks = issuer.jwks()
    consulted: list[str] = []

    def resolver(iss: str) -> Issuer | None:
        consulted.append(iss)
        if not iss.startswith(f"{issuer.url}/tenants/"):
            return None
        return Issuer(iss, audience=issuer.audience, jwks=jwks)

    verifier = TokenVerifier(resolver, clock=clock, max_resolved_issuers=16)
    async with verifier:
        untrusted = random_iss_tokens(issuer, clock, 5000, prefix="https://")
        await verify_all_refused(verifier, untrusted)
        assert verifier.key_store.issuers() == []
        assert len(consulted) == 5000

        tenants = random_iss_tokens(issuer, clock, 5000, prefix=f"{issuer.url}/tenants/")
        results = await asyncio.gather(*(verifier.verify(token) for token in tenants), return_exceptions=True)
        assert all(isinstance(result, Exception) for result in results)  # forged signatures
        assert len(verifier.key_store.issuers()) == 16
        assert issuer.requests.total() == 0
