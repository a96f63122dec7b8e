"""`JWKSMiddleware`: moves tokens from ASGI requests to the verifier, and claims back.

Pure ASGI (no `BaseHTTPMiddleware`): `http` and `websocket` requests are authenticated,
`lifespan` preloads keys before the app reports started and stops refreshers on shutdown.
"""

from __future__ import annotations

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
from ._extract import TokenSources
from ._issuer import Issuer
from ._responses import send_refusal
from ._store import IssuerResolver
from ._verify import TokenVerifier

__all__ = ["REALM_SCOPE_KEY", "ClaimsUser", "JWKSMiddleware"]

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
        # Whether the Authorization header is the only token source of an HTTP request, and
        # of a WebSocket handshake: then a cached token can be found before any other work.
        self._header_only = cookie_name is None
        self._header_only_websocket = cookie_name is None and websocket_query_param is None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope_type = scope["type"]
        if scope_type == "http":
            header_only = self._header_only
        elif scope_type == "websocket":
            header_only = self._header_only_websocket
        else:
            if scope_type == "lifespan":
                receive = self._lifespan_receive(receive)
            await self.app(scope, receive, send)
            return
        if self.exclude_paths and scope["path"] in self.exclude_paths:
            await self.app(scope, receive, send)
            return
        scope[REALM_SCOPE_KEY] = self.realm
        claims = self._cached_claims(scope) if header_only else None
        if claims is None:
            try:
                claims = await self._authenticate(scope)
            except AuthError as error:
                await send_refusal(error, scope, receive, send, self.realm)
                return
        state = scope.get("state")
        if state is None:
            state = scope["state"] = {}
        state["claims"] = claims
        if claims is None:
            scope["auth"], scope["user"] = AuthCredentials(), UnauthenticatedUser()
        else:
            scope["auth"], scope["user"] = claims._asgi or _starlette_auth(claims)
        await self.app(scope, receive, send)

    def _cached_claims(self, scope: Scope) -> Claims | None:
        """The claims of a token verified before, found with the least work: the one
        Authorization header, in its usual spelling, looked up in the verifier's cache.
        None sends the request the full way (extraction rules, then `verify`)."""
        authorization = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                if authorization is not None:
                    return None  # two headers: refused on the full way
                authorization = value
        if authorization is None or authorization[:7] != b"Bearer ":
            return None
        # A cached token was checked in full when it was first seen, so a cache hit proves
        # these bytes are one well-formed token; anything else (spaces, another spelling of
        # the scheme, non-ASCII) misses the cache and takes the full way.
        return self.verifier.cached(authorization[7:].decode("latin-1"))

    async def _authenticate(self, scope: Scope) -> Claims | None:
        token = self.sources.token(scope)
        if token is None:
            if self.optional:
                return None
            raise MissingTokenError()
        try:
            return await self.verifier.verify(token)
        except AuthError:
            raise
        except Exception as error:  # noqa: BLE001
            # Never a 500 from authentication: log the failure and refuse. The error's text may
            # quote its input, so the token and its parts are cut out of what is logged.
            trace = "".join(traceback.format_exception(type(error), error, error.__traceback__))
            logger.error("unexpected error while verifying a token\n%s", _redact(trace, token))
            raise InvalidTokenError(f"unexpected {type(error).__name__}") from None

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


def _starlette_auth(claims: Claims) -> tuple[AuthCredentials, ClaimsUser]:
    """`scope["auth"]` and `scope["user"]` for these claims, made once per `Claims`."""
    made = claims._asgi = (AuthCredentials(sorted(claims.scopes)), ClaimsUser(claims))
    return made


def _redact(text: str, token: str) -> str:
    """`text` without `token` or any of its dot-separated parts."""
    for part in sorted({token, *token.split(".")}, key=len, reverse=True):
        if len(part) >= 8:
            text = text.replace(part, "<token>")
    return text
