"""The issuer is down, slow or answers nonsense: the last good keys stay in use for
`max_stale`, then tokens are refused, and everything recovers when the issuer comes back."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from integration_support import EventLog, VerifierFactory, jwks_requests, path_of
from starlette.responses import PlainTextResponse
from starlette.types import Receive, Scope, Send
from support import Clock

from jwks_middleware import JWKSMiddleware, KeysUnavailableError, StaleKeysError, UnknownKeyError
from jwks_middleware.testing import LocalIssuer

pytestmark = pytest.mark.anyio

MAX_STALE = 3600.0
COOLDOWN = 30.0
#: A short timeout, so the slow-issuer case costs half a second per attempt.
TIMEOUT = 0.5


@dataclass(frozen=True)
class Outage:
    name: str
    begin: Callable[[LocalIssuer], None]
    end: Callable[[LocalIssuer], None]
    #: Words of `IssuerState.last_error` that say what went wrong.
    error: str


OUTAGES = [
    Outage("connection refused", LocalIssuer.stop, LocalIssuer.start, "ConnectError"),
    Outage("HTTP 500", lambda issuer: issuer.fail_with(500), LocalIssuer.recover, "HTTP 500"),
    Outage(
        "slow JWKS",
        lambda issuer: issuer.slow_down(5.0, path=issuer.jwks_uri),
        LocalIssuer.recover,
        "timed out",
    ),
    Outage("not JSON", lambda issuer: issuer.serve_garbage(), LocalIssuer.recover, "valid JSON"),
    Outage(
        "HTML", lambda issuer: issuer.serve_garbage(content_type="text/html"), LocalIssuer.recover, "not JSON"
    ),
    Outage(
        "oversize",
        lambda issuer: issuer.serve_jwks(issuer.oversized_jwks()),
        LocalIssuer.recover,
        "more than 131072 bytes",
    ),
    Outage(
        "redirect",
        lambda issuer: issuer.redirect("https://elsewhere.example/jwks.json"),
        LocalIssuer.recover,
        "redirect",
    ),
    Outage(
        "empty key set",
        lambda issuer: issuer.serve_jwks({"keys": []}),
        LocalIssuer.recover,
        "no usable signing key",
    ),
    Outage("not a JWKS", lambda issuer: issuer.serve_jwks({"kty": "RSA"}), LocalIssuer.recover, "not a JWKS"),
]


@pytest.mark.parametrize("outage", OUTAGES, ids=[outage.name for outage in OUTAGES])
async def test_known_keys_serve_through_an_outage_until_max_stale_then_recover(
    outage: Outage,
    issuer: LocalIssuer,
    clock: Clock,
    started_verifier: VerifierFactory,
    event_log: EventLog,
) -> None:
    options = {"max_stale": MAX_STALE, "refresh_cooldown": COOLDOWN, "timeout": TIMEOUT}
    async with started_verifier(**options) as verifier:
        keys = verifier.key_store.lookup(issuer.url)
        assert keys is not None
        loaded = keys.state()
        assert loaded.ready
        assert loaded.fresh_until is not None
        outage.begin(issuer)

        # Past the JWKS's max-age (900 s): the refresh is due, and fails.
        clock.advance(901)
        assert keys.due()
        await keys.refresh()
        state = keys.state()
        assert state.failures == 1
        assert state.last_error is not None
        assert outage.error in state.last_error
        assert state.key_ids == loaded.key_ids
        assert event_log.kinds()["fetch_failed"] == 1
        assert event_log.kinds()["stale_keys_in_use"] == 1

        # Every token of a known key is still accepted, and none of them waits on the issuer.
        requests_before = issuer.requests.total()
        tokens = [issuer.issue(sub=f"user-{n}") for n in range(50)]
        claims = await asyncio.gather(*(verifier.verify(token) for token in tokens))
        assert len(claims) == 50
        assert issuer.requests.total() == requests_before
        assert verifier.ready()

        # The refresher keeps failing for most of max_stale; the keys stay in use.
        clock.advance(MAX_STALE - 60)
        await keys.refresh()
        assert keys.state().failures == 2
        cached = issuer.issue(expires_in=600)
        await verifier.verify(cached)

        # Past max_stale: refused, cached tokens included, after at most one more attempt.
        clock.advance(120)
        assert not verifier.ready()
        for token in (cached, *(issuer.issue() for _ in range(20)), cached):
            with pytest.raises(StaleKeysError) as refused:
                await verifier.verify(token)
            assert refused.value.status_code == 401
            assert refused.value.error == "invalid_token"
        # Those 22 refusals tried the issuer twice in all: the cooldown's token bucket (two
        # tokens, one more per cooldown) was full; the other 20 were refused without a fetch.
        assert keys.state().failures == 4
        assert event_log.kinds()["keys_expired"] == 2

        # The issuer is back: once the cooldown allows a fetch, a token brings the keys back.
        outage.end(issuer)
        clock.advance(COOLDOWN)
        assert (await verifier.verify(issuer.issue(sub="back"))).subject == "back"
        recovered = keys.state()
        assert recovered.failures == 0
        assert recovered.last_error is None
        assert recovered.ready
        assert verifier.ready()


async def test_outage_through_the_middleware_answers_200_then_401_then_200(
    issuer: LocalIssuer, clock: Clock
) -> None:
    async def ok(scope: Scope, receive: Receive, send: Send) -> None:
        await PlainTextResponse("ok")(scope, receive, send)

    app = JWKSMiddleware(ok, issuers=[issuer.config(max_stale=MAX_STALE)], clock=clock)
    await app.verifier.start()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:

        async def status() -> int:
            response = await client.get("/", headers={"Authorization": f"Bearer {issuer.issue()}"})
            return response.status_code

        issuer.stop()
        clock.advance(901)
        assert await status() == 200
        clock.advance(MAX_STALE)
        assert await status() == 401
        issuer.start()
        clock.advance(COOLDOWN)
        assert await status() == 200
    await app.verifier.aclose()


async def test_issuer_down_at_start_up_answers_503_fast_and_tries_at_most_twice_per_cooldown(
    issuer: LocalIssuer, clock: Clock, started_verifier: VerifierFactory
) -> None:
    issuer.fail_with(503)
    async with started_verifier(jwks_uri=issuer.jwks_uri) as verifier:
        assert jwks_requests(issuer) == 1  # start-up tried once; failures are not raised
        assert not verifier.ready()

        results = await asyncio.gather(
            *(verifier.verify(issuer.issue()) for _ in range(100)), return_exceptions=True
        )

        assert all(isinstance(result, KeysUnavailableError) for result in results)
        assert all(
            result.status_code == 503 for result in results if isinstance(result, KeysUnavailableError)
        )
        assert jwks_requests(issuer) == 2  # the start-up attempt + the bucket's one left

        issuer.recover()
        clock.advance(COOLDOWN)
        assert (await verifier.verify(issuer.issue())).subject == "user-123"
        assert jwks_requests(issuer) == 3
        assert verifier.ready()


async def test_a_failed_fetch_never_replaces_good_keys(
    issuer: LocalIssuer, clock: Clock, started_verifier: VerifierFactory
) -> None:
    async with started_verifier() as verifier:
        keys = verifier.key_store.lookup(issuer.url)
        assert keys is not None
        good = keys.state().key_ids
        faults: list[dict[str, Any] | bytes] = [
            {"keys": []},
            {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]},  # a secret is never taken from a URL
            b"[]",
            b"null",
        ]
        for fault in faults:
            issuer.serve_jwks(fault)
            clock.advance(901)
            await keys.refresh()
            assert keys.state().key_ids == good
            await verifier.verify(issuer.issue())
        assert keys.state().failures == 4


# -- a slow issuer: one deadline for the whole fetch ---------------------------------------------

#: A short fetch deadline, so the slow cases cost a second each.
DEADLINE = 1.0
#: How long a test waits before calling the fetch hung: far beyond the deadline.
HANG = 15.0


async def test_a_trickling_jwks_is_cut_off_at_the_deadline_and_waiting_requests_get_503(
    issuer: LocalIssuer, clock: Clock
) -> None:
    # A byte every 0.3 s: every read is within the 5 s read timeout, the whole would take minutes.
    issuer.trickle(0.3, path=issuer.jwks_uri)

    async def ok(scope: Scope, receive: Receive, send: Send) -> None:
        await PlainTextResponse("ok")(scope, receive, send)

    config = issuer.config(jwks_uri=issuer.jwks_uri, fetch_deadline=DEADLINE)
    app = JWKSMiddleware(ok, issuers=[config], clock=clock)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
        headers = {"Authorization": f"Bearer {issuer.issue()}"}
        responses = await asyncio.wait_for(
            asyncio.gather(*(client.get("/", headers=headers) for _ in range(5))), HANG
        )
    assert [response.status_code for response in responses] == [503] * 5
    assert all("retry-after" in response.headers for response in responses)
    (state,) = app.verifier.key_store.states()
    assert state.last_error is not None
    assert "not fetched within the fetch deadline (1 s)" in state.last_error
    assert jwks_requests(issuer) == 1  # one fetch, shared by the five requests
    await app.verifier.aclose()


async def test_one_deadline_covers_discovery_and_the_jwks_together(
    issuer: LocalIssuer, started_verifier: VerifierFactory
) -> None:
    issuer.trickle(0.3, path=issuer.discovery_url)
    async with started_verifier(start=False, fetch_deadline=DEADLINE) as verifier:
        with pytest.raises(KeysUnavailableError, match="fetch deadline"):
            await asyncio.wait_for(verifier.verify(issuer.issue()), HANG)
    assert (issuer.requests[path_of(issuer.discovery_url)], jwks_requests(issuer)) == (1, 0)


async def test_while_a_fetch_trickles_tokens_of_known_keys_are_served(
    issuer: LocalIssuer, started_verifier: VerifierFactory
) -> None:
    async with started_verifier(jwks_uri=issuer.jwks_uri, fetch_deadline=DEADLINE) as verifier:
        old_kid = issuer.kid
        issuer.rotate()
        issuer.trickle(0.3, path=issuer.jwks_uri)
        waiting = asyncio.ensure_future(verifier.verify(issuer.issue(sub="new key")))
        assert await asyncio.to_thread(issuer.wait_for_requests, 2, path=issuer.jwks_uri)

        served = [await verifier.verify(issuer.issue(sub=f"user-{n}", kid=old_kid)) for n in range(20)]

        assert len(served) == 20
        assert not waiting.done()  # the new kid's request waits for the fetch; nobody else does
        with pytest.raises(UnknownKeyError):
            await asyncio.wait_for(waiting, HANG)
        assert verifier.ready()  # the deadline cost the fetch, not the keys
