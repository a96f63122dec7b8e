"""`PrometheusMetrics`: the library's events as Prometheus metrics (prometheus-client)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

try:
    from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
    from prometheus_client.core import GaugeMetricFamily, Metric
    from prometheus_client.registry import Collector
except ImportError as error:  # pragma: no cover - tested where the extra is installed
    raise ImportError(
        'PrometheusMetrics needs prometheus-client: pip install "jwks-middleware[prometheus]"'
    ) from error

from .._events import AuthEvent
from .._verify import TokenVerifier
from ._labels import IssuerLabels, fetch_result, reason_label

__all__ = ["PrometheusMetrics"]

#: Verification times are a few microseconds to a key fetch's seconds.
_TIME_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0)


class PrometheusMetrics:
    """An event hook (`on_event=`) that counts into a Prometheus registry.

    Metrics (prefix `namespace`, default `jwks`):
    `_verifications_total{issuer,outcome,reason}` (first sight of a token; a repeated token is
    a cache hit and not counted), `_verification_seconds{issuer,outcome}`,
    `_key_fetches_total{issuer,result}` (ok, not_modified, failed), `_key_fetch_seconds{issuer}`,
    `_stale_keys_served_total{issuer}`, and, for watched verifiers, at scrape time:
    `_keys_age_seconds{issuer}`, `_keys_ready{issuer}`, `_key_fetch_failures{issuer}`.
    """

    def __init__(
        self,
        *,
        registry: CollectorRegistry = REGISTRY,
        namespace: str = "jwks",
        issuers: Iterable[str] = (),
    ) -> None:
        self._issuer = IssuerLabels(issuers)
        self._verifiers: list[TokenVerifier] = []
        self.verifications = Counter(
            "verifications", "Tokens verified for the first time, by outcome and reason",
            ["issuer", "outcome", "reason"], namespace=namespace, registry=registry,
        )  # fmt: skip
        self.verification_seconds = Histogram(
            "verification_seconds", "Time to verify a token seen for the first time",
            ["issuer", "outcome"], namespace=namespace, registry=registry, buckets=_TIME_BUCKETS,
        )  # fmt: skip
        self.key_fetches = Counter(
            "key_fetches", "Key set fetches, by result", ["issuer", "result"],
            namespace=namespace, registry=registry,
        )  # fmt: skip
        self.key_fetch_seconds = Histogram(
            "key_fetch_seconds", "Time of a key set fetch, discovery included", ["issuer"],
            namespace=namespace, registry=registry,
        )  # fmt: skip
        self.stale_keys = Counter(
            "stale_keys_served", "Failed refreshes while the last good keys stay in use", ["issuer"],
            namespace=namespace, registry=registry,
        )  # fmt: skip
        registry.register(_KeyStoreCollector(self._verifiers, self._issuer, namespace))

    def watch(self, verifier: TokenVerifier) -> None:
        """Report this verifier's key store at scrape time; its issuers become labels."""
        self._issuer.watch(verifier)
        self._verifiers.append(verifier)

    def __call__(self, event: AuthEvent) -> None:
        issuer = self._issuer(event.issuer)
        if event.kind in ("token_verified", "token_refused"):
            outcome = "valid" if event.kind == "token_verified" else "refused"
            reason = "" if outcome == "valid" else reason_label(event.reason)
            self.verifications.labels(issuer, outcome, reason).inc()
            if event.duration is not None:
                self.verification_seconds.labels(issuer, outcome).observe(event.duration)
            return
        result = fetch_result(event)
        if result is not None:
            self.key_fetches.labels(issuer, result).inc()
            if event.duration is not None:
                self.key_fetch_seconds.labels(issuer).observe(event.duration)
        elif event.kind == "stale_keys_in_use":
            self.stale_keys.labels(issuer).inc()


class _KeyStoreCollector(Collector):
    """Key age, readiness and failures, read from the key stores when Prometheus scrapes."""

    def __init__(self, verifiers: list[TokenVerifier], issuer: IssuerLabels, namespace: str) -> None:
        self._verifiers = verifiers
        self._issuer = issuer
        self._namespace = namespace

    def collect(self) -> Iterator[Metric]:
        prefix = self._namespace
        age = GaugeMetricFamily(f"{prefix}_keys_age_seconds", "Age of the loaded key set", labels=["issuer"])
        ready = GaugeMetricFamily(f"{prefix}_keys_ready", "1 when usable keys are loaded", labels=["issuer"])
        failures = GaugeMetricFamily(
            f"{prefix}_key_fetch_failures", "Failed fetches since the last success", labels=["issuer"]
        )
        for verifier in self._verifiers:
            for state in verifier.key_store.states():
                label = [self._issuer(state.issuer)]
                if state.age is not None:
                    age.add_metric(label, state.age)
                ready.add_metric(label, 1.0 if state.ready else 0.0)
                failures.add_metric(label, float(state.failures))
        yield from (age, ready, failures)
