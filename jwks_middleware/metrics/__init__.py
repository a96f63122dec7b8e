"""Metrics of the key store and the verifier, for Prometheus and OpenTelemetry.

Both exporters are event hooks (`on_event=`) that also read the key store at collection time::

    from jwks_middleware.metrics import PrometheusMetrics

    metrics = PrometheusMetrics()
    verifier = TokenVerifier([issuer], on_event=metrics)
    metrics.watch(verifier)  # key age, readiness; and its issuers become the issuer labels
    app = Starlette(middleware=[Middleware(JWKSMiddleware, verifier=verifier)], routes=[...])

Labels are bounded: `issuer` is a watched (configured) issuer, `other` for an `iss` nobody
configured and `none` when the token named none; `reason` is one of the library's refusal
reasons. Token and claim values never become labels. Each exporter needs its extra:
``pip install "jwks-middleware[prometheus]"`` or ``"jwks-middleware[opentelemetry]"``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._opentelemetry import OpenTelemetryMetrics
    from ._prometheus import PrometheusMetrics

__all__ = ["OpenTelemetryMetrics", "PrometheusMetrics"]


def __getattr__(name: str) -> Any:
    # Each exporter imports its own library, only when asked for.
    if name == "PrometheusMetrics":
        from ._prometheus import PrometheusMetrics

        PrometheusMetrics.__module__ = __name__  # shown under its public path
        return PrometheusMetrics
    if name == "OpenTelemetryMetrics":
        from ._opentelemetry import OpenTelemetryMetrics

        OpenTelemetryMetrics.__module__ = __name__
        return OpenTelemetryMetrics
    raise AttributeError(f"module 'jwks_middleware.metrics' has no attribute {name!r}")
