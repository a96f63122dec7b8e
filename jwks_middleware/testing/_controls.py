"""The served side of a `LocalIssuer` as the test sees it: observation, faults and serving.

`EndpointControls` has an `IssuerEndpoints` and forwards each of its public methods by name
(real methods, so they show in `help()` and type-check), with the endpoints' own docstrings.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from ._endpoints import IssuerEndpoints, RecordedRequest

if TYPE_CHECKING:
    from starlette.applications import Starlette

__all__ = ["EndpointControls"]

_F = TypeVar("_F", bound=Callable[..., Any])


def _documented_by(original: Any) -> Callable[[_F], _F]:
    def document(method: _F) -> _F:
        method.__doc__ = original.__doc__
        return method

    return document


class EndpointControls:
    """What a test can ask of an issuer's endpoints, forwarded to the `IssuerEndpoints` it has."""

    def __init__(self, endpoints: IssuerEndpoints) -> None:
        self._endpoints = endpoints

    # -- settings ------------------------------------------------------------------------------

    @property
    def cache_max_age(self) -> int | None:
        """`max-age` of the `Cache-Control` header on served documents; None sends no header."""
        return self._endpoints.cache_max_age

    @cache_max_age.setter
    def cache_max_age(self, value: int | None) -> None:
        self._endpoints.cache_max_age = value

    @property
    def serve_discovery(self) -> bool:
        """Whether `/.well-known/openid-configuration` is served (False: 404)."""
        return self._endpoints.serve_discovery

    @serve_discovery.setter
    def serve_discovery(self, value: bool) -> None:
        self._endpoints.serve_discovery = value

    @property
    def serve_oauth_metadata(self) -> bool:
        """Whether the RFC 8414 `/.well-known/oauth-authorization-server` document is served."""
        return self._endpoints.serve_oauth_metadata

    @serve_oauth_metadata.setter
    def serve_oauth_metadata(self, value: bool) -> None:
        self._endpoints.serve_oauth_metadata = value

    # -- observation ---------------------------------------------------------------------------

    @property
    @_documented_by(IssuerEndpoints.requests)
    def requests(self) -> Counter[str]:
        return self._endpoints.requests

    @property
    @_documented_by(IssuerEndpoints.request_log)
    def request_log(self) -> tuple[RecordedRequest, ...]:
        return self._endpoints.request_log

    @_documented_by(IssuerEndpoints.wait_for_requests)
    def wait_for_requests(self, count: int, *, path: str | None = None, timeout: float = 5.0) -> bool:
        return self._endpoints.wait_for_requests(count, path=path, timeout=timeout)

    @_documented_by(IssuerEndpoints.reset_counts)
    def reset_counts(self) -> None:
        self._endpoints.reset_counts()

    # -- faults --------------------------------------------------------------------------------

    @_documented_by(IssuerEndpoints.fail_with)
    def fail_with(
        self,
        status: int = 500,
        body: bytes | str = b"",
        *,
        headers: Mapping[str, str] | None = None,
        delay: float = 0.0,
        path: str | None = None,
        times: int | None = None,
    ) -> None:
        self._endpoints.fail_with(status, body, headers=headers, delay=delay, path=path, times=times)

    @_documented_by(IssuerEndpoints.serve_garbage)
    def serve_garbage(
        self,
        body: bytes = b"<html><body>Gateway maintenance</body></html>",
        *,
        content_type: str = "application/json",
        path: str | None = None,
        times: int | None = None,
    ) -> None:
        self._endpoints.serve_garbage(body, content_type=content_type, path=path, times=times)

    @_documented_by(IssuerEndpoints.redirect)
    def redirect(
        self, location: str, *, status: int = 302, path: str | None = None, times: int | None = None
    ) -> None:
        self._endpoints.redirect(location, status=status, path=path, times=times)

    @_documented_by(IssuerEndpoints.slow_down)
    def slow_down(self, delay: float, *, path: str | None = None, times: int | None = None) -> None:
        self._endpoints.slow_down(delay, path=path, times=times)

    @_documented_by(IssuerEndpoints.trickle)
    def trickle(self, interval: float = 0.3, *, path: str | None = None, times: int | None = None) -> None:
        self._endpoints.trickle(interval, path=path, times=times)

    @_documented_by(IssuerEndpoints.serve_jwks)
    def serve_jwks(self, document: Mapping[str, Any] | bytes | str | None) -> None:
        self._endpoints.serve_jwks(document)

    @_documented_by(IssuerEndpoints.serve_metadata)
    def serve_metadata(self, document: Mapping[str, Any] | bytes | str | None) -> None:
        self._endpoints.serve_metadata(document)

    @_documented_by(IssuerEndpoints.recover)
    def recover(self) -> None:
        self._endpoints.recover()

    # -- serving -------------------------------------------------------------------------------

    @_documented_by(IssuerEndpoints.start)
    def start(self) -> None:
        self._endpoints.start()

    @_documented_by(IssuerEndpoints.stop)
    def stop(self) -> None:
        self._endpoints.stop()

    @property
    @_documented_by(IssuerEndpoints.serving)
    def serving(self) -> bool:
        return self._endpoints.serving

    def asgi_app(self) -> Starlette:
        """The endpoints as a Starlette app, for ``httpx.ASGITransport``; faults and counters apply
        (a delay is an ``anyio.sleep``)."""
        from ._asgi import starlette_app  # Starlette only when asked for

        return starlette_app(self._endpoints)
