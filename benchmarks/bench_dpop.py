"""One DPoP proof check (ES256), in microseconds: `python benchmarks/bench_dpop.py`.

Measured in a loop, best round of several: a proof of a client seen before (its key already
imported), a proof of a new client (key import and thumbprint too), and the floor, the bare
ES256 signature check by `cryptography` on the same machine.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Final

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from jwks_middleware._dpop import DPoPPolicy, verify_proof
from jwks_middleware._replay import MemoryReplayStore
from jwks_middleware.testing._dpop import DPoPKey

ROUNDS: Final = 5
PER_ROUND: Final = 1000
URL: Final = "https://api.example.test/items"
TOKEN: Final = "an-access-token"


async def best_of(rounds: int, make: Callable[[], list[Callable[[], Awaitable[object]]]]) -> float:
    """Best µs per call over `rounds` rounds; `make` prepares one round's calls, untimed."""
    best = float("inf")
    for _ in range(rounds):
        calls = make()
        start = time.perf_counter()
        for call in calls:
            await call()
        best = min(best, (time.perf_counter() - start) / len(calls) * 1e6)
    return best


async def main() -> None:
    policy = DPoPPolicy()
    store = MemoryReplayStore()
    known = DPoPKey("ES256")

    def check(proof: str) -> Callable[[], Awaitable[object]]:
        return lambda: verify_proof(
            proof,
            method="GET",
            url=URL,
            access_token=TOKEN,
            policy=policy,
            replay_store=store,
            now=time.time(),
        )

    await check(known.proof("GET", URL, access_token=TOKEN))()  # the client is now known
    seen = await best_of(
        ROUNDS, lambda: [check(known.proof("GET", URL, access_token=TOKEN)) for _ in range(PER_ROUND)]
    )
    new_clients = [DPoPKey("ES256") for _ in range(ROUNDS * PER_ROUND // 10)]
    batches = iter([new_clients[index::ROUNDS] for index in range(ROUNDS)])
    first = await best_of(
        ROUNDS, lambda: [check(key.proof("GET", URL, access_token=TOKEN)) for key in next(batches)]
    )

    private = ec.generate_private_key(ec.SECP256R1())
    public, message = private.public_key(), b"x" * 400
    signature = private.sign(message, ec.ECDSA(hashes.SHA256()))

    async def bare() -> None:
        public.verify(signature, message, ec.ECDSA(hashes.SHA256()))

    floor = await best_of(ROUNDS, lambda: [bare for _ in range(PER_ROUND)])
    print(f"DPoP proof check, ES256, known client: {seen:7.1f} µs")
    print(f"DPoP proof check, ES256, new client:   {first:7.1f} µs")
    print(f"bare ES256 signature check (floor):    {floor:7.1f} µs")


if __name__ == "__main__":
    asyncio.run(main())
