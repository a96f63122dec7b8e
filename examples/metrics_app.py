"""Metrics of a protected API at `/metrics`, for Prometheus (needs the `prometheus` extra).

    JWKS_ISSUER=https://tenant.example.com/ JWKS_AUDIENCE=https://api.example.com \
        uvicorn examples.metrics_app:app

`/metrics` is excluded from authentication here; in production, serve it on another port or
keep it off the public network instead. Settings as in starlette_app.py.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, make_asgi_app
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from jwks_middleware import Issuer, JWKSMiddleware, TokenVerifier
from jwks_middleware.metrics import PrometheusMetrics


def issuer_from_env() -> Issuer:
    """The trusted issuer, from the environment."""
    return Issuer(
        os.environ.get("JWKS_ISSUER", "http://127.0.0.1:9000"),
        audience=os.environ.get("JWKS_AUDIENCE", "https://api.example.test"),
        jwks_uri=os.environ.get("JWKS_URI") or None,
    )


async def me(request: Request) -> JSONResponse:
    return JSONResponse({"sub": request.state.claims.subject})


def create_app(issuers: list[Issuer] | None = None) -> Starlette:
    """The API and its `/metrics`, on a registry of its own."""
    registry = CollectorRegistry()
    metrics = PrometheusMetrics(registry=registry)
    verifier = TokenVerifier(issuers if issuers is not None else [issuer_from_env()], on_event=metrics)
    metrics.watch(verifier)
    return Starlette(
        routes=[Route("/me", me), Mount("/metrics", make_asgi_app(registry))],
        middleware=[Middleware(JWKSMiddleware, verifier=verifier, exclude_paths=["/metrics/"])],
    )


app = create_app()
