"""`JWKSMiddleware`: moves tokens from ASGI requests to the verifier, and claims back.

Pure ASGI (no `BaseHTTPMiddleware`): `http` and `websocket` requests are authenticated,
`lifespan` preloads keys before the app reports started and stops refreshers on shutdown.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import TYPE_CHECKING, Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._claims import Claims
from ._dpop_nonce import send_with_nonces
from ._dpop_policy import DPoPPolicy
from ._errors import (
    AuthError,
    AuthUnavailableError,
    InvalidAudienceError,
    MissingTokenError,
    UntrustedIssuerError,
)
from ._events import logger
from ._extract import (
    Credentials,
    TokenSources,
    bearer_credentials,
    is_b64token,
    is_cors_preflight,
    without_subprotocol_token,
)
from ._issuer import Issuer
from ._keys.store import IssuerResolver
from ._mtls import CertificateSource
from ._options import VerifierOptions
from ._request import (
    CHALLENGES_SCOPE_KEY,
    LIFESPAN_OWNER,
    REFUSAL_SCOPE_KEY,
    RequestClaims,
    app_challenges,
    completed_metadata,
    logged_refusal,
    verify_credentials,
)
from ._resource_audience import issuers_for_resource
from ._resource_metadata import ResourceMetadata
from ._responses import BEARER_ONLY, Challenges, send_refusal
from ._sender import SenderConstraints
from ._verify import TokenVerifier, own_or_given_verifier

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["JWKSMiddleware"]

# Refusals that say a token is not addressed to this middleware (another `iss`, or another
# audience of the same `iss`): with `optional=True`, left to routes with issuers of their own.
_LEFT_TO_ROUTES: Final = (UntrustedIssuerError, InvalidAudienceError)


class JWKSMiddleware:
    """Authenticates every request with a bearer token from a trusted issuer.

    Validated claims go to `request.state.claims` (a `Claims`), `scope["auth"]` and
    `scope["user"]`, so Starlette's `requires()` works too. Refusals follow RFC 6750.
    Give `issuers` (a list of `Issuer` objects and resolvers, or one resolver) and the
    verifier options (`VerifierOptions`, as for `TokenVerifier`), or a ready `verifier`.

    `optional=True` lets requests without a token through with claims None, and also those
    whose token is not addressed to this middleware (an `iss` it does not trust, or another
    audience): they are left to routes with their own `JWKSAuth(issuers=...)`, while
    `requires_scopes` and the dependencies relying on this middleware refuse them as it would.

    Sender-constrained tokens: `dpop` (a `DPoPPolicy`: proof algorithms, replay store, public
    origin) for issuers with `Issuer(dpop=...)`, and `client_certificate` (a
    `CertificateSource`) for issuers with `certificate_bound=...`. With `resource_metadata`
    (RFC 9728), the document is served at its well-known path without a token, every 401
    names it, and tokens must name the resource in `aud` (RFC 8707) unless
    `require_resource_audience=False`.

    An invalid configuration raises at construction; built by a running server (Starlette
    builds its middleware stack on the first ASGI call), the lifespan start-up fails instead
    and requests get 503, never 500.

    The `Claims`, `scope["auth"]` and `scope["user"]` of one token are made once and shared
    by its requests (read them; never change them).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        issuers: Iterable[Issuer | IssuerResolver] | IssuerResolver | None = None,
        verifier: TokenVerifier | None = None,
        optional: bool = False,
        exclude_paths: Iterable[str] = (),
        realm: str | None = None,
        cookie_name: str | None = None,
        websocket_query_param: str | None = None,
        websocket_subprotocol: str | None = None,
        dpop: DPoPPolicy | None = None,
        client_certificate: CertificateSource | None = None,
        resource_metadata: ResourceMetadata | None = None,
        require_resource_audience: bool = True,
        **options: Unpack[VerifierOptions],
    ) -> None:
        self.app = app
        #: The error of an invalid configuration, kept when a running server built this (below).
        self.configuration_error: TypeError | ValueError | None = None
        #: The RFC 9728 metadata served at its well-known path, completed from the configuration.
        self.metadata: ResourceMetadata | None = None
        self.challenges = BEARER_ONLY
        self.request_claims = RequestClaims()
        try:
            if isinstance(exclude_paths, str):
                raise TypeError("exclude_paths must be a list of paths")
            if resource_metadata is not None and issuers is not None and require_resource_audience:
                issuers = issuers_for_resource(issuers, resource_metadata.resource)  # RFC 8707
            self.verifier = own_or_given_verifier(issuers, verifier, options)
            self.constraints = SenderConstraints(
                dpop=dpop, client_certificate=client_certificate, clock=self.verifier.options.clock
            )
            if resource_metadata is not None:
                self.metadata = completed_metadata(resource_metadata, self.verifier, self.constraints)
            self.challenges = app_challenges(self.verifier, self.constraints, realm, self.metadata)
        except (TypeError, ValueError) as error:
            if not _event_loop_running():
                raise
            # Starlette builds its middleware stack inside the server's first call (the
            # lifespan): raised there, the error makes uvicorn (lifespan "auto") conclude the
            # app has no lifespan and then answer 500 to every request. Kept instead, it fails
            # the lifespan start-up (the server stops) and any request gets a 503.
            logger.error("invalid JWKSMiddleware configuration: %s", error)
            self.configuration_error = error
        self.optional = optional
        self.exclude_paths = frozenset(exclude_paths)
        self.realm = realm
        self.sources = TokenSources(
            cookie_name=cookie_name,
            websocket_query_param=websocket_query_param,
            websocket_subprotocol=websocket_subprotocol,
        )
        # For the fast paths of `__call__`: no path of this middleware is served without a
        # token; and Bearer credentials are never a certificate-bound or an opaque token.
        self._tokens_only = (
            self.configuration_error is None and self.metadata is None and not self.exclude_paths
        )
        self._header_only = self._tokens_only and self.sources.header_only
        self._bearer_inline = (
            self._tokens_only
            and self.constraints.client_certificate is None
            and not self.verifier.takes_opaque_tokens
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The common cases first: an HTTP request with `Authorization: Bearer <token>`. A token
        # the verifier has cached costs a header scan and a cache lookup (a hit proves these
        # are the bytes of a token checked in full when first seen); a new one goes straight
        # to the verifier. Everything else takes `_handle`.
        if self._header_only and scope["type"] == "http":
            candidate = bearer_credentials(scope["headers"])
            if candidate is not None:
                claims = self.verifier.cached(candidate)
                if claims is not None:
                    scope[CHALLENGES_SCOPE_KEY] = self.challenges
                    self.request_claims.put(scope, claims, self.verifier)
                    await self.app(scope, receive, send)
                    return
                if self._bearer_inline and scope["method"] != "OPTIONS":  # never a CORS preflight
                    await self._first_sight(scope, receive, send, candidate)
                    return
            await self._handle(scope, receive, send, candidate)
        else:
            await self._handle(scope, receive, send, None)

    async def _first_sight(self, scope: Scope, receive: Receive, send: Send, candidate: str) -> None:
        """`_handle` for the Bearer credentials of an HTTP request's header, not cached, when
        they can only be a bearer JWT (no client certificates, no opaque tokens): the verifier
        without the layers around it."""
        if not is_b64token(candidate):  # not one token: the full rules decide (400, or a token)
            await self._handle(scope, receive, send, candidate)
            return
        try:
            found = self.verifier.begin(candidate)
            claims: Claims | None = found if type(found) is Claims else await found
        except AuthError as error:
            if await self._refused(error, scope, receive, send, self.challenges):
                return
            claims = None
        except Exception as error:  # noqa: BLE001 - never a 500 from authentication
            await send_refusal(logged_refusal(error, candidate), scope, receive, send, self.challenges)
            return
        scope[CHALLENGES_SCOPE_KEY] = self.challenges
        self.request_claims.put(scope, claims, self.verifier)
        await self.app(scope, receive, send)

    async def _handle(self, scope: Scope, receive: Receive, send: Send, candidate: str | None) -> None:
        scope_type = scope["type"]
        if scope_type != "http" and scope_type != "websocket":
            if scope_type == "lifespan":
                await self._lifespan(scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return
        if self.configuration_error is not None:
            logger.error(
                "request refused with 503: invalid JWKSMiddleware configuration: %s", self.configuration_error
            )
            await send_refusal(AuthUnavailableError(), scope, receive, send, self.challenges)
            return
        metadata = self.metadata
        if metadata is not None and scope["path"] == metadata.well_known_path and scope_type == "http":
            await metadata(scope, receive, send)  # RFC 9728 section 3: no token needed
            return
        if self.exclude_paths and scope["path"] in self.exclude_paths:
            await self.app(scope, receive, send)
            return
        # `candidate`: the header's Bearer credentials, as in `__call__` (which scans only the
        # requests of its short path); anything else (a miss, spaces, another spelling of the
        # scheme) goes the full way.
        if not (self._header_only and scope_type == "http"):
            candidate = self.sources.header_token(scope)
        claims = self.verifier.cached(candidate) if candidate is not None else None
        challenges = self.challenges
        if claims is None:
            if scope_type == "http" and is_cors_preflight(scope):
                # Without credentials by the Fetch standard: the CORS middleware answers it,
                # whether it runs before or after this one.
                await self.app(scope, receive, send)
                return
            try:
                credentials = self._credentials(scope, candidate)
                if credentials is not None and credentials.scheme == "dpop":
                    challenges = challenges.for_scheme("dpop")
                    nonces = self.constraints.dpop.nonces
                    if nonces is not None:  # on every answer, refusals included (RFC 9449 section 8.2)
                        send = send_with_nonces(send, nonces, self.verifier.options.clock)
                claims = await self._authenticate(scope, credentials)
            except AuthError as error:
                if await self._refused(error, scope, receive, send, challenges):
                    return
                claims = None
        scope[CHALLENGES_SCOPE_KEY] = challenges
        self.request_claims.put(scope, claims, self.verifier)
        marker = self.sources.websocket_subprotocol
        if marker is not None and scope_type == "websocket" and marker in scope.get("subprotocols", ()):
            send = _answer_subprotocol(scope, send, marker)
        await self.app(scope, receive, send)

    async def _refused(
        self, error: AuthError, scope: Scope, receive: Receive, send: Send, challenges: Challenges
    ) -> bool:
        """Answer the refusal of a request's token, and say True; with `optional=True` a token
        not addressed to this middleware's issuers is left to the routes instead (False): a
        route with its own issuers (`JWKSAuth(issuers=...)`) may trust it, and whatever relies
        on this middleware refuses it with this error."""
        if self.optional and isinstance(error, _LEFT_TO_ROUTES):
            scope[REFUSAL_SCOPE_KEY] = error
            return False
        await send_refusal(error, scope, receive, send, challenges)
        return True

    def _credentials(self, scope: Scope, candidate: str | None) -> Credentials | None:
        # The header's Bearer credentials, when they are one b64token, are what `credentials`
        # would find (see `TokenSources.header_token`): no second scan.
        if candidate is not None and is_b64token(candidate):
            return Credentials(candidate)
        return self.sources.credentials(scope)

    async def _authenticate(self, scope: Scope, credentials: Credentials | None) -> Claims | None:
        if credentials is None:
            if self.optional:
                return None
            raise MissingTokenError()
        return await verify_credentials(self.verifier, self.constraints, scope, credentials)

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = self.configuration_error
        if error is not None:
            await receive()  # lifespan.startup, always the first message (ASGI lifespan spec)
            text = f"invalid JWKSMiddleware configuration: {error}"
            await send({"type": "lifespan.startup.failed", "message": text})
            raise error  # as Starlette's router does after a failed start-up
        # The FastAPI wiring's start-up checks ask whether a middleware authenticates the app.
        around = LIFESPAN_OWNER.set(self)
        try:
            await self.app(scope, self._lifespan_receive(receive), send)
        finally:
            LIFESPAN_OWNER.reset(around)

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
        return self.configuration_error is None and self.verifier.ready()


def _answer_subprotocol(scope: Scope, send: Send, marker: str) -> Send:
    """Hide the subprotocol token from the app, and accept with the marker when the app picks
    no subprotocol of its own: a browser that offered subprotocols fails the connection when
    the answer names none (RFC 6455 section 4.1), and the token itself is never echoed."""
    scope["subprotocols"] = without_subprotocol_token(scope["subprotocols"], marker)

    async def send_with_subprotocol(message: Message) -> None:
        if message["type"] == "websocket.accept" and not message.get("subprotocol"):
            message = {**message, "subprotocol": marker}
        await send(message)

    return send_with_subprotocol


def _event_loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
