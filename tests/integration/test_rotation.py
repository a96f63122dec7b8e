"""Key rotation against a real issuer server: a new `kid` costs exactly one fetch, shared by
every request that needs it, gets through within seconds even right after a stray `kid`, and a
key dropped from the JWKS is revoked at the next refresh."""

from __future__ import annotations

import asyncio
import secrets

import httpx
import pytest
from integration_support import EventLog, VerifierFactory, forged_token, jwks_requests
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send
from support import Clock

from jwks_middleware import JWKSMiddleware, UnknownKeyError
from jwks_middleware.testing import LocalIssuer

pytestmark = pytest.mark.anyio


async def test_first_token_of_a_new_key_fetches_the_jwks_exactly_once(
    issuer: LocalIssuer, started_verifier: VerifierFactory
) -> None:
    async with started_verifier() as verifier:
        assert jwks_requests(issuer) == 1  # the start-up load
        old_kid = issuer.kid
        assert (await verifier.verify(issuer.issue())).subject == "user-123"
        assert jwks_requests(issuer) == 1

        new_kid = issuer.rotate()
        claims = await verifier.verify(issuer.issue(sub="after-rotation"))

        assert claims.subject == "after-rotation"
        assert jwks_requests(issuer) == 2
        # Later tokens of the new key, and those of the old one, need no fetch.
        await verifier.verify(issuer.issue())
        await verifier.verify(issuer.issue(kid=old_kid))
        assert jwks_requests(issuer) == 2
        assert set(verifier.key_store.states()[0].key_ids) == {old_kid, new_kid}


async def test_200_concurrent_tokens_of_a_new_key_share_one_fetch(
    issuer: LocalIssuer, started_verifier: VerifierFactory, event_log: EventLog
) -> None:
    async with started_verifier() as verifier:
        issuer.rotate()
        tokens = [issuer.issue(sub=f"user-{n}") for n in range(200)]  # distinct: no cache hits

        results = await asyncio.gather(*(verifier.verify(token) for token in tokens))

        assert [claims.subject for claims in results] == [f"user-{n}" for n in range(200)]
        assert jwks_requests(issuer) == 2  # start-up + exactly one for the new kid
        assert event_log.kinds()["keys_fetched"] == 2
        assert event_log.kinds()["refresh_cooldown"] == 0


async def hello(scope: Scope, receive: Receive, send: Send) -> None:
    request = Request(scope, receive)
    await JSONResponse({"sub": request.state.claims.subject})(scope, receive, send)


async def test_200_concurrent_requests_through_the_middleware_share_one_fetch(
    issuer: LocalIssuer, clock: Clock
) -> None:
    app = JWKSMiddleware(hello, issuers=[issuer.config()], clock=clock)
    transport = httpx.ASGITransport(app=app)  # no lifespan: keys load on the first request
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
        first = await client.get("/", headers={"Authorization": f"Bearer {issuer.issue()}"})
        assert first.status_code == 200
        assert jwks_requests(issuer) == 1
        issuer.rotate()

        responses = await asyncio.gather(
            *(
                client.get("/", headers={"Authorization": f"Bearer {issuer.issue(sub=f'user-{n}')}"})
                for n in range(200)
            )
        )

        assert [response.status_code for response in responses] == [200] * 200
        assert {response.json()["sub"] for response in responses} == {f"user-{n}" for n in range(200)}
        assert jwks_requests(issuer) == 2
        await app.verifier.aclose()


async def test_key_removed_from_the_jwks_is_refused_after_the_next_refresh_even_when_cached(
    issuer: LocalIssuer, started_verifier: VerifierFactory, clock: Clock
) -> None:
    async with started_verifier() as verifier:
        keys = verifier.key_store.lookup(issuer.url)
        assert keys is not None
        old_kid, old_token = issuer.kid, issuer.issue(expires_in=3600)
        await verifier.verify(old_token)  # now in the verified-token cache
        issuer.rotate()
        issuer.retire_old_keys()
        # Until the key set is fetched again, the old key is still trusted (cached or not).
        await verifier.verify(old_token)
        await verifier.verify(issuer.issue(expires_in=3600, kid=old_kid))
        assert jwks_requests(issuer) == 1

        clock.advance(901)
        assert keys.due()
        await keys.refresh()
        assert jwks_requests(issuer) == 2
        assert keys.state().key_ids == (issuer.kid,)

        with pytest.raises(UnknownKeyError):
            await verifier.verify(old_token)
        # That refusal asked the issuer once more (the kid might have come back); a second
        # refusal of the same kid is answered from the negative cache.
        assert jwks_requests(issuer) == 3
        with pytest.raises(UnknownKeyError):
            await verifier.verify(old_token)
        assert jwks_requests(issuer) == 3
        assert (await verifier.verify(issuer.issue())).subject == "user-123"


async def test_tokens_of_kept_keys_stay_valid_across_a_refresh(
    issuer: LocalIssuer, started_verifier: VerifierFactory, clock: Clock
) -> None:
    async with started_verifier() as verifier:
        keys = verifier.key_store.lookup(issuer.url)
        assert keys is not None
        token = issuer.issue(expires_in=3600)
        await verifier.verify(token)
        issuer.publish_next_key()  # the JWKS changes, the signing key stays

        clock.advance(901)
        await keys.refresh()

        assert len(keys.state().key_ids) == 2
        assert (await verifier.verify(token)).subject == "user-123"
        assert jwks_requests(issuer) == 2


def stray_token(issuer: LocalIssuer, clock: Clock, kid: str) -> str:
    """A token naming a kid the issuer never published (a client of another environment)."""
    now = int(clock())
    claims = {"iss": issuer.url, "sub": "stray", "aud": issuer.audience, "iat": now, "exp": now + 300}
    return forged_token(claims, {"alg": "RS256", "kid": kid})


async def test_a_rotation_seconds_after_a_stray_kid_is_accepted_a_second_later(
    issuer: LocalIssuer, clock: Clock, started_verifier: VerifierFactory
) -> None:
    async with started_verifier(refresh_cooldown=30) as verifier:
        clock.advance(5)
        with pytest.raises(UnknownKeyError):
            await verifier.verify(stray_token(issuer, clock, secrets.token_urlsafe(12)))
        assert jwks_requests(issuer) == 2  # the start-up load and the stray: the bucket is empty

        clock.advance(3)
        issuer.rotate()  # published and used at once
        with pytest.raises(UnknownKeyError, match="cooling down"):
            await verifier.verify(issuer.issue(sub="first"))
        clock.advance(1)  # the new kid comes back, as valid clients keep sending it
        assert (await verifier.verify(issuer.issue(sub="second"))).subject == "second"
        assert jwks_requests(issuer) == 3
        for n in range(10):
            await verifier.verify(issuer.issue(sub=f"user-{n}"))
        assert jwks_requests(issuer) == 3


async def test_a_client_that_keeps_sending_a_stray_kid_does_not_hold_up_a_rotation(
    issuer: LocalIssuer, clock: Clock, started_verifier: VerifierFactory
) -> None:
    stray = stray_token(issuer, clock, secrets.token_urlsafe(12))
    async with started_verifier(refresh_cooldown=30) as verifier:
        # The stray token every second: it spends the bucket once per cooldown, nothing more.
        for second in range(1, 200):
            clock.advance(1)
            before = jwks_requests(issuer)
            with pytest.raises(UnknownKeyError):
                await verifier.verify(stray)
            if second > 60 and jwks_requests(issuer) > before:
                break  # it has just emptied the bucket again
        assert jwks_requests(issuer) <= 1 + 1 + second // 30

        issuer.rotate()
        with pytest.raises(UnknownKeyError, match="cooling down"):
            await verifier.verify(issuer.issue(sub="first"))
        clock.advance(1)
        with pytest.raises(UnknownKeyError):
            await verifier.verify(stray)
        assert (await verifier.verify(issuer.issue(sub="second"))).subject == "second"
