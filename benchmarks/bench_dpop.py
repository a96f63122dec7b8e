"""Where the time of a DPoP request goes, ES256 throughout.

Run: `python benchmarks/bench_dpop.py` (``--print`` only prints the section). It rewrites the
"DPoP cost, piece by piece" section of `benchmarks/RESULTS.md`, and nothing else.

Interleaved rounds, medians, of:

- the floor: one bare ES256 signature check by `cryptography`;
- one proof check (`verify_proof`) of a client seen before (its key already imported), and of
  a new client (key import and thumbprint too);
- in-process requests through `JWKSMiddleware`: a cached bearer JWT, and a cached DPoP-bound
  JWT with a new proof each request (the proofs are made untimed).

The difference of the two requests is what DPoP costs a request; it splits into the proof's
signature (the floor), the proof's other checks (proof check minus floor) and the wiring around
them (the rest: the `DPoP` header, the request URI, the bound-token cache, the binding).
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Final

from bench_driver import COMMON_HEADERS, Driver, Headers, Variant, calibrate, interleaved_rounds
from bench_fleet import write_section
from bench_tokens import es256_floor
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from jwks_middleware import DPoPPolicy, JWKSMiddleware, MemoryReplayStore
from jwks_middleware._dpop import verify_proof
from jwks_middleware.testing import DPoPKey, LocalIssuer, dpop_bound_claims

SECTION: Final = "## DPoP cost, piece by piece"
ROUNDS: Final = 30
URL: Final = "http://127.0.0.1:8000/"
POLICY: Final = DPoPPolicy(max_age=3600)


async def ok(request: object) -> PlainTextResponse:
    return PlainTextResponse("ok")


def api(issuer: LocalIssuer) -> ASGIApp:
    config = issuer.config(jwks=issuer.jwks(), dpop="accepted")
    return Starlette(
        routes=[Route("/", ok)], middleware=[Middleware(JWKSMiddleware, issuers=[config], dpop=POLICY)]
    )


def headers(scheme: str, token: str, proof: str | None = None) -> Headers:
    extra = [] if proof is None else [(b"dpop", proof.encode("ascii"))]
    return [*COMMON_HEADERS, (b"authorization", f"{scheme} {token}".encode("ascii")), *extra]


def proof_checks(keys: Callable[[int], list[DPoPKey]], token: str) -> Callable[[int], Awaitable[float]]:
    """`n` proof checks of proofs by `keys(n)`, made untimed, against a store of their own."""
    store = MemoryReplayStore()

    async def batch(n: int) -> float:
        proofs = [key.proof("GET", URL, access_token=token) for key in keys(n)]
        start = time.perf_counter()
        for proof in proofs:
            await verify_proof(
                proof,
                method="GET",
                url=URL,
                access_token=token,
                policy=POLICY,
                replay_store=store,
                now=time.time(),
            )
        return time.perf_counter() - start

    return batch


async def main() -> str:
    issuer = LocalIssuer(algorithm="ES256")
    key = DPoPKey("ES256")
    app, driver = api(issuer), Driver()
    bearer = issuer.issue(expires_in=3600)
    bound = issuer.issue(expires_in=3600, **dpop_bound_claims(key))
    for first in (
        headers("Bearer", bearer),
        headers("DPoP", bound, key.proof("GET", URL, access_token=bound)),
    ):
        assert await driver.status_of(app, first) == 200  # warm: both tokens cached, the key known

    async def bearer_requests(n: int) -> float:
        return await driver.run(app, [headers("Bearer", bearer)] * n)

    async def dpop_requests(n: int) -> float:
        proofs = [key.proof("GET", URL, access_token=bound) for _ in range(n)]  # made untimed
        return await driver.run(app, [headers("DPoP", bound, proof) for proof in proofs])

    floor = es256_floor()

    variants = [
        Variant("floor", "bare ES256 signature check (floor)", floor),
        Variant("known", "proof check, client seen before", proof_checks(lambda n: [key] * n, bound)),
        Variant(
            "new",
            "proof check, new client",
            proof_checks(lambda n: [DPoPKey("ES256") for _ in range(n)], bound),
        ),
        Variant("bearer", "request: bearer JWT, cached", bearer_requests),
        Variant("dpop", "request: DPoP-bound JWT, cached, a new proof", dpop_requests),
    ]
    await calibrate(variants, 0.05, limits={"new": 50, "known": 400, "dpop": 400})
    await interleaved_rounds(variants, ROUNDS)
    assert set(driver.statuses) == {200}, driver.statuses
    return render(variants)


def render(variants: list[Variant]) -> str:
    floor, known, _, bearer, dpop = (variant.median * 1e6 for variant in variants)
    extra = dpop - bearer
    written = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return "\n".join(
        [
            SECTION,
            "",
            f"Written by `python benchmarks/bench_dpop.py` on {written}: ES256, {ROUNDS} interleaved "
            "rounds, medians; requests in-process through `JWKSMiddleware`.",
            "",
            "| measured | µs |",
            "|---|---:|",
            *(f"| {variant.label} | {variant.median * 1e6:.1f} |" for variant in variants),
            "",
            f"- A DPoP request with a cached token costs {extra:.1f} µs more than a cached bearer request, "
            f"{extra / floor:.2f}x one ES256 signature check ({floor:.1f} µs): the proof's signature "
            f"({floor:.1f} µs), the proof's other checks ({known - floor:.1f} µs: base64url and JSON, "
            f"claims, `ath`, replay store) and the wiring around them ({extra - known:.1f} µs). "
            "The token's own signature stays cached; the proof never is.",
            "",
        ]
    )


if __name__ == "__main__":
    section = asyncio.run(main())
    print(section)
    if "--print" not in sys.argv:
        write_section(Path(__file__).parent / "RESULTS.md", section)
