"""Per-endpoint requirements for Starlette: `requires_scopes`, `requires_any_scope`,
`requires_roles`, `requires_any_role` and `requires_claim`, answering in RFC 6750 terms.

Named like Starlette's own `requires()`, whose place they take on endpoints; the FastAPI guards
(`JWKSAuth.require_scopes`, ...) offer the same requirements, checked by the same functions of
`_authorization.py`.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket

from ._authorization import (
    ClaimName,
    ClaimsCheck,
    all_roles,
    all_scopes,
    any_role,
    any_scope,
    claim_value,
    claims_rule,
    names,
    refusal_of,
)
from ._claims import Claims
from ._errors import AuthError, MissingTokenError
from ._hooks import ClaimsRule
from ._request import CHALLENGES_SCOPE_KEY, REFUSAL_SCOPE_KEY
from ._responses import BEARER_ONLY, RefusalResponse, send_refusal

__all__ = [
    "requires_any_role",
    "requires_any_scope",
    "requires_check",
    "requires_claim",
    "requires_roles",
    "requires_scopes",
]

F = TypeVar("F", bound=Callable[..., Any])


def requires_scopes(*scopes: str) -> Callable[[F], F]:
    """Require every one of `scopes` on the token of a Starlette endpoint.

    Works on functions taking `request` or `websocket` (sync or async) and on
    `HTTPEndpoint` methods. No token: 401; a token lacking a scope: 403
    `insufficient_scope` naming the missing ones.
    """
    return _requirement(all_scopes(names(scopes, "requires_scopes", "scope")))


def requires_any_scope(*scopes: str) -> Callable[[F], F]:
    """Require at least one of `scopes` (403 `insufficient_scope` naming them all)."""
    return _requirement(any_scope(names(scopes, "requires_any_scope", "scope")))


def requires_roles(*roles: str) -> Callable[[F], F]:
    """Require every one of `roles` (`Claims.roles`, configured by `Issuer(role_claims=...)`)."""
    return _requirement(all_roles(names(roles, "requires_roles", "role")))


def requires_any_role(*roles: str) -> Callable[[F], F]:
    """Require at least one of `roles`."""
    return _requirement(any_role(names(roles, "requires_any_role", "role")))


def requires_claim(name: ClaimName, *accepted_values: object) -> Callable[[F], F]:
    """Require claim `name` (or a path into nested objects, like ``("realm_access", "roles")``)
    to be present and, when values are given, equal to one of them (type included; a list claim
    must contain one of them). The refusal does not say which value was expected."""
    return _requirement(claim_value(name, accepted_values))


def requires_check(check: ClaimsRule) -> Callable[[F], F]:
    """Require the app's own rule on the claims: `check(claims)` (sync or async) answers
    `True` to accept, `False` or a reason to refuse. A refusal is 403 `insufficient_scope`
    saying only that a requirement was not met (the reason is logged); a check that raises
    is 503, never 500."""
    return _requirement(claims_rule(check))


def _requirement(check: ClaimsCheck) -> Callable[[F], F]:
    """A decorator refusing the endpoint's connection when `check` refuses its claims."""

    def decorator(endpoint: F) -> F:
        kind, position = _connection_parameter(endpoint)

        if kind == "websocket":

            @functools.wraps(endpoint)
            async def websocket_endpoint(*args: Any, **kwargs: Any) -> Any:
                websocket = _argument(args, kwargs, kind, position)
                error = await _refusal(websocket, check)
                if error is not None:
                    assert isinstance(websocket, WebSocket)  # noqa: S101 - checked by _connection_parameter
                    challenges = websocket.scope.get(CHALLENGES_SCOPE_KEY, BEARER_ONLY)
                    await send_refusal(error, websocket.scope, websocket.receive, websocket.send, challenges)
                    return None
                return await endpoint(*args, **kwargs)

            return websocket_endpoint  # type: ignore[return-value]

        @functools.wraps(endpoint)
        async def http_endpoint(*args: Any, **kwargs: Any) -> Any:
            request = _argument(args, kwargs, kind, position)
            error = await _refusal(request, check)
            if error is not None:
                return RefusalResponse(error, request.scope.get(CHALLENGES_SCOPE_KEY, BEARER_ONLY))
            if inspect.iscoroutinefunction(endpoint):
                return await endpoint(*args, **kwargs)
            return await run_in_threadpool(endpoint, *args, **kwargs)

        return http_endpoint  # type: ignore[return-value]

    return decorator


async def _refusal(connection: HTTPConnection, check: ClaimsCheck) -> AuthError | None:
    claims = connection.scope.get("state", {}).get("claims")
    if not isinstance(claims, Claims):
        # A token the middleware left to the routes is refused as the middleware would have.
        refusal: AuthError | None = connection.scope.get(REFUSAL_SCOPE_KEY)
        return refusal or MissingTokenError()
    try:
        return await refusal_of(check, claims)
    except AuthError as error:  # a failing check: 503
        return error


def _connection_parameter(endpoint: Callable[..., Any]) -> tuple[str, int]:
    for position, parameter in enumerate(inspect.signature(endpoint).parameters.values()):
        if parameter.name in ("request", "websocket"):
            return parameter.name, position
    raise TypeError(f"{endpoint.__qualname__} has no 'request' or 'websocket' parameter")


def _argument(args: tuple[Any, ...], kwargs: dict[str, Any], name: str, position: int) -> HTTPConnection:
    connection = kwargs.get(name, args[position] if position < len(args) else None)
    if not isinstance(connection, HTTPConnection):
        raise TypeError(f"parameter {name!r} is not a Starlette {name}")
    return connection
