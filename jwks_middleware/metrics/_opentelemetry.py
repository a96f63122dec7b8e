"""`OpenTelemetryMetrics`: the library's events as OpenTelemetry metrics and key fetch spans."""

from __future__ import annotations

import time
from collections.abc import Iterable

try:
    from opentelemetry import metrics, trace
    from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation
    from opentelemetry.trace import Status, StatusCode, TracerProvider
except ImportError as error:  # pragma: no cover - tested where the extra is installed
    raise ImportError(
        'OpenTelemetryMetrics needs opentelemetry-api: pip install "jwks-middleware[opentelemetry]"'
    ) from error

from .._events import AuthEvent
from .._verify import TokenVerifier
from ._labels import IssuerLabels, fetch_result, reason_label

__all__ = ["OpenTelemetryMetrics"]

_SCOPE = "jwks_middleware"


class OpenTelemetryMetrics:
    """An event hook (`on_event=`) recording OpenTelemetry instruments, and a span per key fetch.

    Instruments (prefix `jwks.`): `verifications` and `verification.duration` (attributes
    `issuer`, `outcome`, `reason`), `key_fetches` and `key_fetch.duration` (`issuer`, `result`),
    `stale_keys_served`, and observable gauges `keys.age` and `keys.ready` for watched verifiers.
    Each key fetch also becomes a span `jwks.key_fetch` (start and end from the fetch itself).
    """

    def __init__(
        self,
        *,
        meter_provider: MeterProvider | None = None,
        tracer_provider: TracerProvider | None = None,
        issuers: Iterable[str] = (),
    ) -> None:
        meter = (meter_provider or metrics.get_meter_provider()).get_meter(_SCOPE)
        self._tracer = (tracer_provider or trace.get_tracer_provider()).get_tracer(_SCOPE)
        self._issuer = IssuerLabels(issuers)
        self._verifiers: list[TokenVerifier] = []
        self._verifications = meter.create_counter("jwks.verifications", description="Tokens verified first")
        self._verification_time = meter.create_histogram("jwks.verification.duration", unit="s")
        self._fetches = meter.create_counter("jwks.key_fetches", description="Key set fetches, by result")
        self._fetch_time = meter.create_histogram("jwks.key_fetch.duration", unit="s")
        self._stale = meter.create_counter(
            "jwks.stale_keys_served", description="Failed refreshes, old keys kept"
        )
        meter.create_observable_gauge("jwks.keys.age", [self._ages], unit="s")
        meter.create_observable_gauge("jwks.keys.ready", [self._ready])

    def watch(self, verifier: TokenVerifier) -> None:
        """Observe this verifier's key store; its issuers become attribute values."""
        self._issuer.watch(verifier)
        self._verifiers.append(verifier)

    def __call__(self, event: AuthEvent) -> None:
        issuer = self._issuer(event.issuer)
        if event.kind in ("token_verified", "token_refused"):
            outcome = "valid" if event.kind == "token_verified" else "refused"
            attributes = {"issuer": issuer, "outcome": outcome}
            if outcome == "refused":
                attributes["reason"] = reason_label(event.reason)
            self._verifications.add(1, attributes)
            if event.duration is not None:
                self._verification_time.record(event.duration, attributes)
            return
        result = fetch_result(event)
        if result is not None:
            attributes = {"issuer": issuer, "result": result}
            self._fetches.add(1, attributes)
            if event.duration is not None:
                self._fetch_time.record(event.duration, attributes)
                self._span(event, attributes, event.duration)
        elif event.kind == "stale_keys_in_use":
            self._stale.add(1, {"issuer": issuer})

    def _span(self, event: AuthEvent, attributes: dict[str, str], duration: float) -> None:
        # The event arrives when the fetch is over: the span is drawn over the time it took.
        end = time.time_ns()
        span = self._tracer.start_span(
            "jwks.key_fetch", start_time=end - int(duration * 1e9), attributes=attributes
        )
        if attributes["result"] == "failed":
            span.set_status(Status(StatusCode.ERROR, event.detail[:200]))
        span.end(end_time=end)

    def _ages(self, options: CallbackOptions) -> Iterable[Observation]:
        for verifier in self._verifiers:
            for state in verifier.key_store.states():
                if state.age is not None:
                    yield Observation(state.age, {"issuer": self._issuer(state.issuer)})

    def _ready(self, options: CallbackOptions) -> Iterable[Observation]:
        for verifier in self._verifiers:
            for state in verifier.key_store.states():
                yield Observation(1 if state.ready else 0, {"issuer": self._issuer(state.issuer)})
