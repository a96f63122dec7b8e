"""The paths measured in fetches and bytes, not time: unknown `kid` floods, key rotation, and
the memory of a full token cache."""

from __future__ import annotations

import asyncio
import gc
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from bench_apps import PyJWTMiddleware, fetch_jwks, find_middleware, hello, joserfc_starlette, pyjwt_starlette
from bench_driver import Driver, Lifespan, request_headers
from bench_tokens import AUDIENCE, mint, random_kid_tokens
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from jwks_middleware import JWKSMiddleware
from jwks_middleware.testing import LocalIssuer

FLOOD_TOKENS: Final = 300
ROTATION_TOKENS: Final = 100
#: How far "later" is: past both libraries' 30 s refresh cooldown.
LATER: Final = 60.0
CONTENDERS: Final = ("ours", "pyjwt", "joserfc")


@dataclass(frozen=True)
class FetchRow:
    contender: str
    scenario: str
    when: str
    requests: int
    fetches: int
    accepted: int
    refused: int


async def count_fetches(contender: str, scenario: str, *, later: bool) -> FetchRow:
    """Send a flood of unknown-`kid` tokens, or tokens of a just rotated key, to a contender
    started moments ago (or, with `later`, 60 s later); count the issuer's HTTP requests."""
    offset = [0.0]

    def clock() -> float:
        return time.time() + offset[0]

    with LocalIssuer.serve(audience=AUDIENCE) as issuer:
        app = _app(contender, issuer, clock)
        lifespan = Lifespan(app)
        await lifespan.startup()
        if contender == "pyjwt":
            middleware = find_middleware(app, PyJWTMiddleware)
            await asyncio.to_thread(middleware.warm, issuer.kid)
        if later:
            offset[0] = LATER  # our middleware's clock: its refresh allowance refills
            if contender == "pyjwt":
                # PyJWKClient reads time.monotonic() itself: age its last fetch instead.
                middleware.jwks._last_successful_fetch = time.monotonic() - LATER
        if scenario == "unknown kid flood":
            tokens = random_kid_tokens(issuer, FLOOD_TOKENS)
        else:
            issuer.rotate()
            tokens = [mint(issuer, index) for index in range(ROTATION_TOKENS)]
        before = issuer.requests.total()
        driver = Driver()
        await driver.run(app, [request_headers(token) for token in tokens])
        fetches = issuer.requests.total() - before
        await lifespan.shutdown()
    accepted = driver.statuses.get(200, 0)
    return FetchRow(
        contender,
        scenario,
        f"{LATER:.0f} s after start-up" if later else "right after start-up",
        len(tokens),
        fetches,
        accepted,
        len(tokens) - accepted,
    )


def _app(contender: str, issuer: LocalIssuer, clock: Callable[[], float]) -> Starlette:
    if contender == "ours":
        middleware = Middleware(JWKSMiddleware, issuers=[issuer.config()], clock=clock)
        return Starlette(routes=[Route("/", hello)], middleware=[middleware])
    if contender == "pyjwt":
        return pyjwt_starlette(issuer.jwks_uri, issuer.url, issuer.audience, ["RS256"])
    return joserfc_starlette(fetch_jwks(issuer.jwks_uri), issuer.url, issuer.audience, ["RS256"])


async def fetch_counts() -> list[FetchRow]:
    """Every contender, scenario and moment."""
    rows = []
    for scenario in ("unknown kid flood", "key rotation"):
        for contender in CONTENDERS:
            for later in (False, True):
                rows.append(await count_fetches(contender, scenario, later=later))
    return rows


# -- memory ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MemoryResult:
    tokens: int
    cached: int
    bytes: int
    token_length: int


async def cached_tokens_memory(issuer: LocalIssuer, tokens: Sequence[str]) -> MemoryResult:
    """Memory the middleware holds after `len(tokens)` distinct tokens went through it, measured
    with tracemalloc: what a cache entry keeps (the token, its claims, the Starlette auth
    objects), nothing of the requests themselves."""
    app = Starlette(
        routes=[Route("/", hello)], middleware=[Middleware(JWKSMiddleware, issuers=[issuer.config()])]
    )
    lifespan = Lifespan(app)
    await lifespan.startup()
    driver = Driver()
    # Warm up without a token (a 401), so that every token of the run stays cached: the cache
    # holds `token_cache_size` (10,000) tokens at most.
    await driver.run(app, [request_headers("")[:-1]])
    # The request headers are the server's buffers, made before tracing; the middleware's own
    # copy of each token (the cache key) is made while tracing and counted.
    headers = [request_headers(token) for token in tokens]
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        await driver.run(app, headers)
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    verifier = find_middleware(app, JWKSMiddleware).verifier
    cache = verifier._cache
    # Its two generations (see `TokenCache`); a token is in both only after a hit in the old one.
    cached = len({**cache._old, **cache._young}) if cache is not None else 0
    await lifespan.shutdown()
    if driver.statuses != {401: 1, 200: len(tokens)}:
        raise RuntimeError(f"memory run: unexpected statuses {driver.statuses}")
    return MemoryResult(len(tokens), cached, after - before, len(tokens[0]))
