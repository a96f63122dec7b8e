"""`jwks-middleware demo`: the demo API and a local token issuer, both on 127.0.0.1.

Nothing leaves the machine: the issuer (`testing.LocalIssuer`) makes its keys in memory and
serves discovery and JWKS on a free loopback port; the API (`_demo_app`) runs under uvicorn
(the `demo` extra) and loads its keys from that issuer. The banner lists ready-to-paste
`curl` commands with fresh tokens and the answer each gets; `--smoke` sends them itself and
exits 0 only if every answer was right.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import shutil
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import httpx

from ..testing import LocalIssuer
from .demo_app import DEMO_ROUTES, WEBSOCKET_QUERY_PARAM, create_demo_app

if TYPE_CHECKING:
    import uvicorn

__all__ = ["DEMO_REQUESTS", "DemoRequest", "run_demo"]

_HOST: Final = "127.0.0.1"
_CHALLENGE_ERROR: Final = re.compile(r'error="([^"]*)"')
#: Lifetime of the demo's valid tokens, in seconds.
TOKEN_LIFETIME: Final = 3600
_INSTALL_HINT: Final = (
    "The demo runs its API with uvicorn, which is not installed. Install it with:\n"
    "    pip install 'jwks-middleware[demo]'"
)


@dataclass(frozen=True)
class DemoRequest:
    """One request of the banner and of `--smoke`, and the answer it must get."""

    title: str
    method: str
    path: str
    token: str | None  # name of the shell variable holding the token; None: no token
    status: int
    #: `error` of the `WWW-Authenticate` challenge; None on a refusal means a bare `Bearer`.
    error: str | None = None
    body: Mapping[str, Any] | None = None

    @property
    def answer(self) -> str:
        if self.status < 400:
            return str(self.status)
        if self.error is None:
            return f"{self.status}, a bare 'WWW-Authenticate: Bearer' challenge (no credentials sent)"
        return f"{self.status} {self.error}"


DEMO_REQUESTS: Final = (
    DemoRequest("A public route, no token", "GET", "/public", None, 200),
    DemoRequest("No token", "GET", "/items", None, 401),
    DemoRequest("A valid token with read:items", "GET", "/items", "VALID_TOKEN", 200),
    DemoRequest("Who the token is about", "GET", "/me", "VALID_TOKEN", 200),
    DemoRequest(
        "Creating an item with write:items", "POST", "/items", "VALID_TOKEN", 201, body={"name": "plum"}
    ),
    DemoRequest(
        "A token lacking write:items",
        "POST",
        "/items",
        "READ_ONLY_TOKEN",
        403,
        "insufficient_scope",
        body={"name": "plum"},
    ),
    DemoRequest("An expired token", "GET", "/items", "EXPIRED_TOKEN", 401, "invalid_token"),
    DemoRequest(
        "A token for another API (wrong audience)", "GET", "/me", "OTHER_API_TOKEN", 401, "invalid_token"
    ),
)


def run_demo(*, smoke: bool = False, port: int = 0) -> int:
    """Run the demo until Ctrl-C (or, with `smoke`, check every answer); return the exit status."""
    try:
        import uvicorn
    except ImportError:
        print(_INSTALL_HINT, file=sys.stderr)
        return 2
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((_HOST, port))
    except OSError as error:
        listener.close()
        print(f"jwks-middleware: cannot listen on {_HOST}:{port}: {error.strerror}", file=sys.stderr)
        return 2
    with listener, LocalIssuer.serve(algorithm="ES256") as issuer:
        app = create_demo_app([issuer.config()])
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        try:
            status = asyncio.run(_run(server, listener, issuer, smoke=smoke))
        except KeyboardInterrupt:
            status = 130 if smoke else 0
    if not smoke:
        # However uvicorn ends on Ctrl-C (re-raising the signal, or returning when the signal
        # came while asyncio was shutting down), the demo says it stopped and exits 0.
        print("\nStopped.")
    return status


async def _run(server: uvicorn.Server, listener: socket.socket, issuer: LocalIssuer, *, smoke: bool) -> int:
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    while not server.started and not serving.done():  # noqa: ASYNC110 - uvicorn offers only a flag
        await asyncio.sleep(0.01)
    if not server.started:  # pragma: no cover - uvicorn failed to start and logged why
        await serving
        return 2
    api = f"http://{_HOST}:{listener.getsockname()[1]}"
    tokens = _tokens(issuer)
    if smoke:
        try:
            passed = await _smoke(api, tokens)
        finally:
            server.should_exit = True
            await serving
        return 0 if passed else 1
    print(_banner(api, issuer, tokens), flush=True)
    # Until Ctrl-C: uvicorn shuts down gracefully, then re-raises the signal, and asyncio.run()
    # raises KeyboardInterrupt in run_demo.
    await serving
    return 0


def _tokens(issuer: LocalIssuer) -> dict[str, str]:
    both = ["read:items", "write:items"]
    return {
        "VALID_TOKEN": issuer.issue(sub="alice", scopes=both, expires_in=TOKEN_LIFETIME),
        "READ_ONLY_TOKEN": issuer.issue(sub="bob", scopes=["read:items"], expires_in=TOKEN_LIFETIME),
        "EXPIRED_TOKEN": issuer.expired_token(sub="alice", scopes=both),
        "OTHER_API_TOKEN": issuer.wrong_audience_token(sub="alice", scopes=both, expires_in=TOKEN_LIFETIME),
    }


def command_line() -> str:
    """How the reader's shell reaches this very program: `jwks-middleware` when that name on
    PATH is it, else the script's full path, else `python -m`. A virtual environment made by a
    tool (`nox -s demo`) is on this process's PATH but not on the reader's."""
    script = Path(sys.executable).parent / "jwks-middleware"
    on_path = shutil.which("jwks-middleware")
    if on_path is not None and Path(on_path) == script and "NOX_CURRENT_SESSION" not in os.environ:
        return "jwks-middleware"
    if script.exists():
        return shlex.quote(str(script))
    return f"{shlex.quote(sys.executable)} -m jwks_middleware"


def _banner(api: str, issuer: LocalIssuer, tokens: Mapping[str, str]) -> str:
    lines = [
        "jwks-middleware demo: a protected API and a local token issuer on 127.0.0.1 (no internet needed)",
        "",
        f"  API       {api}",
        *(f"              {method:<5}{path:<8} {needs}" for method, path, needs in DEMO_ROUTES),
        f"  Issuer    {issuer.url}   (ES256 keys made in memory)",
        f"              discovery  {issuer.discovery_url}",
        f"              JWKS       {issuer.jwks_uri}",
        f"  Audience  {issuer.audience}",
        "",
        f"Fresh tokens (valid for {TOKEN_LIFETIME // 60} min; paste these lines into your shell first):",
        "",
        *(f"export {name}={shlex.quote(token)}" for name, token in tokens.items()),
        "",
        "Then try:",
    ]
    for number, request in enumerate(DEMO_REQUESTS, 1):
        lines += ["", f"# {number}. {request.title}: {request.answer}", _curl(api, request)]
    lines += [
        "",
        "Why was a token refused? Ask the command line:",
        f'{command_line()} verify "$EXPIRED_TOKEN" --issuer {issuer.url} --audience {issuer.audience}',
        f"{command_line()} keys --issuer {issuer.url}",
        "",
        f"WebSocket: {api.replace('http', 'ws', 1)}/ws?{WEBSOCKET_QUERY_PARAM}=$VALID_TOKEN "
        "(or the Authorization header; uvicorn serves WebSockets with `websockets` or `wsproto` installed)",
        f"The examples/ apps trust this issuer with JWKS_ISSUER={issuer.url} JWKS_AUDIENCE={issuer.audience}",
        "",
        "Press Ctrl-C to stop.",
    ]
    return "\n".join(lines)


def _curl(api: str, request: DemoRequest) -> str:
    words = ["curl", "-i"]
    if request.method != "GET":
        words += ["-X", request.method]
    if request.token is not None:
        words += ["-H", f'"Authorization: Bearer ${request.token}"']
    if request.body is not None:
        words += ["-H", "'Content-Type: application/json'", "-d", shlex.quote(json.dumps(request.body))]
    return " ".join([*words, api + request.path])


async def _smoke(api: str, tokens: Mapping[str, str]) -> bool:
    """Send every banner request; print one line each; True if every answer was right."""
    print(f"Smoke test of the demo API at {api} (issuer and API on 127.0.0.1):")
    passed = 0
    async with httpx.AsyncClient(base_url=api, timeout=10.0) as client:
        for number, request in enumerate(DEMO_REQUESTS, 1):
            headers = {} if request.token is None else {"Authorization": f"Bearer {tokens[request.token]}"}
            response = await client.request(request.method, request.path, headers=headers, json=request.body)
            problem = _check(request, response)
            passed += problem is None
            verdict = "ok  " if problem is None else "FAIL"
            line = f"  {verdict} {number}. {request.method:<5}{request.path:<8} {request.title}"
            print(f"{line}: {_answered(response)}" + (f"  ({problem})" if problem else ""))
    print(f"{passed} of {len(DEMO_REQUESTS)} answers were right.")
    return passed == len(DEMO_REQUESTS)


def _check(request: DemoRequest, response: httpx.Response) -> str | None:
    """What is wrong with an answer, or None."""
    if response.status_code != request.status:
        return f"expected {request.answer}"
    if request.status < 400:
        return None
    challenge = response.headers.get("www-authenticate", "")
    if request.error is None:
        return None if challenge == "Bearer" else f"expected a bare Bearer challenge, got {challenge!r}"
    found = _CHALLENGE_ERROR.search(challenge)
    if found is None or found.group(1) != request.error:
        return f"expected {request.answer}, got the challenge {challenge!r}"
    return None


def _answered(response: httpx.Response) -> str:
    error = _CHALLENGE_ERROR.search(response.headers.get("www-authenticate", ""))
    return f"{response.status_code} {error.group(1)}" if error else str(response.status_code)
