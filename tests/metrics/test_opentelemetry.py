"""`OpenTelemetryMetrics` on the OpenTelemetry SDK's in-memory readers, fed by a verifier against a
local issuer on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from jwks_middleware import TokenVerifier, UntrustedIssuerError
from jwks_middleware.metrics import OpenTelemetryMetrics
from jwks_middleware.testing import LocalIssuer

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def issuer() -> Iterator[LocalIssuer]:
    with LocalIssuer.serve() as served:
        yield served


async def exercise(verifier: TokenVerifier, issuer: LocalIssuer) -> None:
    """One valid token (twice: the second is a cache hit), one expired, one from nowhere."""
    async with verifier:
        token = issuer.issue()
        await verifier.verify(token)
        await verifier.verify(token)
        with pytest.raises(Exception, match="expired"):
            await verifier.verify(issuer.expired_token())
        stranger = LocalIssuer("https://stranger.example")
        with pytest.raises(UntrustedIssuerError):
            await verifier.verify(stranger.issue())


async def test_opentelemetry_records_instruments_and_a_span_per_fetch(issuer: LocalIssuer) -> None:
    reader = InMemoryMetricReader()
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    metrics = OpenTelemetryMetrics(
        meter_provider=MeterProvider(metric_readers=[reader]), tracer_provider=tracer_provider
    )
    verifier = TokenVerifier([issuer.config()], on_event=metrics)
    metrics.watch(verifier)
    await exercise(verifier, issuer)

    data = reader.get_metrics_data()
    assert data is not None
    points: dict[str, list[Any]] = {}
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                points[metric.name] = list(metric.data.data_points)
    verifications = {
        tuple(sorted(point.attributes.items())): point.value for point in points["jwks.verifications"]
    }
    assert verifications[(("issuer", issuer.url), ("outcome", "valid"))] == 1
    assert verifications[(("issuer", issuer.url), ("outcome", "refused"), ("reason", "expired"))] == 1
    assert verifications[(("issuer", "none"), ("outcome", "refused"), ("reason", "issuer"))] == 1
    assert points["jwks.key_fetches"][0].value == 1
    assert points["jwks.keys.ready"][0].value == 1
    assert "jwks.keys.age" in points
    (span,) = spans.get_finished_spans()
    assert span.name == "jwks.key_fetch"
    assert span.attributes == {"issuer": issuer.url, "result": "ok"}
    assert span.end_time is not None
    assert span.start_time is not None
    assert span.end_time >= span.start_time
