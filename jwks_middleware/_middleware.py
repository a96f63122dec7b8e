"""`JWKSMiddleware`: moves tokens from ASGI requests to the verifier, and claims back.

Pure ASGI (no `BaseHTTPMiddleware`): `http` and `websocket` requests are authenticated,
`lifespan` preloads keys before the app reports started and stops refreshers on shutdown.
"""

from __future__ import annotations

import functools
import time
import traceback
from collections.abc import Callable, Iterable
from typing import Final

import httpx
from starlette.authentication import AuthCredentials, BaseUser, UnauthenticatedUser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._claims import Claims
from ._config import DEFAULT_MAX_TOKEN_BYTES, DEFAULT_TOKEN_CACHE_SIZE
from ._errors import AuthError, InvalidTokenError, MissingTokenError
from ._events import EventHook, logger
from ._extract import TokenSources, is_b64token, is_cors_preflight
from ._issuer import Issuer
from ._responses import send_refusal
from ._store import IssuerResolver
from ._verify import TokenVerifier

__all__ = ["REALM_SCOPE_KEY", "ClaimsUser", "JWKSMiddleware", "set_request_claims", "verify_or_refuse"]

#: Scope key under which the middleware leaves its `realm`, for the scope guards' challenges.
REALM_SCOPE_KEY: Final = "jwks_middleware.realm"


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


class JWKSMiddleware:
    """Authenticates every request with a bearer token from a trusted issuer.

    Validated claims go to `request.state.claims` (a `Claims`), `scope["auth"]` and
    `scope["user"]`, so Starlette's `requires()` works too. Refusals follow RFC 6750.
    Give `issuers` (a list of `Issuer`, or a resolver callable) or a ready `verifier`.

    The `Claims`, `scope["auth"]` and `scope["user"]` of one token are made once and shared
    by its requests (read them; never change them).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        issuers: Iterable[Issuer] | IssuerResolver | None = None,
        verifier: TokenVerifier | None = None,
        optional: bool = False,
        exclude_paths: Iterable[str] = (),
        realm: str | None = None,
        http_client: httpx.AsyncClient | None = None,
        cookie_name: str | None = None,
        websocket_query_param: str | None = None,
        on_event: EventHook | None = None,
        token_cache_size: int = DEFAULT_TOKEN_CACHE_SIZE,
        max_token_bytes: int = DEFAULT_MAX_TOKEN_BYTES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if (issuers is None) == (verifier is None):
            raise TypeError("give either issuers=... or verifier=...")
        if isinstance(exclude_paths, str):
            raise TypeError("exclude_paths must be a list of paths")
        self.app = app
        self.verifier = verifier or TokenVerifier(
            issuers,  # type: ignore[arg-type]  # not None: checked above
            http_client=http_client,
            clock=clock,
            on_event=on_event,
            token_cache_size=token_cache_size,
            max_token_bytes=max_token_bytes,
        )
        self.optional = optional
        self.exclude_paths = frozenset(exclude_paths)
        self.realm = realm
        self.sources = TokenSources(cookie_name=cookie_name, websocket_query_param=websocket_query_param)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope_type = scope["type"]
        if scope_type != "http" and scope_type != "websocket":
            if scope_type == "lifespan":
                receive = self._lifespan_receive(receive)
            await self.app(scope, receive, send)
            return
        if self.exclude_paths and scope["path"] in self.exclude_paths:
            await self.app(scope, receive, send)
            return
        # A repeated token costs a header scan and a cache lookup before anything else: a
        # cache hit proves these are the bytes of a token checked in full when first seen.
        # Anything else (a miss, spaces, another spelling of the scheme) goes the full way.
        candidate = self.sources.header_token(scope)
        claims = self.verifier.cached(candidate) if candidate is not None else None
        if claims is None:
            if scope_type == "http" and is_cors_preflight(scope):
                # Without credentials by the Fetch standard: the CORS middleware answers it,
                # whether it runs before or after this one.
                await self.app(scope, receive, send)
                return
            try:
                claims = await self._authenticate(scope, candidate)
            except AuthError as error:
                await send_refusal(error, scope, receive, send, self.realm)
                return
        scope[REALM_SCOPE_KEY] = self.realm
        set_request_claims(scope, claims)
        await self.app(scope, receive, send)

    async def _authenticate(self, scope: Scope, candidate: str | None) -> Claims | None:
        # The header's credentials, when they are one b64token, are what `token` would find
        # (see `TokenSources.header_token`): no second scan.
        token = candidate if candidate is not None and is_b64token(candidate) else self.sources.token(scope)
        if token is None:
            if self.optional:
                return None
            raise MissingTokenError()
        return await verify_or_refuse(self.verifier, token)

    def _lifespan_receive(self, receive: Receive) -> Receive:
        async def lifespan_receive() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.verifier.start()
            elif message["type"] == "lifespan.shutdown":
                await self.verifier.aclose()
            return message

        return lifespan_receive

    def ready(self) -> bool:
        """True when every configured issuer has usable keys (for readiness probes)."""
        return self.verifier.ready()


class _ClaimsCredentials(AuthCredentials):
    """`scope["auth"]` of a token: `"authenticated"` (Starlette's convention, so that
    `@requires("authenticated")` works) and the token's scopes, sorted on first use (many
    routes never ask). `Claims.scopes` and the scope guards see the token's scopes only."""

    def __init__(self, claims: Claims) -> None:  # no super().__init__(): `scopes` comes later
        self._claims = claims

    @functools.cached_property
    def scopes(self) -> list[str]:  # type: ignore[override]  # stays writable, as in Starlette
        return sorted(self._claims.scopes | {"authenticated"})


def set_request_claims(scope: Scope, claims: Claims | None) -> None:
    """Put the request's claims where apps read them: `request.state.claims`, `scope["auth"]`
    and `scope["user"]` (so Starlette's own `requires()` works)."""
    state = scope.get("state")
    if state is None:
        state = scope["state"] = {}
    state["claims"] = claims
    if claims is None:
        scope["auth"], scope["user"] = AuthCredentials(), UnauthenticatedUser()
    else:
        scope["auth"], scope["user"] = claims._asgi or _starlette_auth(claims)


def _starlette_auth(claims: Claims) -> tuple[AuthCredentials, ClaimsUser]:
    """`scope["auth"]` and `scope["user"]` for these claims, made once per `Claims`."""
    made = claims._asgi = (_ClaimsCredentials(claims), ClaimsUser(claims))
    return made


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
