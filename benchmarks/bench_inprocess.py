"""In-process contenders, driven by `bench_driver`, for one algorithm."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from bench_apps import (
    PyJWTMiddleware,
    bare_fastapi,
    bare_starlette,
    fetch_jwks,
    find_middleware,
    joserfc_starlette,
    lookup_only_starlette,
    ours_fastapi_dependency,
    ours_fastapi_middleware,
    ours_starlette,
    pass_through_starlette,
    pyjwt_fastapi,
    pyjwt_starlette,
)
from bench_driver import Driver, Headers, Lifespan, Variant, request_headers
from bench_tokens import RawSignature, mint, raw_signatures, raw_verifier
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from starlette.types import ASGIApp

from jwks_middleware import Issuer
from jwks_middleware._algorithms import algorithm_model
from jwks_middleware._claims import Claims
from jwks_middleware._jws import parse_token
from jwks_middleware._policy import check_claims, check_header_policy
from jwks_middleware._verify import TokenVerifier
from jwks_middleware.testing import LocalIssuer

#: Requests each first-sight variant sends before timing (warm-up and batch-size probes).
WARM_REQUESTS: Final = 60

# (key, label) of every variant, in the order of the results tables.
LABELS: Final = {
    "starlette": "bare Starlette (no auth)",
    "pass_through": "reference: pass-through pure-ASGI middleware",
    "lookup_only": "reference: header scan + dict lookup only, no checks",
    "ours_cached": "ours: JWKSMiddleware, repeated token (cached)",
    "ours_first": "ours: JWKSMiddleware, new token every request (first sight)",
    "ours_first_nocache": "ours: first sight, token cache off (`token_cache_size=0`)",
    "pyjwt": "careful PyJWT middleware (PyJWKClient, cached keys)",
    "joserfc": "naive joserfc KeySet middleware",
    "floor": "raw `cryptography` signature check only (floor)",
    "fastapi": "bare FastAPI (no auth)",
    "fastapi_ours_cached": "FastAPI + our dependency (JWKSAuth), repeated token",
    "fastapi_ours_first": "FastAPI + our dependency (JWKSAuth), first sight",
    "fastapi_mw_cached": "FastAPI + JWKSMiddleware + AuthClaims, repeated token",
    "fastapi_pyjwt": "FastAPI + HTTPBearer + PyJWT dependency",
}
#: Variants whose every request carries a token never seen before.
FIRST_SIGHT: Final = frozenset(
    {"ours_first", "ours_first_nocache", "pyjwt", "joserfc", "fastapi_ours_first", "fastapi_pyjwt"}
)
#: Names of two steps of the first-sight breakdown.
SIGNATURE_STEP: Final = "joserfc signature verification"
WHOLE_VERIFY: Final = "TokenVerifier.verify, whole (cache miss, then insert)"


class Cursor:
    """Hands out consecutive, never repeated items of a pool."""

    def __init__(self, items: Sequence[Any], name: str) -> None:
        self.items = items
        self.name = name
        self.position = 0

    def take(self, count: int) -> Sequence[Any]:
        start, self.position = self.position, self.position + count
        if self.position > len(self.items):
            raise RuntimeError(f"{self.name}: the token pool is exhausted; mint more tokens")
        return self.items[start : self.position]


@dataclass
class Contenders:
    """The apps of one algorithm, started, and their variants."""

    alg: str
    issuer: LocalIssuer
    variants: list[Variant] = field(default_factory=list)
    drivers: dict[str, Driver] = field(default_factory=dict)
    lifespans: list[Lifespan] = field(default_factory=list)
    apps: dict[str, ASGIApp] = field(default_factory=dict)

    def by_key(self, key: str) -> Variant:
        return next(variant for variant in self.variants if variant.key == key)

    def check_statuses(self) -> None:
        """Every timed request must have been answered 200, or the numbers mean nothing."""
        for key, driver in self.drivers.items():
            if set(driver.statuses) != {200}:
                raise RuntimeError(f"{self.alg} {key}: unexpected statuses {driver.statuses}")

    async def stop(self) -> None:
        for lifespan in self.lifespans:
            await lifespan.shutdown()


def our_issuer(issuer: LocalIssuer) -> Issuer:
    """Our configuration of the local issuer: `jwks_uri` found by OIDC discovery."""
    return issuer.config()


async def start_contenders(issuer: LocalIssuer, pool: Sequence[str]) -> Contenders:
    """Build, start and warm every contender of `issuer`'s algorithm."""
    alg = issuer.algorithm
    contenders = Contenders(alg, issuer)
    peer = (issuer.jwks_uri, issuer.url, issuer.audience, [alg])
    jwks = await asyncio.to_thread(fetch_jwks, issuer.jwks_uri)
    repeated_token = mint(issuer, 10**9)
    pyjwt_app = pyjwt_starlette(*peer)
    apps: dict[str, ASGIApp] = {
        "starlette": bare_starlette(),
        "pass_through": pass_through_starlette(),
        "lookup_only": lookup_only_starlette(repeated_token),
        "ours_cached": ours_starlette(our_issuer(issuer)),
        "ours_first": ours_starlette(our_issuer(issuer)),
        "ours_first_nocache": ours_starlette(our_issuer(issuer), token_cache_size=0),
        "pyjwt": pyjwt_app,
        "joserfc": joserfc_starlette(jwks, issuer.url, issuer.audience, [alg]),
        "fastapi": bare_fastapi(),
        "fastapi_ours_cached": ours_fastapi_dependency(our_issuer(issuer)),
        "fastapi_ours_first": ours_fastapi_dependency(our_issuer(issuer)),
        "fastapi_mw_cached": ours_fastapi_middleware(our_issuer(issuer)),
        "fastapi_pyjwt": await asyncio.to_thread(lambda: pyjwt_fastapi(*peer, warm_kid=issuer.kid)),
    }
    for app in apps.values():
        lifespan = Lifespan(app)
        await lifespan.startup()  # our apps load their keys here (discovery, then JWKS)
        contenders.lifespans.append(lifespan)
    await asyncio.to_thread(find_middleware(pyjwt_app, PyJWTMiddleware).warm, issuer.kid)
    contenders.apps = apps

    repeated = request_headers(repeated_token)
    pool_headers = [request_headers(token) for token in pool]
    for key, app in apps.items():
        driver = contenders.drivers[key] = Driver()
        if key in FIRST_SIGHT:
            batch = _first_sight_batch(driver, app, Cursor(pool_headers, f"{alg} {key}"))
        else:
            batch = _repeated_batch(driver, app, repeated)
        contenders.variants.append(Variant(f"{key}", LABELS[key], batch))
    public_key = load_pem_public_key(issuer.public_key_pem().encode("ascii"))
    floor = Cursor(raw_signatures(list(pool), alg), f"{alg} floor")
    contenders.variants.append(
        Variant("floor", LABELS["floor"], _floor_batch(raw_verifier(public_key, alg), floor))
    )
    return contenders


def _repeated_batch(driver: Driver, app: ASGIApp, headers: Headers) -> Callable[[int], Any]:
    async def batch(count: int) -> float:
        return await driver.run(app, itertools.repeat(headers, count))

    return batch


def _first_sight_batch(driver: Driver, app: ASGIApp, cursor: Cursor) -> Callable[[int], Any]:
    async def batch(count: int) -> float:
        return await driver.run(app, cursor.take(count))

    return batch


def _floor_batch(check: Callable[[RawSignature], None], cursor: Cursor) -> Callable[[int], Any]:
    async def batch(count: int) -> float:
        items = cursor.take(count)
        start = time.perf_counter()
        for item in items:
            check(item)
        return time.perf_counter() - start

    return batch


# -- where the first-sight time goes -----------------------------------------------------------


@dataclass(frozen=True)
class Stage:
    name: str
    seconds: float


async def first_sight_stages(issuer: LocalIssuer, tokens: Sequence[str], repeats: int = 5) -> list[Stage]:
    """Each step of `TokenVerifier.verify` on tokens it has not seen, timed on its own (best of
    `repeats` passes over `tokens`), to show where the first-sight time goes."""
    verifier = TokenVerifier([our_issuer(issuer)])
    await verifier.start()
    try:
        keys = verifier.key_store.lookup(issuer.url)
        assert keys is not None
        parsed = [parse_token(token, max_bytes=16 * 1024) for token in tokens]
        now = time.time()
        key = await keys.find_key(parsed[0].header.get("kid"), issuer.algorithm)
        model = algorithm_model(issuer.algorithm)

        async def find_key() -> None:
            for item in parsed:
                await keys.find_key(item.header.get("kid"), item.header["alg"])

        async def verify_all() -> None:
            for token in tokens:
                await verifier.verify(token)

        def checks() -> None:
            for item in parsed:
                check_header_policy(item.header, keys.issuer)
                check_claims(item.claims, keys.issuer, now)

        def signature() -> None:
            for item in parsed:
                model.verify(item.signing_input, item.signature, key.key)

        def claims() -> None:
            for item in parsed:
                Claims._adopt(dict(item.claims), keys.issuer.scope_claims, keys.issuer.role_claims)

        def parse() -> None:
            for token in tokens:
                parse_token(token, max_bytes=16 * 1024)

        stages = [
            ("parse_token (split, base64url, strict JSON, header rules)", parse),
            ("issuer policy and claims checks", checks),
            ("key lookup (issuer, kid, alg)", find_key),
            (SIGNATURE_STEP, signature),
            ("Claims object", claims),
        ]
        result = []
        for name, function in stages:
            result.append(Stage(name, await _best(function, len(tokens), repeats)))
        cache = verifier._cache
        assert cache is not None
        best_total = float("inf")
        for _ in range(repeats):
            cache.forget(frozenset({key}))  # every token is new again
            start = time.perf_counter()
            await verify_all()
            best_total = min(best_total, (time.perf_counter() - start) / len(tokens))
        result.append(Stage(WHOLE_VERIFY, best_total))
        return result
    finally:
        await verifier.aclose()


async def _best(function: Callable[[], Any], count: int, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        outcome = function()
        if asyncio.iscoroutine(outcome):
            await outcome
        best = min(best, (time.perf_counter() - start) / count)
    return best
