"""Refusals of the FastAPI dependencies: the `AuthHTTPException` they raise, and the
`refusal_handler` that answers it exactly as `JWKSMiddleware` refuses (over HTTP, or as a
WebSocket handshake denial). Imported only through `jwks_middleware.fastapi`."""

from __future__ import annotations

import json

from fastapi import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from .._errors import AuthError
from .._responses import error_body, refusal_headers, send_refusal


class AuthHTTPException(HTTPException):
    """A refusal raised by the dependencies: `error` (an `AuthError`) answered in `realm`.

    Its status and headers are the middleware's; its `detail` is the middleware's JSON body.
    """

    def __init__(self, error: AuthError, realm: str | None) -> None:
        self.error = error
        self.realm = realm
        super().__init__(error.status_code, detail=error_body(error), headers=_headers(error, realm))


class _Refusal(Response):
    """The middleware's refusal as a response: HTTP, or a WebSocket handshake denial."""

    def __init__(self, error: AuthError, realm: str | None) -> None:
        self.error, self.realm = error, realm
        body = json.dumps(error_body(error), separators=(",", ":")).encode()
        super().__init__(body, status_code=error.status_code, headers=_headers(error, realm))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await send_refusal(self.error, scope, receive, send, self.realm)
        else:
            await super().__call__(scope, receive, send)


def _headers(error: AuthError, realm: str | None) -> dict[str, str]:
    return {name.decode("latin-1"): value.decode("latin-1") for name, value in refusal_headers(error, realm)}


async def refusal_handler(request: Request, exc: Exception) -> Response:
    """Exception handler answering `AuthHTTPException` exactly as the middleware refuses."""
    if not isinstance(exc, AuthHTTPException):
        raise TypeError("refusal_handler handles AuthHTTPException only")
    return _Refusal(exc.error, exc.realm)
