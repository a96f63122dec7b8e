"""What a DPoP request and an opaque token cost through the middleware.

Run: `python benchmarks/bench_token_kinds.py` (``--print`` only prints the section).

In-process requests (as in run.py), interleaved rounds, ES256 throughout:

- a bearer JWT, cached (the reference);
- the same kind of token bound to a DPoP key, cached, each request with a new proof: costs one
  proof check more, mostly its ES256 signature (the floor row);
- an opaque token whose introspection answer is cached: a hash and a lookup more than a JWT.

It rewrites the "Other token kinds" section of `benchmarks/RESULTS.md`.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any, Final

from bench_driver import COMMON_HEADERS, Driver, Headers, Variant, calibrate, interleaved_rounds, ratio
from bench_fleet import write_section
from bench_tokens import es256_floor
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from jwks_middleware import DPoPPolicy, JWKSMiddleware
from jwks_middleware.testing import DPoPKey, LocalIssuer, dpop_bound_claims

SECTION: Final = "## Other token kinds"
ROUNDS: Final = 30
URL: Final = "http://127.0.0.1:8000/"


async def ok(request: object) -> PlainTextResponse:
    return PlainTextResponse("ok")


def app(**options: Any) -> ASGIApp:
    return Starlette(routes=[Route("/", ok)], middleware=[Middleware(JWKSMiddleware, **options)])


def headers(scheme: str, token: str, proof: str | None = None) -> Headers:
    extra = [] if proof is None else [(b"dpop", proof.encode("ascii"))]
    return [*COMMON_HEADERS, (b"authorization", f"{scheme} {token}".encode("ascii")), *extra]


async def main() -> str:
    issuer = LocalIssuer(algorithm="ES256")
    driver = Driver()
    key = DPoPKey("ES256")
    jwt_api = app(issuers=[issuer.config(jwks=issuer.jwks())])
    dpop_api = app(
        issuers=[issuer.config(jwks=issuer.jwks(), dpop="accepted")], dpop=DPoPPolicy(max_age=3600)
    )
    opaque_api = app(
        issuers=[issuer.config(jwks=issuer.jwks(), introspection=issuer.introspection(cache_ttl=3600))],
        http_client=issuer.http_client(),
    )
    bearer_token = issuer.issue(expires_in=3600)
    bound_token = issuer.issue(expires_in=3600, **dpop_bound_claims(key))
    opaque_token = issuer.issue_opaque(expires_in=3600)
    for api, first in (
        (jwt_api, headers("Bearer", bearer_token)),
        (dpop_api, headers("DPoP", bound_token, key.proof("GET", URL, access_token=bound_token))),
        (opaque_api, headers("Bearer", opaque_token)),
    ):
        assert await driver.status_of(api, first) == 200  # warm: the token (and answer) cached

    async def repeated(api: ASGIApp, request: Headers, n: int) -> float:
        return await driver.run(api, [request] * n)

    async def with_fresh_proofs(n: int) -> float:
        proofs = [key.proof("GET", URL, access_token=bound_token) for _ in range(n)]  # made untimed
        return await driver.run(dpop_api, [headers("DPoP", bound_token, proof) for proof in proofs])

    floor = es256_floor()

    variants = [
        Variant("jwt", "bearer JWT, cached", lambda n: repeated(jwt_api, headers("Bearer", bearer_token), n)),
        Variant("dpop", "DPoP-bound JWT, cached, a new proof each request", with_fresh_proofs),
        Variant(
            "opaque",
            "opaque token, introspection answer cached",
            lambda n: repeated(opaque_api, headers("Bearer", opaque_token), n),
        ),
        Variant("floor", "raw ES256 signature check (floor of a proof)", floor),
    ]
    await calibrate(variants, 0.05, limits={"dpop": 400})
    await interleaved_rounds(variants, ROUNDS)
    assert set(driver.statuses) == {200}, driver.statuses
    jwt, dpop, opaque, sig = variants
    extra = (dpop.median - jwt.median) * 1e6
    written = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [
        SECTION,
        "",
        f"Written by `python benchmarks/bench_token_kinds.py` on {written}: "
        f"in-process requests through `JWKSMiddleware`, ES256 tokens, {ROUNDS} interleaved rounds, medians.",
        "",
        "| request | µs / request | x bearer JWT, cached |",
        "|---|---:|---:|",
        *(f"| {v.label} | {v.median * 1e6:.1f} | {ratio(v, jwt).median:.2f}x |" for v in variants),
        "",
        f"- A DPoP request costs {extra:.1f} µs more than a bearer request with a cached token: "
        f"{extra / (sig.median * 1e6):.2f}x one ES256 signature check ({sig.median * 1e6:.1f} µs), "
        "the proof's own check (the token's signature stays cached; the proof never is).",
        f"- A cached introspection answer costs {ratio(opaque, jwt).median:.2f}x a cached JWT "
        f"({(opaque.median - jwt.median) * 1e6:+.1f} µs: the token's SHA-256 and a lookup).",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    section = asyncio.run(main())
    print(section)
    if "--print" not in sys.argv:
        write_section(Path(__file__).parent / "RESULTS.md", section)
