"""RFC 6750 refusals over ASGI: the `WWW-Authenticate` challenge, a JSON body, and the
WebSocket handshake denial."""

from __future__ import annotations

import json
import re
from typing import Any, Final

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from ._errors import AuthError, InsufficientScopeError

__all__ = [
    "RefusalResponse",
    "challenge",
    "error_body",
    "refusal_header_map",
    "refusal_headers",
    "send_refusal",
]

# RFC 6750 section 3: error_description is %x20-21 / %x23-5B / %x5D-7E; scope tokens
# are %x21 / %x23-5B / %x5D-7E. Anything else is dropped, never echoed.
_NOT_DESCRIPTION: Final = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")
_NOT_SCOPE: Final = re.compile(r"[^\x21\x23-\x5b\x5d-\x7e]")
#: WebSocket close code of a refused handshake (RFC 6455 section 7.4.1: policy violation).
WS_POLICY_VIOLATION: Final = 1008


def challenge(error: AuthError, realm: str | None = None) -> str:
    """The `WWW-Authenticate` value for a refusal (RFC 6750 section 3)."""
    params = []
    if realm is not None:
        params.append(f'realm="{_NOT_DESCRIPTION.sub("", realm)}"')
    if error.error is not None:
        params.append(f'error="{error.error}"')
        params.append(f'error_description="{_NOT_DESCRIPTION.sub("", error.description)}"')
    if isinstance(error, InsufficientScopeError) and error.required:
        scope = " ".join(_NOT_SCOPE.sub("", item) for item in error.required)
        params.append(f'scope="{scope}"')
    return "Bearer " + ", ".join(params) if params else "Bearer"


def error_body(error: AuthError) -> dict[str, Any]:
    """The JSON body of a refusal; client-safe fields only."""
    body: dict[str, Any] = {
        "error": error.error or ("unauthorized" if error.status_code == 401 else "unavailable"),
        "error_description": error.description,
    }
    if isinstance(error, InsufficientScopeError) and error.required:
        body["scope"] = " ".join(error.required)
    return body


def refusal_headers(error: AuthError, realm: str | None) -> list[tuple[bytes, bytes]]:
    headers = [(b"content-type", b"application/json"), (b"cache-control", b"no-store")]
    if error.status_code in (401, 403, 400):
        headers.append((b"www-authenticate", challenge(error, realm).encode("latin-1")))
    if error.status_code == 503:
        headers.append((b"retry-after", b"5"))
    return headers


def refusal_header_map(error: AuthError, realm: str | None) -> dict[str, str]:
    """`refusal_headers` as a mapping, for Starlette responses and FastAPI exceptions."""
    return {name.decode("latin-1"): value.decode("latin-1") for name, value in refusal_headers(error, realm)}


def _body(error: AuthError) -> bytes:
    return json.dumps(error_body(error), separators=(",", ":")).encode()


async def send_refusal(
    error: AuthError, scope: Scope, receive: Receive, send: Send, realm: str | None
) -> None:
    """Answer a refused HTTP request, or deny a WebSocket handshake before it is accepted."""
    body = _body(error)
    headers = refusal_headers(error, realm)
    if scope["type"] == "websocket":
        message = await receive()  # websocket.connect
        if message["type"] != "websocket.connect":
            return
        if "websocket.http.response" in scope.get("extensions", {}):
            await send(
                {"type": "websocket.http.response.start", "status": error.status_code, "headers": headers}
            )
            await send({"type": "websocket.http.response.body", "body": body})
        else:
            await send({"type": "websocket.close", "code": WS_POLICY_VIOLATION, "reason": error.description})
        return
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": error.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class RefusalResponse(Response):
    """A refusal as a Starlette `Response`, byte for byte what `send_refusal` answers: over
    HTTP the response itself, on a WebSocket route the handshake denial."""

    def __init__(self, error: AuthError, realm: str | None) -> None:
        self.error, self.realm = error, realm
        super().__init__(
            _body(error), status_code=error.status_code, headers=refusal_header_map(error, realm)
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await send_refusal(self.error, scope, receive, send, self.realm)
        else:
            await super().__call__(scope, receive, send)
