"""The ASGI lifespan preloads keys and stops the refresher; without a lifespan, the first
request loads the keys and nothing is left pending."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from integration_support import discovery_requests, jwks_requests
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from starlette.types import Message
from support import Clock

from jwks_middleware import JWKSMiddleware
from jwks_middleware.testing import LocalIssuer


async def whoami(request: Request) -> JSONResponse:
    return JSONResponse({"sub": request.state.claims.subject})


def protected_app(issuer: LocalIssuer, clock: Clock) -> JWKSMiddleware:
    return JWKSMiddleware(
        Starlette(routes=[Route("/whoami", whoami)]), issuers=[issuer.config()], clock=clock
    )


def test_lifespan_start_up_preloads_keys_before_the_first_request(issuer: LocalIssuer, clock: Clock) -> None:
    app = protected_app(issuer, clock)
    assert not app.ready()
    with TestClient(app) as client:
        # Start-up is over: the keys were fetched once, before any request.
        assert (discovery_requests(issuer), jwks_requests(issuer)) == (1, 1)
        assert app.ready()
        for _ in range(3):
            response = client.get("/whoami", headers={"Authorization": f"Bearer {issuer.issue()}"})
            assert response.json() == {"sub": "user-123"}
        assert issuer.requests.total() == 2


def test_start_up_with_the_issuer_down_still_starts_and_answers_503(
    issuer: LocalIssuer, clock: Clock
) -> None:
    issuer.stop()
    app = protected_app(issuer, clock)
    with TestClient(app) as client:
        assert not app.ready()
        response = client.get("/whoami", headers={"Authorization": f"Bearer {issuer.issue()}"})
        assert response.status_code == 503
        issuer.start()
        clock.advance(30)  # the cooldown lets the next request try again
        response = client.get("/whoami", headers={"Authorization": f"Bearer {issuer.issue()}"})
        assert response.status_code == 200
        assert app.ready()


@asynccontextmanager
async def lifespan(app: JWKSMiddleware) -> AsyncIterator[None]:
    """Run the app's lifespan protocol as a server does: start-up, then shutdown."""
    inbox: asyncio.Queue[Message] = asyncio.Queue()
    outbox: asyncio.Queue[Message] = asyncio.Queue()
    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    server = asyncio.create_task(app(scope, inbox.get, outbox.put))
    await inbox.put({"type": "lifespan.startup"})
    assert (await asyncio.wait_for(outbox.get(), 5))["type"] == "lifespan.startup.complete"
    yield
    await inbox.put({"type": "lifespan.shutdown"})
    assert (await asyncio.wait_for(outbox.get(), 5))["type"] == "lifespan.shutdown.complete"
    await asyncio.wait_for(server, 5)


@pytest.mark.anyio
async def test_shutdown_leaves_no_task_running(issuer: LocalIssuer, clock: Clock) -> None:
    app = protected_app(issuer, clock)
    before = asyncio.all_tasks()
    async with lifespan(app):
        assert app.ready()
        assert jwks_requests(issuer) == 1
        # The lifespan task and the background refresher are running.
        assert len(asyncio.all_tasks() - before) == 2
    await asyncio.sleep(0)
    assert asyncio.all_tasks() - before == set()


def test_without_lifespan_the_first_request_loads_keys_and_nothing_is_left_pending(
    issuer: LocalIssuer, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    app = protected_app(issuer, clock)
    # Without `with`, TestClient sends no lifespan events and runs each request in a fresh
    # event loop, which is closed after the request.
    client = TestClient(app)
    with caplog.at_level(logging.WARNING):
        assert not app.ready()
        for n in range(5):
            response = client.get("/whoami", headers={"Authorization": f"Bearer {issuer.issue()}"})
            assert response.status_code == 200
            assert jwks_requests(issuer) == 1
            if n == 0:
                assert app.ready()
        issuer.rotate()  # a refresh on a later event loop works too
        response = client.get("/whoami", headers={"Authorization": f"Bearer {issuer.issue()}"})
        assert response.status_code == 200
        assert jwks_requests(issuer) == 2
        gc.collect()  # "Task was destroyed but it is pending!" would be logged here
    assert [record.getMessage() for record in caplog.records] == []
    client.close()
