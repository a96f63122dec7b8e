"""`jwks_middleware.metrics` imports each exporter's library only when that exporter is asked for."""

from __future__ import annotations

import subprocess
import sys

import pytest

import jwks_middleware.metrics


def test_importing_the_module_imports_neither_exporter_library() -> None:
    code = (
        "import sys, jwks_middleware.metrics; "
        "sys.exit(bool({'prometheus_client', 'opentelemetry.metrics'} & set(sys.modules)))"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0  # noqa: S603


def test_each_exporter_is_found_by_its_public_name() -> None:
    assert jwks_middleware.metrics.PrometheusMetrics.__name__ == "PrometheusMetrics"
    assert jwks_middleware.metrics.OpenTelemetryMetrics.__name__ == "OpenTelemetryMetrics"


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'Statsd'"):
        jwks_middleware.metrics.Statsd  # noqa: B018
