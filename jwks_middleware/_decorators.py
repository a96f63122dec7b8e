"""`requires_scopes`: a per-endpoint scope guard for Starlette, answering in RFC 6750 terms."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket

from ._claims import Claims
from ._errors import AuthError, InsufficientScopeError, MissingTokenError
from ._request import REALM_SCOPE_KEY, REFUSAL_SCOPE_KEY
from ._responses import RefusalResponse, send_refusal

__all__ = ["missing_scopes", "requires_scopes"]

F = TypeVar("F", bound=Callable[..., Any])


def requires_scopes(*scopes: str) -> Callable[[F], F]:
    """Require every one of `scopes` on the token of a Starlette endpoint.

    Works on functions taking `request` or `websocket` (sync or async) and on
    `HTTPEndpoint` methods. No token: 401; a token lacking a scope: 403
    `insufficient_scope` naming the missing ones.
    """
    required = _scope_list(scopes)

    def decorator(endpoint: F) -> F:
        kind, position = _connection_parameter(endpoint)

        if kind == "websocket":

            @functools.wraps(endpoint)
            async def websocket_endpoint(*args: Any, **kwargs: Any) -> Any:
                websocket = _argument(args, kwargs, kind, position)
                error = _refusal(websocket, required)
                if error is not None:
                    assert isinstance(websocket, WebSocket)  # noqa: S101 - checked by _connection_parameter
                    realm = websocket.scope.get(REALM_SCOPE_KEY)
                    await send_refusal(error, websocket.scope, websocket.receive, websocket.send, realm)
                    return None
                return await endpoint(*args, **kwargs)

            return websocket_endpoint  # type: ignore[return-value]

        @functools.wraps(endpoint)
        async def http_endpoint(*args: Any, **kwargs: Any) -> Any:
            request = _argument(args, kwargs, kind, position)
            error = _refusal(request, required)
            if error is not None:
                return RefusalResponse(error, request.scope.get(REALM_SCOPE_KEY))
            if inspect.iscoroutinefunction(endpoint):
                return await endpoint(*args, **kwargs)
            return await run_in_threadpool(endpoint, *args, **kwargs)

        return http_endpoint  # type: ignore[return-value]

    return decorator


def missing_scopes(claims: Claims, required: Iterable[str]) -> list[str]:
    """The required scopes a token lacks, in the order they were required."""
    return [scope for scope in required if scope not in claims.scopes]


def _refusal(connection: HTTPConnection, required: list[str]) -> AuthError | None:
    claims = connection.scope.get("state", {}).get("claims")
    if not isinstance(claims, Claims):
        # A token the middleware left to the routes is refused as the middleware would have.
        refusal: AuthError | None = connection.scope.get(REFUSAL_SCOPE_KEY)
        return refusal or MissingTokenError()
    missing = missing_scopes(claims, required)
    return InsufficientScopeError(required, missing) if missing else None


def _scope_list(scopes: tuple[str, ...]) -> list[str]:
    if not scopes or not all(isinstance(scope, str) and scope and " " not in scope for scope in scopes):
        raise ValueError("requires_scopes() takes one or more scope names, without spaces")
    return list(scopes)


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
