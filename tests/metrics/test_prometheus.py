"""`PrometheusMetrics` on a real prometheus-client registry, fed by a verifier against a local
issuer on 127.0.0.1; and the metrics example.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from starlette.testclient import TestClient

from jwks_middleware import TokenVerifier, UntrustedIssuerError
from jwks_middleware.metrics import PrometheusMetrics
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


async def test_prometheus_counts_verifications_and_fetches(issuer: LocalIssuer) -> None:
    registry = CollectorRegistry()
    metrics = PrometheusMetrics(registry=registry)
    verifier = TokenVerifier([issuer.config()], on_event=metrics)
    metrics.watch(verifier)
    await exercise(verifier, issuer)

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    url = issuer.url
    assert value("jwks_verifications_total", issuer=url, outcome="valid", reason="") == 1
    assert value("jwks_verifications_total", issuer=url, outcome="refused", reason="expired") == 1
    # An `iss` nobody configured is folded into one label: a flood cannot grow the series.
    assert value("jwks_verifications_total", issuer="none", outcome="refused", reason="issuer") == 1
    assert value("jwks_verification_seconds_count", issuer=url, outcome="valid") == 1
    assert value("jwks_key_fetches_total", issuer=url, result="ok") == 1
    assert value("jwks_key_fetch_seconds_count", issuer=url) == 1
    assert value("jwks_keys_ready", issuer=url) == 1
    assert value("jwks_keys_age_seconds", issuer=url) is not None
    assert value("jwks_key_fetch_failures", issuer=url) == 0


async def test_prometheus_labels_never_carry_token_values(issuer: LocalIssuer) -> None:
    registry = CollectorRegistry()
    metrics = PrometheusMetrics(registry=registry)
    verifier = TokenVerifier([issuer.config()], on_event=metrics)
    metrics.watch(verifier)
    async with verifier:
        for number in range(20):
            with pytest.raises(Exception):  # noqa: B017, PT011 - any refusal
                await verifier.verify(LocalIssuer(f"https://tenant-{number}.example").issue())
    labels = {
        value
        for family in registry.collect()
        for sample in family.samples
        for name, value in sample.labels.items()
        if name != "le"  # histogram buckets
    }
    assert labels <= {issuer.url, "none", "other", "valid", "refused", "issuer", "ok", ""}


async def test_prometheus_counts_failed_fetches_and_stale_keys(issuer: LocalIssuer) -> None:
    registry = CollectorRegistry()
    metrics = PrometheusMetrics(registry=registry)
    verifier = TokenVerifier([issuer.config()], on_event=metrics)
    metrics.watch(verifier)
    async with verifier:
        issuer.fail_with(503)
        await verifier.key_store.issuers()[0].refresh()
    url = issuer.url
    assert registry.get_sample_value("jwks_key_fetches_total", {"issuer": url, "result": "failed"}) == 1
    assert registry.get_sample_value("jwks_stale_keys_served_total", {"issuer": url}) == 1
    assert registry.get_sample_value("jwks_key_fetch_failures", {"issuer": url}) == 1


def test_the_metrics_example_serves_metrics_and_keeps_the_api_protected(
    local_issuer: LocalIssuer,
) -> None:
    path = Path(__file__).parents[2] / "examples" / "metrics_app.py"
    spec = importlib.util.spec_from_file_location("example_metrics_app", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with TestClient(module.create_app([local_issuer.config()])) as client:
        token = local_issuer.issue(sub="ann")
        assert client.get("/me", headers={"Authorization": f"Bearer {token}"}).json() == {"sub": "ann"}
        assert client.get("/me").status_code == 401
        scraped = client.get("/metrics/").text
    assert f'jwks_verifications_total{{issuer="{local_issuer.url}",outcome="valid",reason=""}} 1.0' in scraped
    assert f'jwks_keys_ready{{issuer="{local_issuer.url}"}} 1.0' in scraped
