"""A connection's authentication state: where verified claims are put on the ASGI scope (by the
middleware and by the FastAPI dependencies alike), the one guarded call of the verifier, and the
scope keys the guards read."""

from __future__ import annotations

import functools
import traceback
from collections.abc import Awaitable
from contextvars import ContextVar
from typing import Final

from starlette.authentication import AuthCredentials, BaseUser, UnauthenticatedUser
from starlette.types import Scope

from ._claims import Claims
from ._errors import AuthError, InvalidTokenError
from ._events import logger
from ._extract import Credentials
from ._resource_metadata import ResourceMetadata
from ._responses import Challenges
from ._sender import SenderConstraints
from ._verify import TokenVerifier

__all__ = [
    "CHALLENGES_SCOPE_KEY",
    "LIFESPAN_OWNER",
    "REFUSAL_SCOPE_KEY",
    "VERIFIED_BY_SCOPE_KEY",
    "ClaimsUser",
    "RequestClaims",
    "app_challenges",
    "claims_verified_by",
    "completed_metadata",
    "logged_refusal",
    "middleware_in_lifespan",
    "verify_credentials",
    "verify_or_refuse",
]

#: Scope key under which the middleware leaves the `Challenges` of its refusals (realm, schemes,
#: metadata URL), for the endpoint guards' refusals; present when the middleware authenticated
#: the request.
CHALLENGES_SCOPE_KEY: Final = "jwks_middleware.challenges"
#: Scope key of the refusal of a token the middleware left to the routes (`optional=True`).
REFUSAL_SCOPE_KEY: Final = "jwks_middleware.refusal"
#: Scope key of the verifier that made the request's claims.
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


# Tokens whose Starlette objects are kept: the busy ones. Keeping more costs a token seen
# for the first time more than it saves (more live objects for the garbage collector).
_RECENT_TOKENS: Final = 1024


class RequestClaims:
    """Puts a request's claims where apps read them: `request.state.claims`, `scope["auth"]`
    and `scope["user"]` (so Starlette's own `requires()` works).

    The `scope["auth"]` and `scope["user"]` objects of one `Claims` (one token: the verifier
    caches its claims) are made once and shared by its requests, up to `size` tokens; they
    are read-only, like the claims.
    """

    __slots__ = ("_made", "_size")

    def __init__(self, size: int = _RECENT_TOKENS) -> None:
        self._size = max(1, size)
        self._made: dict[int, tuple[Claims, AuthCredentials, BaseUser]] = {}

    def put(self, scope: Scope, claims: Claims | None, verifier: TokenVerifier) -> None:
        """Put `claims`, made by `verifier`, on the request of `scope`."""
        state = scope.get("state")
        if state is None:
            state = scope["state"] = {}
        state["claims"] = claims
        scope[VERIFIED_BY_SCOPE_KEY] = verifier
        if claims is None:
            scope["auth"], scope["user"] = AuthCredentials(), UnauthenticatedUser()
            return
        made = self._made.get(id(claims))
        if made is None or made[0] is not claims:  # the identity check: ids are reused
            if len(self._made) >= self._size:
                self._made.clear()
            made = self._made[id(claims)] = (claims, _ClaimsCredentials(claims), ClaimsUser(claims))
        scope["auth"], scope["user"] = made[1], made[2]


def claims_verified_by(scope: Scope, verifier: TokenVerifier) -> Claims | None:
    """The request's claims when `verifier` made them.

    A route with its own verifier reuses only claims of that very verifier: another one may
    trust other issuers, or the same `iss` for other audiences."""
    if scope.get(VERIFIED_BY_SCOPE_KEY) is not verifier:
        return None
    claims = scope.get("state", {}).get("claims")
    return claims if isinstance(claims, Claims) else None


def middleware_in_lifespan() -> bool:
    """True inside the lifespan start-up of an app that a `JWKSMiddleware` wraps."""
    return LIFESPAN_OWNER.get() is not None


async def verify_credentials(
    verifier: TokenVerifier, constraints: SenderConstraints, scope: Scope, credentials: Credentials
) -> Claims:
    """The claims of the request's token, its binding to the client's key (DPoP, a client
    certificate) checked when it may have one; any unexpected failure is a refusal."""
    if not constraints.needs_bound_verification(credentials):
        return await verify_or_refuse(verifier, credentials.token)
    return await _guarded(_verify_bound(verifier, constraints, scope, credentials), credentials.token)


async def _verify_bound(
    verifier: TokenVerifier, constraints: SenderConstraints, scope: Scope, credentials: Credentials
) -> Claims:
    claims = await verifier.verify_bound(credentials.token)
    now = verifier.options.clock()
    await constraints.check(scope, credentials, claims, verifier.issuer_of(claims), now)
    return claims


async def verify_or_refuse(verifier: TokenVerifier, token: str) -> Claims:
    """`verifier.verify`, with any unexpected failure logged and turned into a refusal."""
    try:
        return await verifier.verify(token)
    except AuthError:
        raise
    except Exception as error:  # noqa: BLE001
        raise logged_refusal(error, token) from None


async def _guarded(verification: Awaitable[Claims], token: str) -> Claims:
    try:
        return await verification
    except AuthError:
        raise
    except Exception as error:  # noqa: BLE001
        raise logged_refusal(error, token) from None


def logged_refusal(error: Exception, token: str) -> InvalidTokenError:
    """The refusal of a token whose check failed unexpectedly, the failure logged: never a 500
    from authentication. The error's text may quote its input, so the token and its parts are
    cut out of what is logged."""
    trace = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    logger.error("unexpected error while verifying a token\n%s", _redact(trace, token))
    return InvalidTokenError(f"unexpected {type(error).__name__}")


def _redact(text: str, token: str) -> str:
    """`text` without `token` or any of its dot-separated parts."""
    for part in sorted({token, *token.split(".")}, key=len, reverse=True):
        if len(part) >= 8:
            text = text.replace(part, "<token>")
    return text


def app_challenges(
    verifier: TokenVerifier,
    constraints: SenderConstraints,
    realm: str | None,
    metadata: ResourceMetadata | None,
) -> Challenges:
    """The challenges of an adapter's refusals: its realm, the schemes its issuers accept,
    and its metadata URL."""
    store = verifier.key_store
    return constraints.challenges(
        store.listed,
        resolvers=store.has_resolvers,
        realm=realm,
        resource_metadata=None if metadata is None else metadata.url,
    )


def completed_metadata(
    metadata: ResourceMetadata, verifier: TokenVerifier, constraints: SenderConstraints
) -> ResourceMetadata:
    """`metadata` with what the configuration already says filled in where it was left empty:
    the trusted issuers as `authorization_servers`, and how tokens must be bound (RFC 9728
    section 2)."""
    challenges = app_challenges(verifier, constraints, None, None)
    listed = verifier.key_store.listed
    return ResourceMetadata(
        metadata.resource,
        authorization_servers=metadata.authorization_servers or [issuer.issuer for issuer in listed],
        scopes_supported=metadata.scopes_supported,
        bearer_methods_supported=metadata.bearer_methods_supported,
        dpop_signing_alg_values_supported=metadata.dpop_signing_alg_values_supported
        or challenges.dpop_algorithms,
        dpop_bound_access_tokens_required=metadata.dpop_bound_access_tokens_required or not challenges.bearer,
        tls_client_certificate_bound_access_tokens=metadata.tls_client_certificate_bound_access_tokens
        or (
            constraints.client_certificate is not None
            and any(issuer.certificate_bound != "refused" for issuer in listed)
        ),
        resource_name=metadata.resource_name,
        resource_documentation=metadata.resource_documentation,
        resource_policy_uri=metadata.resource_policy_uri,
        resource_tos_uri=metadata.resource_tos_uri,
        cache_max_age=metadata.cache_max_age,
    )
