"""The module-level FastAPI dependencies: `current_claims`, `optional_claims`, their
`Annotated` aliases and the guards, all bound to a default `JWKSAuth` without a verifier (the
middleware's claims, or those of the `JWKSAuth` installed on the app). Imported only through
`jwks_middleware.fastapi`."""

from __future__ import annotations

from typing import Annotated, Any, Final, TypeAlias

from fastapi import Security

from .._authorization import ClaimName
from .._claims import Claims
from .._hooks import ClaimsRule
from ._auth import JWKSAuth

_DEFAULT: Final = JWKSAuth()

#: Dependency: the `Claims` of the request (401 without a valid token); the middleware's, or
#: verified by the `JWKSAuth` installed on the app. OpenAPI: the HTTP bearer scheme.
current_claims: Final = _DEFAULT.claims
#: Dependency: the `Claims`, or None for an anonymous request; a token sent must be valid.
optional_claims: Final = _DEFAULT.optional_claims
#: ``claims: AuthClaims`` in a route's parameters: the request's `Claims`.
AuthClaims: TypeAlias = Annotated[Claims, Security(current_claims)]
#: ``claims: OptionalAuthClaims``: the request's `Claims`, or None when anonymous.
OptionalAuthClaims: TypeAlias = Annotated[Claims | None, Security(optional_claims)]


def require_scopes(*scopes: str) -> Any:
    """Guard: every one of `scopes` (403 `insufficient_scope` otherwise); listed in OpenAPI."""
    return _DEFAULT.require_scopes(*scopes)


def require_any_scope(*scopes: str) -> Any:
    """Guard: at least one of `scopes`."""
    return _DEFAULT.require_any_scope(*scopes)


def require_roles(*roles: str) -> Any:
    """Guard: every one of `roles` (`Claims.roles`)."""
    return _DEFAULT.require_roles(*roles)


def require_any_role(*roles: str) -> Any:
    """Guard: at least one of `roles`."""
    return _DEFAULT.require_any_role(*roles)


def require_claim(name: ClaimName, *accepted_values: object) -> Any:
    """Guard: claim `name` (or a path) present and, when values are given, one of them."""
    return _DEFAULT.require_claim(name, *accepted_values)


def require_check(check: ClaimsRule, *, description: str | None = None) -> Any:
    """Guard: the app's own rule, `check(claims)` answering `True` (see `JWKSAuth.require_check`)."""
    return _DEFAULT.require_check(check, description=description)
