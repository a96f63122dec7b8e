"""Checks on verified claims, for the route guards: each gives the refusal, or None.

Framework-free: the FastAPI adapters (`fastapi/_auth.py`) wrap them in dependencies. A token that
lacks what a route needs is refused 403 `insufficient_scope` (RFC 6750 section 3.1); only
scope checks name scopes in the challenge, since roles and claim values are nothing a client
could ask its issuer for.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Final

from ._claims import Claims
from ._errors import AuthError, InsufficientScopeError
from ._events import logger
from ._hooks import ClaimsRule, ask, check_verdict

__all__ = [
    "ClaimName",
    "ClaimsCheck",
    "all_roles",
    "all_scopes",
    "any_role",
    "any_scope",
    "claim_value",
    "claims_rule",
    "missing_scopes",
    "names",
    "refusal_of",
]

#: A check run on verified claims: the refusal, or None to let the request through (or an
#: awaitable of either, for the app's own async rules).
ClaimsCheck = Callable[[Claims], "AuthError | Awaitable[AuthError | None] | None"]
#: A claim name, or a path of names into nested objects.
ClaimName = str | tuple[str, ...]

_LACKS_ROLE: Final = "The access token lacks a required role"
_LACKS_CLAIM: Final = "The access token lacks a required claim value"
_FAILS_RULE: Final = "The access token does not meet a requirement of this resource"


def names(values: tuple[str, ...], function: str, what: str) -> list[str]:
    """`values` as a list; ValueError unless one or more non-empty names without spaces."""
    if not values or not all(isinstance(value, str) and value and " " not in value for value in values):
        raise ValueError(f"{function}() takes one or more {what} names, without spaces")
    return list(values)


def missing_scopes(claims: Claims, required: Iterable[str]) -> list[str]:
    """The required scopes a token lacks, in the order they were required."""
    return [scope for scope in required if scope not in claims.scopes]


def all_scopes(required: list[str]) -> ClaimsCheck:
    """Every one of the `required` scopes; the refusal names the missing ones."""

    def check(claims: Claims) -> AuthError | None:
        missing = missing_scopes(claims, required)
        return InsufficientScopeError(required, missing) if missing else None

    return check


def any_scope(accepted: list[str]) -> ClaimsCheck:
    """At least one of the `accepted` scopes; the refusal names them all in `scope=`."""

    def check(claims: Claims) -> AuthError | None:
        if claims.scopes.isdisjoint(accepted):
            return InsufficientScopeError(accepted, accepted, what="one of the scopes")
        return None

    return check


def all_roles(required: list[str]) -> ClaimsCheck:
    """Every one of the `required` roles (`Claims.roles`)."""

    def check(claims: Claims) -> AuthError | None:
        missing = [role for role in required if role not in claims.roles]
        return _lacking(missing, "role", _LACKS_ROLE) if missing else None

    return check


def any_role(accepted: list[str]) -> ClaimsCheck:
    """At least one of the `accepted` roles."""

    def check(claims: Claims) -> AuthError | None:
        return (
            _lacking(accepted, "one of the roles", _LACKS_ROLE) if claims.roles.isdisjoint(accepted) else None
        )

    return check


def claim_value(name: ClaimName, accepted: tuple[object, ...]) -> ClaimsCheck:
    """Claim `name` present (not null) and, when `accepted` is given, equal to one of its values,
    type included (`True` is not `1`); a list claim passes when it holds one of them."""
    path = (name,) if isinstance(name, str) else tuple(name)
    if not path or not all(isinstance(part, str) and part for part in path):
        raise TypeError("a claim requirement takes a claim name or a tuple of names (a path)")
    if not all(isinstance(value, (str, int, float, bool)) for value in accepted):
        raise TypeError("a claim requirement compares claims with strings, numbers or booleans")
    label = ".".join(path)

    def check(claims: Claims) -> AuthError | None:
        return (
            None if _matches(_at(claims, path), accepted) else _lacking([label], "claim value", _LACKS_CLAIM)
        )

    return check


def claims_rule(rule: ClaimsRule) -> ClaimsCheck:
    """The app's own rule (`True` accepts; `False` or a reason refuses), sync or async. The
    refusal says only that a requirement was not met; the reason goes to the log."""
    if not callable(rule):
        raise TypeError("a claims check is a callable taking the Claims")

    async def check(claims: Claims) -> AuthError | None:
        reason = check_verdict(await ask(rule, claims, "claims check"), rule)
        if reason is None:
            return None
        logger.info("claims check refused a request: %s", reason)
        return _lacking([], "requirement", _FAILS_RULE)

    return check


async def refusal_of(check: ClaimsCheck, claims: Claims) -> AuthError | None:
    """`check`'s refusal of `claims`, awaited when the check is async."""
    refusal = check(claims)
    if inspect.isawaitable(refusal):
        refusal = await refusal
    return refusal


def _lacking(missing: Iterable[str], what: str, description: str) -> InsufficientScopeError:
    error = InsufficientScopeError((), missing, what=what)  # no `scope=` in the challenge
    error.description = description
    return error


def _at(claims: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = claims
    for name in path:
        value = value.get(name) if isinstance(value, Mapping) else None
    return value


def _matches(value: Any, accepted: tuple[object, ...]) -> bool:
    if value is None:
        return False
    if not accepted:
        return True
    candidates = value if isinstance(value, list) else [value]
    return any(type(item) is type(wanted) and item == wanted for item in candidates for wanted in accepted)
