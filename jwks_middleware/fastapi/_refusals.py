"""Refusals of the FastAPI dependencies: the `AuthHTTPException` they raise, and the
`refusal_handler` that answers it exactly as `JWKSMiddleware` refuses (over HTTP, or as a
WebSocket handshake denial). Imported only through `jwks_middleware.fastapi`."""

from __future__ import annotations

from fastapi import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from .._errors import AuthError
from .._responses import BEARER_ONLY, Challenges, RefusalResponse, error_body, refusal_header_map


class AuthHTTPException(HTTPException):
    """A refusal raised by the dependencies: `error` (an `AuthError`) and the `challenges` it
    is answered with (realm, schemes, metadata URL).

    Its status and headers are the middleware's; its `detail` is the middleware's JSON body.
    """

    def __init__(self, error: AuthError, challenges: Challenges = BEARER_ONLY) -> None:
        self.error = error
        self.challenges = challenges
        super().__init__(
            error.status_code, detail=error_body(error), headers=refusal_header_map(error, challenges)
        )

    @property
    def realm(self) -> str | None:
        """The realm of the challenges."""
        return self.challenges.realm


async def refusal_handler(request: Request, exc: Exception) -> Response:
    """Exception handler answering `AuthHTTPException` exactly as the middleware refuses."""
    if not isinstance(exc, AuthHTTPException):
        raise TypeError("refusal_handler handles AuthHTTPException only")
    return RefusalResponse(exc.error, exc.challenges)
