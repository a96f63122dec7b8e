"""The Redis replay store against a real redis-server on 127.0.0.1: a fleet's workers share it.

The server is started by the fixture (no persistence) and stopped at the end; the tests are
skipped, saying why, only where the redis-server binary is not installed.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from jwks_middleware import DPoPPolicy, JWKSMiddleware
from jwks_middleware._dpop import verify_proof
from jwks_middleware._errors import ReplayedDPoPProofError, ReplayStoreUnavailableError
from jwks_middleware.redis import DEFAULT_PREFIX, RedisReplayStore
from jwks_middleware.testing import DPoPKey, LocalIssuer, dpop_bound_claims

redis = pytest.importorskip(
    "redis.asyncio", reason="redis-py is not installed (pip install 'jwks-middleware[redis]')"
)

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(
        shutil.which("redis-server") is None,
        reason="redis-server is not installed (Debian: apt-get install redis-server)",
    ),
]

URL = "https://api.example.test/items"
TOKEN = "an-access-token"
#: Longest wait for redis-server to accept connections (a real start-up deadline).
START_TIMEOUT = 10.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def redis_port() -> Iterator[int]:
    """A redis-server on 127.0.0.1 for this module, without persistence."""
    port = free_port()
    with tempfile.TemporaryDirectory() as directory, tempfile.TemporaryFile() as log:
        command = [
            "redis-server",
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
        ]
        server = subprocess.Popen(command, cwd=directory, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        log.seek(0)
                        pytest.fail(f"redis-server did not start: {log.read().decode(errors='replace')}")
                    time.sleep(0.05)
            yield port
        finally:
            server.terminate()
            server.wait(timeout=10)


@pytest.fixture
async def client(redis_port: int) -> AsyncIterator[Redis]:
    connection = Redis(host="127.0.0.1", port=redis_port)
    await connection.flushdb()
    yield connection
    await connection.aclose()


@pytest.fixture
async def other_client(redis_port: int) -> AsyncIterator[Redis]:
    """A second connection, as another worker or pod would have."""
    connection = Redis(host="127.0.0.1", port=redis_port)
    yield connection
    await connection.aclose()


async def test_a_key_is_new_once(client: Redis) -> None:
    store = RedisReplayStore(client)
    assert await store.add("k", time.time() + 60)
    assert not await store.add("k", time.time() + 60)


async def test_a_key_lives_until_its_expiry_on_the_checking_servers_clock(client: Redis) -> None:
    # PX is relative: Redis's own clock plays no part. The server's clock here says 1000,
    # the key expires at 1010: it lives 10 s, whatever time Redis thinks it is.
    store = RedisReplayStore(client, clock=lambda: 1000.0)
    await store.add("k", 1010.0)
    milliseconds = await client.pttl(DEFAULT_PREFIX + "k")
    assert 0 < milliseconds <= 10_000


async def test_keys_are_written_under_the_prefix(client: Redis) -> None:
    await RedisReplayStore(client, prefix="api-1:").add("k", time.time() + 60)
    assert await client.keys("*") == [b"api-1:k"]
    assert await RedisReplayStore(client, prefix="api-2:").add("k", time.time() + 60)


async def test_a_proof_replayed_to_another_worker_is_refused(client: Redis, other_client: Redis) -> None:
    worker_a, worker_b = RedisReplayStore(client), RedisReplayStore(other_client)
    proof = DPoPKey().proof("GET", URL, access_token=TOKEN)
    options = {"method": "GET", "url": URL, "access_token": TOKEN, "policy": DPoPPolicy()}
    verified = await verify_proof(proof, replay_store=worker_a, now=time.time(), **options)  # type: ignore[arg-type]
    with pytest.raises(ReplayedDPoPProofError):
        await verify_proof(proof, replay_store=worker_b, now=time.time(), **options)  # type: ignore[arg-type]
    assert verified.jti


async def test_workers_racing_on_one_proof_accept_it_once(client: Redis, other_client: Redis) -> None:
    stores = [RedisReplayStore(client), RedisReplayStore(other_client)]
    expires_at = time.time() + 60
    answers = await asyncio.gather(*(stores[index % 2].add("same-proof", expires_at) for index in range(20)))
    assert answers.count(True) == 1


async def test_an_unreachable_redis_refuses_the_proof_with_503() -> None:
    unreachable = Redis(
        host="127.0.0.1", port=free_port(), socket_connect_timeout=1, retry=Retry(NoBackoff(), 0)
    )
    try:
        store = RedisReplayStore(unreachable)
        proof = DPoPKey().proof("GET", URL, access_token=TOKEN)
        with pytest.raises(ReplayStoreUnavailableError) as refusal:
            await verify_proof(
                proof,
                method="GET",
                url=URL,
                access_token=TOKEN,
                policy=DPoPPolicy(),
                replay_store=store,
                now=time.time(),
            )
        assert refusal.value.status_code == 503
    finally:
        await unreachable.aclose()


async def test_two_workers_behind_one_hostname_share_the_replay_store(
    client: Redis, other_client: Redis
) -> None:
    """Two apps (two workers, two Redis connections): a proof accepted by one is refused by the other."""
    issuer = LocalIssuer(algorithm="ES256")
    key = DPoPKey()
    token = issuer.issue(sub="alice", **dpop_bound_claims(key))

    async def items(request: Request) -> JSONResponse:
        return JSONResponse({"sub": request.state.claims.subject})

    def worker(store: RedisReplayStore) -> httpx.AsyncClient:
        app = Starlette(
            routes=[Route("/items", items)],
            middleware=[
                Middleware(
                    JWKSMiddleware,
                    issuers=[issuer.config(jwks=issuer.jwks(), dpop="required")],
                    dpop=DPoPPolicy(replay_store=store, public_origin="https://api.example.test"),
                )
            ],
        )
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://api.example.test")

    proof = key.proof("GET", URL, access_token=token)
    headers = {"Authorization": f"DPoP {token}", "DPoP": proof}
    async with worker(RedisReplayStore(client)) as first, worker(RedisReplayStore(other_client)) as second:
        assert (await first.get("/items", headers=headers)).json() == {"sub": "alice"}
        replayed = await second.get("/items", headers=headers)
        assert replayed.status_code == 401
        assert replayed.json()["error_description"] == "The DPoP proof was already used"
