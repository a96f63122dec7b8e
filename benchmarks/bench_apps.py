"""The applications under test: one JSON endpoint, guarded by each contender.

Every contender answers the same endpoint and verifies the same token with the same rules
(signature, `iss`, `aud`, `exp` required, 60 s leeway). The peers are written the way a
careful user would write them with each library's documented API:

- `PyJWTMiddleware`: pure ASGI, `PyJWKClient` with both of its caches on (the parsed key set
  and the per-`kid` key), warmed before timing, then `jwt.decode` with an allowlist;
- `JoserfcKeySetMiddleware`: the JWKS fetched once into a joserfc `KeySet`, then
  `jwt.decode` and a `JWTClaimsRegistry` on every request (no refresh: "naive");
- `fastapi_pyjwt`: FastAPI's `HTTPBearer` plus an `async def` PyJWT dependency (as in
  FastAPI's security tutorial; `async` keeps it off the thread pool, in its favour).

References, not contenders: `HandWrittenMiddleware` (the same checks written by hand for one
issuer and key, on `cryptography` directly) and `SignatureOnlyMiddleware` (nothing but the raw
signature check, inside a request) show what Python and the signature cost a request here.
"""

# No `from __future__ import annotations` here: FastAPI reads the `Annotated[..., Depends(x)]`
# of routes defined inside functions, whose `x` are local names a string annotation cannot reach.
import binascii
import json
import math
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, Final, NamedTuple

import jwt as pyjwt
from fastapi import Depends, FastAPI, HTTPException, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, SecurityScopes
from joserfc import jwt as jose_jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from starlette.applications import Starlette
from starlette.authentication import AuthCredentials
from starlette.middleware import Middleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from jwks_middleware import Claims, Issuer, JWKSMiddleware
from jwks_middleware.fastapi import AuthClaims, JWKSAuth

LEEWAY: Final = 60
BODY: Final = {"hello": "world"}


async def hello(request: Request) -> JSONResponse:
    """The endpoint of every Starlette variant."""
    return JSONResponse(BODY)


def bare_starlette() -> Starlette:
    """No authentication at all: the reference every ratio is taken against."""
    return Starlette(routes=[Route("/", hello)])


def ours_starlette(issuer: Issuer, **options: Any) -> Starlette:
    """`JWKSMiddleware` in front of the same endpoint (keys found by OIDC discovery)."""
    middleware = Middleware(JWKSMiddleware, issuers=[issuer], **options)
    return Starlette(routes=[Route("/", hello)], middleware=[middleware])


class PassThroughMiddleware:
    """Reference: a pure-ASGI middleware doing nothing at all (the cost of one more layer)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


class LookupOnlyMiddleware:
    """Reference: the least a token cache can do: find the one Authorization header, take
    the token, one dict lookup, set the request state; no checks at all. The floor under our
    cached path, which adds the checks (time, key freshness, whole-token equality)."""

    def __init__(self, app: ASGIApp, *, known: dict[str, object]) -> None:
        self.app = app
        self.known = known

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            authorization = b""
            for name, value in scope["headers"]:
                if name == b"authorization":
                    authorization = value
            claims = self.known.get(authorization[7:].decode("latin-1")[-32:])
            scope["state"]["claims"] = claims
            scope["auth"] = scope["user"] = claims
        await self.app(scope, receive, send)


def pass_through_starlette() -> Starlette:
    return Starlette(routes=[Route("/", hello)], middleware=[Middleware(PassThroughMiddleware)])


def lookup_only_starlette(token: str) -> Starlette:
    known: dict[str, object] = {token[-32:]: BODY}
    return Starlette(routes=[Route("/", hello)], middleware=[Middleware(LookupOnlyMiddleware, known=known)])


class HandWrittenCacheMiddleware:
    """Reference: a careful hand-written cache hit, all in one function: the work our cached
    path must do (the whole token compared, not only the dictionary key; the verdict's time
    window and the keys' freshness checked; Starlette's `auth` and `user` objects, made once
    per token, put on the scope), without a single call of ours."""

    def __init__(self, app: ASGIApp, *, token: str, claims: Claims) -> None:
        self.app = app
        self.known: dict[str, _Hit] = {
            token[-32:]: _Hit(token, claims, -math.inf, time.time() + 3600, _Keys(math.inf), claims)
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            authorization = b""
            for name, value in scope["headers"]:
                if name == b"authorization":
                    authorization = value
            token = authorization[7:].decode("latin-1")
            hit = self.known.get(token[-32:])
            now = time.time()
            if (
                hit is not None
                and hit.token == token
                and hit.valid_from <= now < hit.valid_until
                and now <= hit.keys.usable_until
            ):
                scope["state"]["claims"] = hit.claims
                scope["auth"], scope["user"] = hit.auth, hit.user
        await self.app(scope, receive, send)


class _Keys(NamedTuple):
    usable_until: float


class _Hit:
    __slots__ = ("auth", "claims", "keys", "token", "user", "valid_from", "valid_until")

    def __init__(
        self, token: str, claims: Claims, valid_from: float, valid_until: float, keys: _Keys, user: object
    ) -> None:
        self.token, self.claims, self.keys = token, claims, keys
        self.valid_from, self.valid_until = valid_from, valid_until
        self.auth, self.user = AuthCredentials(["authenticated"]), user


def hand_written_cache_starlette(token: str, claims: Claims) -> Starlette:
    middleware = Middleware(HandWrittenCacheMiddleware, token=token, claims=claims)
    return Starlette(routes=[Route("/", hello)], middleware=[middleware])


def _bearer_token(scope: Scope) -> str | None:
    value: bytes
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, credentials = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and credentials.strip():
                return credentials.strip()
    return None


_REFUSAL: Final = Response(status_code=401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


class PyJWTMiddleware:
    """A careful user's pure-ASGI middleware on PyJWT's `PyJWKClient`."""

    def __init__(
        self, app: ASGIApp, *, jwks_uri: str, issuer: str, audience: str, algorithms: Sequence[str]
    ) -> None:
        self.app = app
        # Both caches on: the parsed key set (refetched after `lifespan` seconds) and the
        # key per kid. The first fetch happens in `warm()`, never while timing.
        self.jwks = pyjwt.PyJWKClient(jwks_uri, cache_keys=True, lifespan=900)
        self.issuer = issuer
        self.audience = audience
        self.algorithms = list(algorithms)

    def warm(self, kid: str) -> None:
        """Fetch the key set and cache the signing key (blocking: before serving)."""
        self.jwks.get_signing_key(kid)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = _bearer_token(scope)
        try:
            if token is None:
                raise pyjwt.InvalidTokenError("no token")
            key = self.jwks.get_signing_key_from_jwt(token)
            claims = pyjwt.decode(
                token,
                key,
                algorithms=self.algorithms,
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY,
                options={"require": ["exp", "iss", "aud"]},
            )
        except pyjwt.PyJWTError:
            await _REFUSAL(scope, receive, send)
            return
        scope.setdefault("state", {})["claims"] = claims
        await self.app(scope, receive, send)


def pyjwt_starlette(jwks_uri: str, issuer: str, audience: str, algorithms: Sequence[str]) -> Starlette:
    """The same endpoint behind `PyJWTMiddleware`."""
    middleware = Middleware(
        PyJWTMiddleware, jwks_uri=jwks_uri, issuer=issuer, audience=audience, algorithms=algorithms
    )
    return Starlette(routes=[Route("/", hello)], middleware=[middleware])


_TO_STANDARD: Final = bytes.maketrans(b"-_", b"+/")


def _b64decode(part: bytes) -> bytes:
    return binascii.a2b_base64(part.translate(_TO_STANDARD) + b"==")


class HandWrittenMiddleware:
    """Reference: a careful hand-written check for one issuer and one key, `cryptography`
    directly: split, base64url (`binascii`), `json.loads`, `alg` and `kid`, `iss`, `aud`,
    `exp`/`nbf`/`iat` with leeway, then the signature. No strict parsing (duplicate members,
    canonical base64url, size), no cache, no key refresh, no events."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        check: Callable[[bytes, bytes], bool],
        alg: str,
        kid: str,
        issuer: str,
        audience: str,
    ) -> None:
        self.app = app
        self.check = check
        self.alg, self.kid, self.issuer, self.audience = alg, kid, issuer, audience

    def _claims(self, authorization: bytes) -> dict[str, Any] | None:
        head, payload, signature = authorization[7:].split(b".")
        header = json.loads(_b64decode(head))
        claims: dict[str, Any] = json.loads(_b64decode(payload))
        now = time.time()
        valid = (
            header.get("alg") == self.alg
            and header.get("kid") == self.kid
            and claims.get("iss") == self.issuer
            and claims.get("aud") == self.audience
            and now < claims["exp"] + LEEWAY
            and claims.get("nbf", 0) - LEEWAY <= now
            and claims.get("iat", 0) - LEEWAY <= now
            and self.check(head + b"." + payload, _b64decode(signature))
        )
        return claims if valid else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            authorization = b""
            for name, value in scope["headers"]:
                if name == b"authorization":
                    authorization = value
            try:
                claims = self._claims(authorization)
            except (ValueError, KeyError, TypeError):
                claims = None
            if claims is None:
                await _REFUSAL(scope, receive, send)
                return
            scope["state"]["claims"] = claims
        await self.app(scope, receive, send)


def hand_written_starlette(
    check: Callable[[bytes, bytes], bool], alg: str, kid: str, issuer: str, audience: str
) -> Starlette:
    middleware = Middleware(
        HandWrittenMiddleware, check=check, alg=alg, kid=kid, issuer=issuer, audience=audience
    )
    return Starlette(routes=[Route("/", hello)], middleware=[middleware])


class SignatureOnlyMiddleware:
    """Reference: the raw `cryptography` signature check of the request's token and nothing
    else (its signing input and signature decoded before timing, found by the header's bytes):
    the signature floor as a request sees it, with the CPU caches an app leaves behind."""

    def __init__(self, app: ASGIApp, *, checks: Mapping[bytes, Callable[[], None]]) -> None:
        self.app = app
        self.checks = checks

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, value in scope["headers"]:
                if name == b"authorization":
                    self.checks[value]()
        await self.app(scope, receive, send)


def signature_only_starlette(checks: Mapping[bytes, Callable[[], None]]) -> Starlette:
    middleware = Middleware(SignatureOnlyMiddleware, checks=checks)
    return Starlette(routes=[Route("/", hello)], middleware=[middleware])


def fetch_jwks(jwks_uri: str) -> dict[str, Any]:
    """The key set, fetched once (blocking; before serving)."""
    with urllib.request.urlopen(jwks_uri, timeout=5) as response:  # noqa: S310 - loopback http
        document: dict[str, Any] = json.load(response)
    return document


class JoserfcKeySetMiddleware:
    """The naive joserfc middleware: one `KeySet`, `jwt.decode` and a claims registry."""

    def __init__(
        self, app: ASGIApp, *, jwks: dict[str, Any], issuer: str, audience: str, algorithms: Sequence[str]
    ) -> None:
        self.app = app
        self.key_set = KeySet.import_key_set(jwks)  # type: ignore[arg-type]  # a JWKS, as fetched
        self.algorithms = list(algorithms)
        self.registry = jose_jwt.JWTClaimsRegistry(
            leeway=LEEWAY,
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": audience},
            exp={"essential": True},
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = _bearer_token(scope)
        try:
            if token is None:
                raise ValueError("no token")
            decoded = jose_jwt.decode(token, self.key_set, algorithms=self.algorithms)
            self.registry.validate(decoded.claims)
        except (JoseError, ValueError):
            await _REFUSAL(scope, receive, send)
            return
        scope.setdefault("state", {})["claims"] = decoded.claims
        await self.app(scope, receive, send)


def joserfc_starlette(
    jwks: dict[str, Any], issuer: str, audience: str, algorithms: Sequence[str]
) -> Starlette:
    """The same endpoint behind `JoserfcKeySetMiddleware`."""
    middleware = Middleware(
        JoserfcKeySetMiddleware, jwks=jwks, issuer=issuer, audience=audience, algorithms=algorithms
    )
    return Starlette(routes=[Route("/", hello)], middleware=[middleware])


# -- FastAPI ---------------------------------------------------------------------------------


def bare_fastapi() -> FastAPI:
    """FastAPI without authentication: the reference of the FastAPI rows."""
    app = FastAPI()

    @app.get("/")
    async def root() -> dict[str, str]:
        return BODY

    return app


async def trivial_security(connection: HTTPConnection, security_scopes: SecurityScopes) -> str:
    """A dependency of the same shape as ours (the connection and the route's scopes) that
    does nothing: what FastAPI itself costs a route for one `Security` dependency."""
    return "anyone"


def fastapi_one_security() -> FastAPI:
    """Reference: the bare FastAPI route with one trivial `Security` dependency."""
    app = FastAPI()

    @app.get("/")
    async def root(user: Annotated[str, Security(trivial_security)]) -> dict[str, str]:
        return BODY

    return app


def ours_fastapi_dependency(issuer: Issuer) -> FastAPI:
    """Our FastAPI dependency on its own (`JWKSAuth`, no middleware)."""
    auth = JWKSAuth(issuers=[issuer])
    app = FastAPI()
    auth.install(app)

    @app.get("/")
    async def root(claims: Annotated[Claims, Security(auth.claims)]) -> dict[str, str]:
        return BODY

    return app


def ours_fastapi_middleware(issuer: Issuer) -> FastAPI:
    """`JWKSMiddleware` on a FastAPI app, the route asking for `AuthClaims`."""
    app = FastAPI()
    app.add_middleware(JWKSMiddleware, issuers=[issuer])

    @app.get("/")
    async def root(claims: AuthClaims) -> dict[str, str]:
        return BODY

    return app


def pyjwt_fastapi(
    jwks_uri: str, issuer: str, audience: str, algorithms: Sequence[str], *, warm_kid: str
) -> FastAPI:
    """FastAPI's `HTTPBearer` and a PyJWT dependency with a warmed `PyJWKClient`."""
    bearer = HTTPBearer()
    jwks = pyjwt.PyJWKClient(jwks_uri, cache_keys=True, lifespan=900)
    jwks.get_signing_key(warm_kid)
    allowed = list(algorithms)

    async def current_claims(
        credentials: Annotated[HTTPAuthorizationCredentials, Depends(bearer)],
    ) -> dict[str, Any]:
        try:
            key = jwks.get_signing_key_from_jwt(credentials.credentials)
            claims: dict[str, Any] = pyjwt.decode(
                credentials.credentials,
                key,
                algorithms=allowed,
                audience=audience,
                issuer=issuer,
                leeway=LEEWAY,
                options={"require": ["exp", "iss", "aud"]},
            )
        except pyjwt.PyJWTError:
            raise HTTPException(401, "invalid token", headers={"WWW-Authenticate": "Bearer"}) from None
        return claims

    app = FastAPI()

    @app.get("/")
    async def root(claims: Annotated[dict[str, Any], Depends(current_claims)]) -> dict[str, str]:
        return BODY

    return app


def find_middleware(app: Starlette, kind: type[Any]) -> Any:
    """The instance of a middleware class in a built Starlette app (after start-up)."""
    layer: Any = app.middleware_stack
    while layer is not None:
        if isinstance(layer, kind):
            return layer
        layer = getattr(layer, "app", None)
    raise LookupError(f"{kind.__name__} is not in the app")
