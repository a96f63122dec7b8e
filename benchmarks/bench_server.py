"""Over a real server: uvicorn (httptools) on 127.0.0.1, one or two worker processes per
contender sharing one listening socket (as uvicorn's `--workers`), and a small asyncio load
generator (keep-alive connections, pre-built requests) for requests/s and latency.

Run as a script, this module is one worker process:
``python bench_server.py <contender> <fd> <issuer> <audience> <jwks_uri> <kid>``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

#: (contender, worker processes) of every server run.
SERVER_CASES: Final = (
    ("starlette", 1),
    ("ours_cached", 1),
    ("ours_first", 1),
    ("pyjwt", 1),
    ("starlette", 2),
    ("ours_cached", 2),
    ("ours_first", 2),
)
CONCURRENCY: Final = 8
HERE: Final = Path(__file__).resolve().parent


def _serve(argv: Sequence[str]) -> None:
    import uvicorn
    from bench_apps import PyJWTMiddleware, bare_starlette, ours_starlette
    from starlette.types import ASGIApp

    from jwks_middleware import Issuer

    contender, fd, issuer, audience, jwks_uri, kid = argv
    app: ASGIApp
    if contender == "starlette":
        app = bare_starlette()
    elif contender.startswith("ours"):
        app = ours_starlette(Issuer(issuer, audience=audience))
    else:
        # The same middleware as in-process, wrapped around the app directly so that its
        # key set can be fetched before the server starts.
        peer = PyJWTMiddleware(
            bare_starlette(), jwks_uri=jwks_uri, issuer=issuer, audience=audience, algorithms=["RS256"]
        )
        peer.warm(kid)
        app = peer
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="on", loop="asyncio", http="httptools"
    )
    sock = socket.socket(fileno=int(fd))
    uvicorn.Server(config).run(sockets=[sock])


@dataclass
class Server:
    contender: str
    workers: int
    port: int
    processes: list[subprocess.Popen[bytes]]


@contextlib.contextmanager
def run_servers(
    issuer_url: str, audience: str, jwks_uri: str, kid: str
) -> Iterator[dict[tuple[str, int], Server]]:
    """The worker processes of every case, each case on a socket bound here (no port race)."""
    servers: dict[tuple[str, int], Server] = {}
    sockets = []
    try:
        for contender, workers in SERVER_CASES:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", 0))
            sock.listen(128)
            sockets.append(sock)
            fd = sock.fileno()
            command = [sys.executable, str(HERE / "bench_server.py"), contender, str(fd)]
            command += [issuer_url, audience, jwks_uri, kid]
            processes = [
                subprocess.Popen(command, pass_fds=[fd], cwd=HERE.parent)  # noqa: S603
                for _ in range(workers)
            ]
            servers[contender, workers] = Server(contender, workers, sock.getsockname()[1], processes)
        yield servers
    finally:
        every = [process for server in servers.values() for process in server.processes]
        for process in every:
            process.terminate()
        for process in every:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        for sock in sockets:
            sock.close()


def http_request(port: int, token: str) -> bytes:
    """A keep-alive GET with the token, as a browser or API client sends it."""
    return (
        f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: bench/1.0\r\n"
        f"Accept: application/json\r\nAuthorization: Bearer {token}\r\n\r\n"
    ).encode("ascii")


@dataclass
class LoadResult:
    requests: int = 0
    seconds: float = 0.0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies)


async def _connection(port: int, requests: Iterator[bytes], result: LoadResult) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for request in requests:
            start = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            result.latencies.append(time.perf_counter() - start)
            if head[9:12] != b"200":
                result.errors += 1
    finally:
        writer.close()


async def load(port: int, requests: Sequence[bytes], concurrency: int = CONCURRENCY) -> LoadResult:
    """Send `requests` over `concurrency` keep-alive connections, as fast as answered."""
    result = LoadResult()
    shared = iter(requests)  # connections take the next request in turn (one event loop)
    start = time.perf_counter()
    await asyncio.gather(*(_connection(port, shared, result) for _ in range(concurrency)))
    result.seconds = time.perf_counter() - start
    result.requests = len(requests)
    return result


async def wait_until_serving(port: int, token: str, timeout: float = 30.0) -> None:
    """Until the server answers 200 on every connection (its workers load their keys during
    start-up); the token is then cached by every worker that answered."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            warm_up = [http_request(port, token)] * (4 * CONCURRENCY)
            result = await asyncio.wait_for(load(port, warm_up), 5)
            if result.errors == 0:
                return
            raise RuntimeError(f"server on port {port} refuses the warm-up request")
        except OSError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)


if __name__ == "__main__":
    sys.path.insert(0, os.fspath(HERE))
    _serve(sys.argv[1:])
