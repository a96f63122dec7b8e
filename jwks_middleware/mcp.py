"""MCP servers on the official MCP Python SDK, protected by this library's verifier.

`JWKSTokenVerifier` implements the SDK's `TokenVerifier` protocol: an MCP server gets this
library's key store, provider presets and refusal rules, and publishes its RFC 9728 metadata::

    from mcp.server.mcpserver import MCPServer
    from jwks_middleware import Issuer
    from jwks_middleware.mcp import JWKSTokenVerifier, ResourceMetadata

    RESOURCE = "https://mcp.example.com/mcp"        # the server's URL, as clients call it
    ISSUER = "https://auth.example.com/"

    verifier = JWKSTokenVerifier(
        [Issuer(ISSUER, audience=RESOURCE)],
        metadata=ResourceMetadata(RESOURCE, authorization_servers=[ISSUER], scopes_supported=["notes:read"]),
    )
    server = MCPServer("Notes", token_verifier=verifier, auth=verifier.auth_settings(["notes:read"]))
    app = verifier.wrap(server.streamable_http_app())  # keys loaded at start-up; metadata served

A token is accepted when this library's `TokenVerifier` accepts it and, with `metadata`, its
`aud` names the resource (RFC 8707 section 2). The SDK then answers every refusal with 401
`invalid_token` (403 `insufficient_scope` for its `required_scopes`) and a `WWW-Authenticate`
challenge carrying `resource_metadata`.
"""

from __future__ import annotations

# Checked first, for a clear message.
try:
    from mcp.server.auth.provider import AccessToken
    from mcp.server.auth.settings import AuthSettings
except ImportError as error:  # tested with the SDK hidden
    raise ImportError('jwks_middleware.mcp needs the MCP SDK: pip install "jwks-middleware[mcp]"') from error

from collections.abc import Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._claims import Claims
from ._errors import AuthError
from ._issuer import Issuer
from ._keys.store import IssuerResolver
from ._options import VerifierOptions
from ._request import verify_or_refuse
from ._resource_audience import issuers_for_resource
from ._resource_metadata import ResourceMetadata, ResourceMetadataMiddleware
from ._verify import TokenVerifier

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["CLIENT_ID_CLAIMS", "JWKSTokenVerifier", "ResourceMetadata"]

#: Claims naming the client a token was issued to, the first present wins: `client_id`
#: (RFC 9068 section 2.2), `azp` (OpenID Connect; Auth0, Keycloak, Entra ID v2, Clerk), `cid`
#: (Okta), `appid` (Entra ID v1).
CLIENT_ID_CLAIMS: Final = ("client_id", "azp", "cid", "appid")


class JWKSTokenVerifier:
    """The MCP SDK's `TokenVerifier` over this library's `TokenVerifier`.

    `issuers` and the verifier options (`VerifierOptions`) as for `JWKSMiddleware`. With `metadata`, the
    server's RFC 9728 metadata: every issuer then accepts only tokens whose `aud` names
    `metadata.resource` (RFC 8707 section 2, see `issuer_for_resource`) unless
    `require_resource_audience=False`, and `wrap` serves the document. `verifier` is the
    underlying `TokenVerifier` (readiness, key store states, events).
    """

    def __init__(
        self,
        issuers: Iterable[Issuer | IssuerResolver] | IssuerResolver,
        *,
        metadata: ResourceMetadata | None = None,
        require_resource_audience: bool = True,
        **options: Unpack[VerifierOptions],
    ) -> None:
        if not callable(issuers):
            issuers = list(issuers)
        if metadata is not None:
            _check_metadata(metadata, issuers)
            if require_resource_audience:
                issuers = issuers_for_resource(issuers, metadata.resource)
        self.metadata = metadata
        self.require_resource_audience = require_resource_audience
        self.verifier = TokenVerifier(issuers, **options)

    async def verify_token(self, token: str) -> AccessToken | None:
        """The token's `AccessToken`, or None when it is refused (the SDK then answers 401).

        Refusals are reported as this library's events (reason included), never raised: the
        SDK would answer an exception with a 500. A token refused because no key was ever
        loaded (503 with `JWKSMiddleware`) is also None here: the protocol has no other answer.
        """
        try:
            claims = await verify_or_refuse(self.verifier, token)
        except AuthError:
            return None
        return self.access_token(token, claims)

    def access_token(self, token: str, claims: Claims) -> AccessToken:
        """The SDK's `AccessToken` of a verified token.

        `client_id`: the first of `CLIENT_ID_CLAIMS` present (empty if none); `scopes`: sorted
        `claims.scopes`; `expires_at`: `exp`; `resource`: the resource identifier when `aud`
        names it, else `aud` when it is a single value; `subject`: `sub`; `claims`: every claim.
        `token` is the token itself, as the SDK defines it: never log it, and never forward it
        to another service (the MCP authorization spec forbids token passthrough).
        """
        client_id = next(
            (value for name in CLIENT_ID_CLAIMS if isinstance(value := claims.get(name), str) and value), ""
        )
        exp = claims.get("exp")
        return AccessToken(
            token=token,
            client_id=client_id,
            scopes=sorted(claims.scopes),
            expires_at=int(exp) if isinstance(exp, (int, float)) and not isinstance(exp, bool) else None,
            resource=self._resource_of(claims.audience),
            subject=claims.subject,
            claims=dict(claims),
        )

    def _resource_of(self, audience: str | tuple[str, ...] | None) -> str | None:
        named = {audience} if isinstance(audience, str) else set(audience or ())
        if self.metadata is not None and named & self.metadata.audiences:
            return self.metadata.resource
        if isinstance(audience, str):
            return audience
        return audience[0] if audience is not None and len(audience) == 1 else None

    def auth_settings(self, required_scopes: Iterable[str] = ()) -> AuthSettings:
        """The SDK's `AuthSettings` for `MCPServer(auth=...)`, from `metadata`: its first
        authorization server, its resource, `required_scopes` (every one needed, 403 otherwise),
        and the SDK's own check of `AccessToken.resource` on when the resource audience is."""
        if self.metadata is None:
            raise ValueError(
                "auth_settings() needs the resource's metadata: JWKSTokenVerifier(..., metadata=...)"
            )
        scopes = list(required_scopes)
        return AuthSettings(
            issuer_url=self.metadata.authorization_servers[0],  # type: ignore[arg-type]  # pydantic parses it
            resource_server_url=self.metadata.resource,  # type: ignore[arg-type]
            required_scopes=scopes or None,
            validate_token_resource=self.require_resource_audience,
        )

    def wrap(self, app: ASGIApp) -> ASGIApp:
        """`app` (the SDK's `streamable_http_app()`) with this verifier's keys loaded before it
        serves and the background refreshers stopped after it (ASGI lifespan), and with
        `metadata` served at its well-known path, in place of the SDK's own document (which
        lists a single authorization server and no more than the required scopes)."""
        if self.metadata is not None:
            app = ResourceMetadataMiddleware(app, metadata=self.metadata)
        return _KeysLifespan(app, self.verifier)

    async def start(self) -> None:
        """Load every configured issuer's keys and start the background refreshers."""
        await self.verifier.start()

    async def aclose(self) -> None:
        """Stop background work."""
        await self.verifier.aclose()

    def ready(self) -> bool:
        """True when every configured issuer has usable keys (for readiness probes)."""
        return self.verifier.ready()

    async def __aenter__(self) -> JWKSTokenVerifier:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        resource = self.metadata.resource if self.metadata is not None else None
        return f"JWKSTokenVerifier({self.verifier!r}, resource={resource!r})"


class _KeysLifespan:
    """Starts a verifier when the ASGI server starts the app, and stops it on shutdown."""

    def __init__(self, app: ASGIApp, verifier: TokenVerifier) -> None:
        self.app = app
        self.verifier = verifier

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return

        async def lifespan_receive() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.verifier.start()
            elif message["type"] == "lifespan.shutdown":
                await self.verifier.aclose()
            return message

        await self.app(scope, lifespan_receive, send)


def _check_metadata(
    metadata: ResourceMetadata, issuers: list[Issuer | IssuerResolver] | IssuerResolver
) -> None:
    # The MCP authorization spec: the metadata names at least one authorization server, where
    # clients get their tokens; a server named there whose tokens are refused is a mistake.
    if not metadata.authorization_servers:
        raise ValueError(
            "MCP clients find their authorization server in the metadata: give authorization_servers"
        )
    if not callable(issuers) and all(isinstance(source, Issuer) for source in issuers):
        trusted = {
            iss
            for issuer in issuers
            if isinstance(issuer, Issuer)
            for iss in (issuer.issuer, *issuer.aliases)
        }
        if untrusted := [server for server in metadata.authorization_servers if server not in trusted]:
            raise ValueError(
                f"the metadata names authorization servers that are not trusted issuers: {untrusted}"
            )
