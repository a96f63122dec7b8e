"""A connection's authentication state: where verified claims are put on the ASGI scope (by the
middleware and by the FastAPI dependencies alike), the one guarded call of the verifier, and the
scope keys the guards read."""

from __future__ import annotations

import functools
import traceback
from contextvars import ContextVar
from typing import Final

from starlette.authentication import AuthCredentials, BaseUser, UnauthenticatedUser
from starlette.types import Scope

from ._claims import Claims
from ._errors import AuthError, InvalidTokenError
from ._events import logger
from ._verify import TokenVerifier

__all__ = [
    "LIFESPAN_OWNER",
    "REALM_SCOPE_KEY",
    "REFUSAL_SCOPE_KEY",
    "VERIFIED_BY_SCOPE_KEY",
    "ClaimsUser",
    "claims_verified_by",
    "middleware_in_lifespan",
    "set_request_claims",
    "verify_or_refuse",
]

#: Scope key under which the middleware leaves its `realm`, for the scope guards' challenges;
#: present when the middleware authenticated the request.
REALM_SCOPE_KEY: Final = "jwks_middleware.realm"
#: Scope key of the refusal of a token the middleware left to the routes (`optional=True`).
REFUSAL_SCOPE_KEY: Final = "jwks_middleware.refusal"
#: Scope key of the verifier that made the request's claims, with those claims.
VERIFIED_BY_SCOPE_KEY: Final = "jwks_middleware.verified_by"
#: The middleware whose lifespan is running (its app's lifespan runs in the same task).
LIFESPAN_OWNER: ContextVar[object | None] = ContextVar("jwks_middleware", default=None)


class ClaimsUser(BaseUser):
    """Starlette user of an authenticated request: its name is the token's `sub`."""

    def __init__(self, claims: Claims) -> None:
        self.claims = claims

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.claims.subject or ""

    @property
    def identity(self) -> str:
        return self.claims.subject or ""


class _ClaimsCredentials(AuthCredentials):
    """`scope["auth"]` of a token: `"authenticated"` (Starlette's convention, so that
    `@requires("authenticated")` works) and the token's scopes, sorted on first use (many
    routes never ask). `Claims.scopes` and the scope guards see the token's scopes only."""

    def __init__(self, claims: Claims) -> None:  # no super().__init__(): `scopes` comes later
        self._claims = claims

    @functools.cached_property
    def scopes(self) -> list[str]:  # type: ignore[override]  # stays writable, as in Starlette
        return sorted(self._claims.scopes | {"authenticated"})


def set_request_claims(scope: Scope, claims: Claims | None, verifier: TokenVerifier) -> None:
    """Put the request's claims, made by `verifier`, where apps read them:
    `request.state.claims`, `scope["auth"]` and `scope["user"]` (so Starlette's own
    `requires()` works)."""
    state = scope.get("state")
    if state is None:
        state = scope["state"] = {}
    state["claims"] = claims
    scope[VERIFIED_BY_SCOPE_KEY] = (verifier, claims)
    if claims is None:
        scope["auth"], scope["user"] = AuthCredentials(), UnauthenticatedUser()
    else:
        scope["auth"], scope["user"] = _ClaimsCredentials(claims), ClaimsUser(claims)


def claims_verified_by(scope: Scope, verifier: TokenVerifier) -> Claims | None:
    """The request's claims when `verifier` made them (and the app did not replace them).

    A route with its own verifier reuses only claims of that very verifier: another one may
    trust other issuers, or the same `iss` for other audiences."""
    made: tuple[TokenVerifier, Claims | None] | None = scope.get(VERIFIED_BY_SCOPE_KEY)
    if made is None or made[0] is not verifier:
        return None
    claims = made[1]
    return claims if claims is not None and scope.get("state", {}).get("claims") is claims else None


def middleware_in_lifespan() -> bool:
    """True inside the lifespan start-up of an app that a `JWKSMiddleware` wraps."""
    return LIFESPAN_OWNER.get() is not None


async def verify_or_refuse(verifier: TokenVerifier, token: str) -> Claims:
    """`verifier.verify`, with any unexpected failure logged and turned into a refusal."""
    try:
        return await verifier.verify(token)
    except AuthError:
        raise
    except Exception as error:  # noqa: BLE001
        # Never a 500 from authentication: log the failure and refuse. The error's text may
        # quote its input, so the token and its parts are cut out of what is logged.
        trace = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        logger.error("unexpected error while verifying a token\n%s", _redact(trace, token))
        raise InvalidTokenError(f"unexpected {type(error).__name__}") from None


def _redact(text: str, token: str) -> str:
    """`text` without `token` or any of its dot-separated parts."""
    for part in sorted({token, *token.split(".")}, key=len, reverse=True):
        if len(part) >= 8:
            text = text.replace(part, "<token>")
    return text
