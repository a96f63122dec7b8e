"""In-process contenders, driven by `bench_driver`, for one algorithm; and where the time of a
first-sight verification goes, step by step."""

from __future__ import annotations

import asyncio
import functools
import itertools
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from bench_apps import (
    PyJWTMiddleware,
    bare_fastapi,
    bare_starlette,
    fastapi_one_security,
    fetch_jwks,
    find_middleware,
    hand_written_cache_starlette,
    hand_written_starlette,
    joserfc_starlette,
    lookup_only_starlette,
    ours_fastapi_dependency,
    ours_fastapi_middleware,
    ours_starlette,
    pass_through_starlette,
    pyjwt_fastapi,
    pyjwt_starlette,
    signature_only_starlette,
)
from bench_driver import Driver, Headers, Lifespan, Variant, request_headers
from bench_tokens import RawSignature, jws_check, mint, raw_signature, raw_signatures, raw_verifier
from bench_tricks import CACHED_IN_REQUEST, IN_REQUEST, Swapped
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from starlette.types import ASGIApp

from jwks_middleware import Issuer
from jwks_middleware._algorithms import algorithm_model
from jwks_middleware._claims import Claims
from jwks_middleware._events import Events
from jwks_middleware._jwk import VerificationKey
from jwks_middleware._jws import UnverifiedToken, parse_token
from jwks_middleware._keys.issuer_keys import IssuerKeys
from jwks_middleware._policy import check_bearer, check_claims, check_header_policy
from jwks_middleware._token_cache import TokenCache
from jwks_middleware._token_cache import Verified as _Verified
from jwks_middleware._verify import TokenVerifier
from jwks_middleware.testing import LocalIssuer

#: Requests each first-sight variant sends before timing (warm-up and batch-size probes).
WARM_REQUESTS: Final = 60

# (key, label) of every variant, in the order of the results tables.
LABELS: Final = {
    "starlette": "bare Starlette (no auth)",
    "pass_through": "reference: pass-through pure-ASGI middleware",
    "lookup_only": "reference: header scan + dict lookup only, no checks",
    "hand_cached": "reference: hand-written cache hit (the same checks and objects, no calls)",
    "ours_cached": "ours: JWKSMiddleware, repeated token (cached)",
    "ours_first": "ours: JWKSMiddleware, new token every request (first sight)",
    "ours_first_nocache": "ours: first sight, token cache off (`token_cache_size=0`)",
    "pyjwt": "careful PyJWT middleware (PyJWKClient, cached keys)",
    "joserfc": "naive joserfc KeySet middleware",
    "hand_written": "reference: hand-written check on `cryptography` (same checks, no strictness)",
    "signature_only": "reference: raw signature check inside a request, nothing else",
    "floor": "raw `cryptography` signature check only, in a loop (floor)",
    "trick_control": "tricks: ours, first sight, through the swapping layer (control)",
    "trick_no_memo": "tricks: the same without the header memo",
    "trick_scanner": "tricks: the same with the JSON scanner called directly",
    "trick_joserfc": "tricks: the same with joserfc's `verify` instead of the direct check",
    "trick_cached_control": "tricks: ours, cached token, through the swapping layer (control)",
    "trick_cached_header_token": "tricks: the same with the header read through `header_token`",
    "fastapi": "bare FastAPI (no auth)",
    "fastapi_security": "reference: FastAPI + one trivial `Security` dependency",
    "fastapi_ours_cached": "FastAPI + our dependency (JWKSAuth), repeated token",
    "fastapi_ours_first": "FastAPI + our dependency (JWKSAuth), first sight",
    "fastapi_mw_cached": "FastAPI + JWKSMiddleware + AuthClaims, repeated token",
    "fastapi_pyjwt": "FastAPI + HTTPBearer + PyJWT dependency",
}
#: Variants whose every request carries a token never seen before.
FIRST_SIGHT: Final = frozenset(
    {
        "ours_first",
        "ours_first_nocache",
        "pyjwt",
        "joserfc",
        "fastapi_ours_first",
        "fastapi_pyjwt",
        "hand_written",
        "signature_only",
        *IN_REQUEST,
    }
)
#: The variants of each algorithm: every one for RS256; for the others, what their targets need.
VARIANTS: Final = {
    "RS256": tuple(LABELS),
    "ES256": (
        "starlette",
        "lookup_only",
        "hand_cached",
        "ours_cached",
        "ours_first",
        "pyjwt",
        "hand_written",
        "signature_only",
    ),
    "EdDSA": (
        "starlette",
        "lookup_only",
        "hand_cached",
        "ours_cached",
        "ours_first",
        "pyjwt",
        "hand_written",
        "signature_only",
    ),
}


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
    async with TokenVerifier([our_issuer(issuer)]) as verifier:
        repeated_claims = await verifier.verify(repeated_token)
    public_key = load_pem_public_key(issuer.public_key_pem().encode("ascii"))
    pyjwt_app = pyjwt_starlette(*peer)
    factories: dict[str, Callable[[], ASGIApp]] = {
        "starlette": bare_starlette,
        "pass_through": pass_through_starlette,
        "lookup_only": lambda: lookup_only_starlette(repeated_token),
        "hand_cached": lambda: hand_written_cache_starlette(repeated_token, repeated_claims),
        "ours_cached": lambda: ours_starlette(our_issuer(issuer)),
        "ours_first": lambda: ours_starlette(our_issuer(issuer)),
        "ours_first_nocache": lambda: ours_starlette(our_issuer(issuer), token_cache_size=0),
        "pyjwt": lambda: pyjwt_app,
        "joserfc": lambda: joserfc_starlette(jwks, issuer.url, issuer.audience, [alg]),
        "hand_written": lambda: hand_written_starlette(
            jws_check(public_key, alg), alg, issuer.kid, issuer.url, issuer.audience
        ),
        "signature_only": lambda: signature_only_starlette(_signature_checks(public_key, alg, pool)),
        "fastapi": bare_fastapi,
        "fastapi_security": fastapi_one_security,
        "fastapi_ours_cached": lambda: ours_fastapi_dependency(our_issuer(issuer)),
        "fastapi_ours_first": lambda: ours_fastapi_dependency(our_issuer(issuer)),
        "fastapi_mw_cached": lambda: ours_fastapi_middleware(our_issuer(issuer)),
        **{
            key: functools.partial(lambda r: Swapped(ours_starlette(our_issuer(issuer)), r), replacements)
            for key, replacements in {**IN_REQUEST, **CACHED_IN_REQUEST}.items()
        },
    }
    keys = [key for key in VARIANTS[alg] if key != "floor"]
    apps: dict[str, ASGIApp] = {}
    for key in keys:
        if key == "fastapi_pyjwt":
            apps[key] = await asyncio.to_thread(lambda: pyjwt_fastapi(*peer, warm_kid=issuer.kid))
        else:
            apps[key] = factories[key]()
    for app in apps.values():
        lifespan = Lifespan(app)
        await lifespan.startup()  # our apps load their keys here (discovery, then JWKS)
        contenders.lifespans.append(lifespan)
    if "pyjwt" in apps:
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
    floor = Cursor(raw_signatures(list(pool), alg), f"{alg} floor")
    contenders.variants.append(
        Variant("floor", LABELS["floor"], _floor_batch(raw_verifier(public_key, alg), floor))
    )
    return contenders


def _signature_checks(public_key: Any, alg: str, tokens: Sequence[str]) -> dict[bytes, Callable[[], None]]:
    """The raw signature check of each token, by the bytes of its Authorization header."""
    check = raw_verifier(public_key, alg)
    return {
        request_headers(token)[-1][1]: functools.partial(check, raw_signature(token, alg)) for token in tokens
    }


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

#: The steps of a first-sight verification, in `TokenVerifier.begin`'s order; the three
#: signature rows are alternatives (ours, joserfc's wrapper, `cryptography` alone).
STEPS: Final = (
    "parse_token (split, base64url, strict JSON, header rules)",
    "issuer lookup (`iss` to its keys)",
    "header policy (alg, typ)",
    "claim checks (exp, nbf, iat, iss, aud, cnf)",
    "key lookup (kid, alg)",
    "signature: ours (`VerificationKey.verify`, `cryptography` directly)",
    "signature: joserfc's `verify` (before)",
    "signature: raw `cryptography` call (floor)",
    "Claims object",
    "token cache insert",
    "event (counter, hook)",
)
SIGNATURE_STEPS: Final = STEPS[5:8]
WHOLE_VERIFY: Final = "TokenVerifier.verify, whole (cache miss, then insert)"


@dataclass(frozen=True)
class Stage:
    """One step, in µs per token: alone in a loop (`warm`) and within whole verifications
    (`cold`: the CPU caches as the other steps, and the signature above all, leave them)."""

    name: str
    warm: float
    cold: float


@dataclass
class _Fixture:
    verifier: TokenVerifier
    keys: IssuerKeys
    key: VerificationKey
    alg: str
    tokens: Sequence[str]
    parsed: list[UnverifiedToken]
    raw: list[RawSignature]
    raw_check: Callable[[RawSignature], None]


async def first_sight_stages(issuer: LocalIssuer, tokens: Sequence[str], repeats: int = 5) -> list[Stage]:
    """Each step of a first-sight verification timed warm and cold over `tokens`."""
    verifier = TokenVerifier([our_issuer(issuer)])
    await verifier.start()
    try:
        keys = verifier.key_store.lookup(issuer.url)
        assert keys is not None
        alg = issuer.algorithm
        parsed = [parse_token(token, max_bytes=16 * 1024) for token in tokens]
        key = await keys.find_key(parsed[0].header.get("kid"), alg)
        public_key = load_pem_public_key(issuer.public_key_pem().encode("ascii"))
        fixture = _Fixture(
            verifier,
            keys,
            key,
            alg,
            tokens,
            parsed,
            raw_signatures(list(tokens), alg),
            raw_verifier(public_key, alg),
        )
        warm = await _warm_steps(fixture, repeats)
        cold = await _cold_steps(fixture)
        stages = [Stage(name, warm[name], cold[name]) for name in STEPS]
        whole = await _whole_verify(fixture, repeats)
        return [*stages, Stage(WHOLE_VERIFY, whole, whole)]
    finally:
        await verifier.aclose()


async def _warm_steps(f: _Fixture, repeats: int) -> dict[str, float]:
    issuer, now, model = f.keys.issuer, time.time(), algorithm_model(f.alg)
    events = Events()
    claims = [Claims._adopt(item.claims, issuer.scope_claims, issuer.role_claims) for item in f.parsed]

    def key_lookup() -> None:
        for item in f.parsed:
            f.keys.loaded_key(item.header.get("kid"), f.alg)

    def parse() -> None:
        for token in f.tokens:
            parse_token(token, max_bytes=16 * 1024)

    def lookup() -> None:
        for item in f.parsed:
            f.verifier.key_store.lookup(item.claims["iss"])

    def header_policy() -> None:
        for item in f.parsed:
            check_header_policy(item.header, issuer)

    def claim_checks() -> None:
        for item in f.parsed:
            check_claims(item.claims, issuer, now)
            check_bearer(item.claims, issuer)

    def ours() -> None:
        for item in f.parsed:
            f.key.verify(f.alg, item.signing_input, item.signature)

    def joserfc() -> None:
        for item in f.parsed:
            model.verify(item.signing_input, item.signature, f.key.key)

    def raw() -> None:
        for item in f.raw:
            f.raw_check(item)

    def claims_objects() -> None:
        for item in f.parsed:
            Claims._adopt(item.claims, issuer.scope_claims, issuer.role_claims)

    def events_() -> None:
        for _ in f.parsed:
            events.verified(issuer.issuer, 0.0)

    steps: dict[str, Callable[[], object]] = {
        STEPS[0]: parse,
        STEPS[1]: lookup,
        STEPS[2]: header_policy,
        STEPS[3]: claim_checks,
        STEPS[4]: key_lookup,
        STEPS[5]: ours,
        STEPS[6]: joserfc,
        STEPS[7]: raw,
        STEPS[8]: claims_objects,
        STEPS[9]: lambda: _insert_all(TokenCache(len(f.tokens) * 2), f, claims),
        STEPS[10]: events_,
    }
    return {name: await _best(function, len(f.tokens), repeats) for name, function in steps.items()}


def _insert_all(cache: TokenCache, f: _Fixture, claims: list[Claims]) -> None:
    for token, result in zip(f.tokens, claims, strict=True):
        cache.put(_Verified(token, result, f.keys, f.key, 0.0, 1e12))


async def _cold_steps(f: _Fixture) -> dict[str, float]:
    """Whole verifications of every token, each step timed where it runs; once per signature
    alternative. The median over tokens of each step (the first pass gives the common steps)."""
    samples: dict[str, list[float]] = {name: [] for name in STEPS}
    model = algorithm_model(f.alg)
    alternatives: dict[str, Callable[[int, UnverifiedToken], object]] = {
        SIGNATURE_STEPS[0]: lambda index, item: f.key.verify(f.alg, item.signing_input, item.signature),
        SIGNATURE_STEPS[1]: lambda index, item: model.verify(item.signing_input, item.signature, f.key.key),
        SIGNATURE_STEPS[2]: lambda index, item: f.raw_check(f.raw[index]),
    }
    for signature_step, check in alternatives.items():
        cache, events, clock = TokenCache(len(f.tokens) * 2), Events(), time.perf_counter
        for index, token in enumerate(f.tokens):
            t0 = clock()
            item = parse_token(token, max_bytes=16 * 1024)
            t1 = clock()
            keys = f.verifier.key_store.lookup(item.claims["iss"])
            assert keys is not None
            t2 = clock()
            check_header_policy(item.header, keys.issuer)
            t3 = clock()
            exp, _ = check_claims(item.claims, keys.issuer, time.time())
            check_bearer(item.claims, keys.issuer)
            t4 = clock()
            key = keys.loaded_key(item.header.get("kid"), f.alg)
            t5 = clock()
            assert key is not None
            check(index, item)
            t6 = clock()
            result = Claims._adopt(item.claims, keys.issuer.scope_claims, keys.issuer.role_claims)
            t7 = clock()
            cache.put(_Verified(token, result, keys, key, float("-inf"), exp))
            t8 = clock()
            events.verified(keys.issuer.issuer, t8 - t0)
            t9 = clock()
            samples[signature_step].append(t6 - t5)
            if signature_step == SIGNATURE_STEPS[0]:
                for name, start, end in zip(
                    STEPS[:5], (t0, t1, t2, t3, t4), (t1, t2, t3, t4, t5), strict=True
                ):
                    samples[name].append(end - start)
                for name, start, end in zip(STEPS[8:], (t6, t7, t8), (t7, t8, t9), strict=True):
                    samples[name].append(end - start)
    return {name: statistics.median(values) for name, values in samples.items()}


async def _whole_verify(f: _Fixture, repeats: int) -> float:
    cache = f.verifier._cache
    assert cache is not None
    best = float("inf")
    for _ in range(repeats):
        cache.forget(frozenset({f.key}))  # every token is new again
        start = time.perf_counter()
        for token in f.tokens:
            await f.verifier.verify(token)
        best = min(best, (time.perf_counter() - start) / len(f.tokens))
    return best


async def _best(function: Callable[[], object], count: int, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        outcome = function()
        if asyncio.iscoroutine(outcome):
            await outcome
        best = min(best, (time.perf_counter() - start) / count)
    return best
