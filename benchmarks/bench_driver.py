"""A minimal ASGI driver, as a server calls an app, and interleaved timing rounds.

No HTTP client and no transport: each request is a new `scope` dict (the keys uvicorn sets,
six realistic request headers), a `receive` that hands over an empty body and a `send` that
checks the status. httpx's ASGI transport would cost many times a bare request and hide
every difference between the contenders.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from starlette.types import ASGIApp, Message

Headers = list[tuple[bytes, bytes]]

BASE_SCOPE: Final[dict[str, Any]] = {
    "type": "http",
    "asgi": {"version": "3.0", "spec_version": "2.4"},
    "http_version": "1.1",
    "server": ("127.0.0.1", 8000),
    "client": ("127.0.0.1", 51000),
    "scheme": "http",
    "method": "GET",
    "root_path": "",
    "path": "/",
    "raw_path": b"/",
    "query_string": b"",
}
COMMON_HEADERS: Final[Headers] = [
    (b"host", b"127.0.0.1:8000"),
    (b"user-agent", b"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"),
    (b"accept", b"application/json"),
    (b"accept-encoding", b"gzip, deflate, br"),
    (b"connection", b"keep-alive"),
]
_REQUEST: Final[Message] = {"type": "http.request", "body": b"", "more_body": False}


def request_headers(token: str) -> Headers:
    """The headers of one request carrying `token`."""
    return [*COMMON_HEADERS, (b"authorization", b"Bearer " + token.encode("ascii"))]


class Driver:
    """Calls an ASGI app like a server: lifespan, then requests; counts response statuses."""

    def __init__(self) -> None:
        self.statuses: dict[int, int] = {}

    async def _receive(self) -> Message:
        return _REQUEST

    async def _send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            status = message["status"]
            self.statuses[status] = self.statuses.get(status, 0) + 1

    async def run(self, app: ASGIApp, requests: Iterable[Headers]) -> float:
        """Send every request to `app`, one after the other; the seconds it took."""
        receive, send, base = self._receive, self._send, BASE_SCOPE
        start = time.perf_counter()
        for headers in requests:
            await app({**base, "headers": headers, "state": {}}, receive, send)
        return time.perf_counter() - start

    async def status_of(self, app: ASGIApp, headers: Headers) -> int:
        """The status of one request."""
        statuses: list[int] = []

        async def send(message: Message) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        await app({**BASE_SCOPE, "headers": headers, "state": {}}, self._receive, send)
        return statuses[0]


class Lifespan:
    """The ASGI lifespan protocol around an app, as a server runs it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._to_app: asyncio.Queue[Message] = asyncio.Queue()
        self._from_app: asyncio.Queue[Message] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def startup(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}

        async def run() -> None:
            await self.app(scope, self._to_app.get, self._from_app.put)

        self._task = asyncio.create_task(run())
        await self._to_app.put({"type": "lifespan.startup"})
        message = await self._from_app.get()
        if message["type"] != "lifespan.startup.complete":
            raise RuntimeError(f"lifespan start-up failed: {message}")

    async def shutdown(self) -> None:
        await self._to_app.put({"type": "lifespan.shutdown"})
        await self._from_app.get()
        if self._task is not None:
            await self._task


Batch = Callable[[int], Awaitable[float]]


@dataclass
class Variant:
    """One contender: `batch(n)` runs n requests and returns the seconds they took."""

    key: str
    label: str
    batch: Batch
    size: int = 0
    samples: list[float] = field(default_factory=list)  # seconds per request, one per round

    @property
    def median(self) -> float:
        return statistics.median(self.samples)


@dataclass(frozen=True)
class Ratio:
    """Median and interquartile range of a per-round ratio."""

    median: float
    low: float
    high: float


def ratio(numerator: Variant, denominator: Variant) -> Ratio:
    """Ratio of two variants, taken round by round (both ran within the same second or so),
    then summarised: noise that slows a whole round cancels out."""
    values = sorted(a / b for a, b in zip(numerator.samples, denominator.samples, strict=True))
    quartiles = statistics.quantiles(values, n=4) if len(values) > 1 else [values[0]] * 3
    return Ratio(statistics.median(values), quartiles[0], quartiles[2])


async def calibrate(variants: Sequence[Variant], seconds: float, *, limits: dict[str, int]) -> None:
    """Choose each variant's batch size so that a batch lasts about `seconds`."""
    for variant in variants:
        probe = 20
        elapsed = await variant.batch(probe)
        size = int(seconds / max(elapsed / probe, 1e-7))
        variant.size = max(10, min(size, limits.get(variant.key, 100_000)))


async def interleaved_rounds(variants: Sequence[Variant], rounds: int, *, seed: int = 7) -> None:
    """Every round runs one batch of every variant, in a new random order."""
    order = list(variants)
    shuffler = random.Random(seed)
    for _ in range(rounds):
        shuffler.shuffle(order)
        for variant in order:
            elapsed = await variant.batch(variant.size)
            variant.samples.append(elapsed / variant.size)
