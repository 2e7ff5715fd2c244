"""Prometheus metrics of a broker process; every metric, its labels and their bounds.

Label values come from the registry and the catalog, never from a request:
an agency or service the registry does not name is counted as "unknown", and
a reason that is not an upper-case identifier as "OTHER", so a caller cannot
grow the number of series. With `--workers N` each worker writes its values
to the broker run's PROMETHEUS_MULTIPROC_DIR and the supervisor serves the
sum (prometheus-client multiprocess mode); gauges say how workers combine.
`METRICS` is the single list the docs' reference is generated from.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import grpc
from cryptography import x509
from g2g_sdk.catalog import Catalog
from g2g_sdk.metrics import OTHER, bounded_reason
from g2g_sdk.registry import Registry
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

if TYPE_CHECKING:
    from broker.audit import AuditEvent

UNKNOWN = "unknown"

STAGES = ("verify", "validate", "policy", "audit_commit", "provider_call",
          "response_verify", "audit_outcome")
"""Pipeline stages timed by g2g_stage_duration_seconds, in request order."""

DELIVERY_OUTCOMES = ("delivered", "redelivered", "acknowledged", "dead_lettered")
"""g2g_event_deliveries outcomes: handed to a subscriber (first or a later attempt), its
receipt verified, given up after events.max_deliver attempts (audit kinds delivered,
receipt, delivery_failed)."""

_LATENCY = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            10.0)
_GROUP = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


@dataclass(frozen=True)
class MetricDef:
    """One metric as documented: name (without _total), type, labels, help, worker merge."""

    name: str
    kind: str
    labels: tuple[str, ...]
    help: str
    merge: str = ""  # gauges: how the values of several workers combine


METRICS: tuple[MetricDef, ...] = (
    MetricDef("g2g_exchanges", "counter", ("consumer", "provider", "service", "code", "reason"),
              "Exchange.Call outcomes (code OK, or the status code name and ErrorInfo reason)"),
    MetricDef("g2g_exchange_duration_seconds", "histogram", ("service", "code"),
              "End-to-end time of an Exchange.Call inside the broker"),
    MetricDef("g2g_stage_duration_seconds", "histogram", ("stage",),
              "Time spent in one pipeline stage: " + ", ".join(STAGES)),
    MetricDef("g2g_events_published", "counter", ("publisher", "event_type", "code", "reason"),
              "Events.Publish outcomes (code OK, reason DUPLICATE for a re-publication; or "
              "the refusal's status code name and ErrorInfo reason)"),
    MetricDef("g2g_event_deliveries", "counter", ("subscriber", "event_type", "outcome"),
              "Event deliveries by outcome: " + ", ".join(DELIVERY_OUTCOMES)),
    MetricDef("g2g_event_receipts", "counter", ("subscriber", "outcome", "reason"),
              "Subscriber receipts: verified (reason empty) or refused (with its reason)"),
    MetricDef("g2g_rpcs", "counter", ("method", "code"),
              "Every unary RPC the broker answered (Exchange, Catalog, Audit, Health)"),
    MetricDef("g2g_rpc_duration_seconds", "histogram", ("method",),
              "Time to answer one unary RPC, by full method name"),
    MetricDef("g2g_calls_in_flight", "gauge", (),
              "Exchange calls, event publications and receipts admitted and not yet "
              "answered", "livesum"),
    MetricDef("g2g_audit_queue_depth", "gauge", (),
              "Records waiting for the audit writer", "livesum"),
    MetricDef("g2g_audit_commit_group_size", "histogram", (),
              "Records committed together in one audit transaction"),
    MetricDef("g2g_audit_commit_duration_seconds", "histogram", (),
              "Time of one audit write transaction (group commit)"),
    MetricDef("g2g_audit_checkpoint_age_seconds", "gauge", (),
              "Seconds since the audit writer last checkpointed (or started)", "livemin"),
    MetricDef("g2g_audit_writable", "gauge", (),
              "1 while the audit store accepts writes, 0 while it is down", "livemin"),
    MetricDef("g2g_replay_cache_entries", "gauge", (),
              "Message ids held by the process-local replay cache", "livesum"),
    MetricDef("g2g_policy_version_info", "gauge", ("version",),
              "1 for the policy set version in force, 0 for one replaced", "livemax"),
    MetricDef("g2g_policy_reload_rejected", "gauge", (),
              "1 while the newest policy files were refused (the old set still decides)",
              "livemax"),
    MetricDef("g2g_registry_version_info", "gauge", ("version",),
              "1 for the registry version in force, 0 for one replaced", "livemax"),
    MetricDef("g2g_certificate_expiry_seconds", "gauge", ("certificate",),
              "Seconds until a certificate in use expires, or a CRL (label crl:...) is due "
              "(negative: expired or overdue)", "livemin"),
    MetricDef("g2g_ready", "gauge", (),
              "1 while the process answers /readyz with 200", "livemin"),
    MetricDef("g2g_draining", "gauge", (),
              "1 once the process drains (refuses new calls with DRAINING)", "livemax"),
)




class BrokerMetrics:
    """The metrics of one broker process, in its own CollectorRegistry."""

    def __init__(self, registry: Callable[[], Registry], catalog: Callable[[], Catalog]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._agencies = registry
        self._catalog = catalog
        m = {d.name: d for d in METRICS}

        def counter(name: str) -> Counter:
            d = m[name]
            return Counter(d.name, d.help, d.labels, registry=self.registry)

        def histogram(name: str, buckets: Iterable[float] = _LATENCY) -> Histogram:
            d = m[name]
            return Histogram(d.name, d.help, d.labels, registry=self.registry,
                             buckets=tuple(buckets))

        def gauge(name: str) -> Gauge:
            d = m[name]
            return Gauge(d.name, d.help, d.labels, registry=self.registry,
                         multiprocess_mode=d.merge)  # type: ignore[arg-type]

        self.exchanges = counter("g2g_exchanges")
        self.exchange_seconds = histogram("g2g_exchange_duration_seconds")
        self.stage_seconds = histogram("g2g_stage_duration_seconds")
        self.events_published = counter("g2g_events_published")
        self.event_deliveries = counter("g2g_event_deliveries")
        self.event_receipts = counter("g2g_event_receipts")
        self.rpcs = counter("g2g_rpcs")
        self.rpc_seconds = histogram("g2g_rpc_duration_seconds")
        self.in_flight = gauge("g2g_calls_in_flight")
        self.audit_queue = gauge("g2g_audit_queue_depth")
        self.audit_group = histogram("g2g_audit_commit_group_size", _GROUP)
        self.audit_commit_seconds = histogram("g2g_audit_commit_duration_seconds")
        self.checkpoint_age = gauge("g2g_audit_checkpoint_age_seconds")
        self.audit_writable = gauge("g2g_audit_writable")
        self.replay_entries = gauge("g2g_replay_cache_entries")
        self.policy_info = gauge("g2g_policy_version_info")
        self.policy_rejected = gauge("g2g_policy_reload_rejected")
        self.registry_info = gauge("g2g_registry_version_info")
        self.cert_expiry = gauge("g2g_certificate_expiry_seconds")
        self.ready = gauge("g2g_ready")
        self.draining = gauge("g2g_draining")
        self._versions: dict[str, str] = {}
        self._methods: dict[str, str] = {}
        # Labelled children by label values, looked up once: `labels()` takes a lock
        # and builds a key each time, and the OK path observes ~10 of them per call.
        self._children: dict[tuple[object, ...], Any] = {}

    # --- label bounds ---------------------------------------------------------

    def _agency(self, agency_id: str) -> str:
        return agency_id if agency_id and self._agencies().agency(agency_id) else UNKNOWN

    def _service(self, service: str) -> str:
        return service if service and self._catalog().get(service) is not None else UNKNOWN

    def _event_type(self, event_type: str) -> str:
        return (event_type if event_type and self._catalog().event(event_type) is not None
                else UNKNOWN)

    def _method(self, method: str) -> str:
        # Methods come from the server's own handlers; grpc answers unknown ones itself.
        known = self._methods.get(method)
        if known is None:
            known = method if method.startswith(("/g2g.", "/grpc.")) else UNKNOWN
            if len(self._methods) < 256:
                self._methods[method] = known
        return known

    # --- events -----------------------------------------------------------------

    def _child(self, metric: Any, *values: str) -> Any:
        key = (id(metric), *values)
        child = self._children.get(key)
        if child is None:
            child = metric.labels(*values)
            if len(self._children) < 4096:  # label values are bounded; the cache too
                self._children[key] = child
        return child

    def stage(self, stage: str, seconds: float) -> None:
        """One pipeline stage took `seconds`."""
        self._child(self.stage_seconds, stage).observe(seconds)

    def exchange(self, *, consumer: str, provider: str, service: str, code: str, reason: str,
                 seconds: float) -> None:
        """One Exchange.Call ended with `code` (a status code name) and `reason`."""
        service = self._service(service)
        self._child(self.exchanges, self._agency(consumer), self._agency(provider), service,
                    code, bounded_reason(reason) if reason else "").inc()
        self._child(self.exchange_seconds, service, code).observe(seconds)

    def event(self, record: AuditEvent) -> None:
        """Count what an Events audit record says happened (broker.typing.EventsObserver)."""
        kind, reason = record.kind, bounded_reason(record.reason) if record.reason else ""
        if kind in ("event_outcome", "event_rejected"):
            self.events_published.labels(self._agency(record.provider),
                                         self._event_type(record.service),
                                         record.status_code or OTHER, reason).inc()
            return
        outcome = {"delivered": "redelivered" if record.reason == "REDELIVERED"
                   else "delivered", "receipt": "acknowledged",
                   "delivery_failed": "dead_lettered"}.get(kind)
        if outcome is not None:
            self.event_deliveries.labels(self._agency(record.consumer),
                                         self._event_type(record.service), outcome).inc()
        if kind in ("receipt", "receipt_rejected"):
            self.event_receipts.labels(self._agency(record.consumer),
                                       "verified" if kind == "receipt" else "refused",
                                       reason).inc()

    def rpc(self, method: str, code: grpc.StatusCode, reason: str, seconds: float) -> None:
        """A unary RPC finished (g2g_sdk.boundary.CallObserver)."""
        method = self._method(method)
        self._child(self.rpcs, method, code.name).inc()
        self._child(self.rpc_seconds, method).observe(seconds)

    def audit_commit(self, records: int, seconds: float) -> None:
        """The audit writer committed `records` in one transaction (writer thread)."""
        self.audit_group.observe(records)
        self.audit_commit_seconds.observe(seconds)

    def versions(self, *, policy: str, registry: str) -> None:
        """The policy set and registry versions in force now (1; a replaced one 0)."""
        for kind, gauge, version in (("policy", self.policy_info, policy),
                                     ("registry", self.registry_info, registry)):
            old = self._versions.get(kind)
            if version != old:
                if old is not None:
                    gauge.labels(old).set(0)
                gauge.labels(version).set(1)
                self._versions[kind] = version


def certificate_expiry(pem: bytes, now: Callable[[], datetime] | None = None) -> float:
    """Seconds from now until the (first) certificate in `pem` expires."""
    cert = x509.load_pem_x509_certificate(pem)
    current = now() if now is not None else datetime.now(UTC)
    return (cert.not_valid_after_utc - current).total_seconds()
