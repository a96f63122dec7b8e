"""`ClaimsDependency`: the FastAPI dependency that gives a route the verified `Claims` of its
request and enforces the route's requirements. Made by `JWKSAuth`; imported only through
`jwks_middleware.fastapi`."""

# No `from __future__ import annotations`: FastAPI reads the annotations of
# `ClaimsDependency.__call__` at run time, and older FastAPI releases resolve the string
# annotations of a callable object in an empty namespace (it has no `__globals__`).

from typing import Protocol

from fastapi.security import SecurityScopes
from fastapi.security.base import SecurityBase
from starlette.requests import HTTPConnection
from starlette.types import Scope

from .._authorization import ClaimsCheck, missing_scopes, refusal_of
from .._claims import Claims
from .._errors import AuthError, InsufficientScopeError, MissingTokenError
from .._responses import Challenges
from ._refusals import AuthHTTPException

__all__ = ["ClaimsDependency", "ClaimsSource"]


class ClaimsSource(Protocol):
    """What a `ClaimsDependency` asks of its `JWKSAuth`."""

    @property
    def scheme(self) -> SecurityBase: ...

    def cached_claims(self, scope: Scope) -> "Claims | None": ...

    async def claims_of(self, connection: HTTPConnection) -> "Claims | None": ...

    def challenges_of(self, scope: Scope) -> Challenges: ...


class ClaimsDependency(SecurityBase):
    """A FastAPI dependency giving the verified `Claims` of a request, seen by OpenAPI as its
    `JWKSAuth`'s security scheme. It enforces the `scopes` of the `Security(...)` declarations
    above it (`SecurityScopes`), then its own `check`. Made by `JWKSAuth`; `current_claims`
    and `optional_claims` are two of them."""

    def __init__(
        self,
        auth: ClaimsSource,
        *,
        optional: bool = False,
        check: ClaimsCheck | None = None,
        description: str | None = None,
    ) -> None:
        self.model = auth.scheme.model
        self.scheme_name = auth.scheme.scheme_name
        self.auth = auth
        self.optional = optional
        self.check = check
        #: What `check` requires, in words, for the OpenAPI operation's description.
        self.requirement = description

    async def __call__(self, connection: HTTPConnection, security_scopes: SecurityScopes) -> Claims | None:
        auth = self.auth
        try:
            claims = auth.cached_claims(connection.scope)  # the common case, without awaiting
            if claims is None:
                claims = await auth.claims_of(connection)
            if claims is None:
                if self.optional:
                    return None
                raise MissingTokenError()
            required = security_scopes.scopes
            if required and (missing := missing_scopes(claims, required)):
                raise InsufficientScopeError(required, missing)
            error = await refusal_of(self.check, claims) if self.check is not None else None
            if error is not None:
                raise error
        except AuthError as error:
            raise AuthHTTPException(error, auth.challenges_of(connection.scope)) from None
        return claims

    def __repr__(self) -> str:
        return f"ClaimsDependency(scheme={self.scheme_name!r}, optional={self.optional})"
