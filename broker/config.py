"""The broker's configuration, parsed once from YAML into frozen objects.

Relative paths are resolved against the directory of the config file. Every
error names file, line and field. The `audit:` section is parsed by
`broker.audit` (its own module owns its options).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from g2g_sdk import yamlsrc
from g2g_sdk.envelope import TimeRules
from g2g_sdk.errors import ConfigError
from g2g_sdk.revocation import RevocationConfig

if TYPE_CHECKING:
    from broker.audit import AuditConfig
    from broker.events.config import EventsConfig


@dataclass(frozen=True)
class Limits:
    """Bounds on what one request may cost the broker."""

    max_envelope_bytes: int = 1 << 20
    clock_skew_seconds: int = 300
    max_lifetime_seconds: int = 600
    provider_timeout_seconds: float = 5.0
    max_concurrent_calls: int = 1024
    # The in-memory replay cache (broker/replay.py): in total, and per sender so
    # that one sender cannot fill it for everyone.
    replay_cache_entries: int = 1_000_000
    replay_cache_per_sender: int = 100_000
    max_concurrent_calls_per_consumer: int = 256
    handshake_timeout_seconds: float = 10.0
    connection_idle_seconds: float = 300.0
    connection_max_age_seconds: float = 3600.0
    connection_age_grace_seconds: float = 30.0

    @functools.cached_property  # read on every request; computed once
    def time_rules(self) -> TimeRules:
        return TimeRules(clock_skew=timedelta(seconds=self.clock_skew_seconds),
                         max_lifetime=timedelta(seconds=self.max_lifetime_seconds))

    @property
    def transport_max_bytes(self) -> int:
        # gRPC itself refuses anything larger, unaudited; leave room above the
        # envelope limit so oversized envelopes reach the pipeline and get audited.
        return 2 * self.max_envelope_bytes + (64 << 10)


@dataclass(frozen=True)
class TrustConfig:
    """Revocation and expiry settings (`trust:`); CRL paths default to `<pki_dir>/crl.pem`."""

    crls: tuple[Path, ...] = ()
    stale_grace_seconds: int = 0
    crl_warning_hours: float = 24.0
    expiry_warning_days: float = 30.0
    reload_seconds: float = 2.0
    check_interval_seconds: float = 3600.0
    # A provider's server certificate is re-fetched and re-checked against the CRLs at
    # least this often per endpoint (and after every CRL reload): the revocation window.
    provider_recheck_seconds: float = 60.0

    def crl_files(self, pki_dir: Path) -> tuple[Path, ...]:
        return self.crls or (pki_dir / "crl.pem",)


@dataclass(frozen=True)
class Ops:
    """The plain-HTTP operations port (/metrics, /healthz, /readyz) and draining."""

    listen: str = "127.0.0.1:9464"  # "" turns the port off
    drain_seconds: float = 30.0  # how long calls in flight may finish after SIGTERM
    # Providers that must have a reachable endpoint (gRPC health SERVING) for /readyz
    # to answer 200; empty: provider health is not part of readiness.
    ready_requires_providers: tuple[str, ...] = ()
    provider_check_seconds: float = 5.0  # how often those providers are probed
    provider_check_timeout_seconds: float = 1.0  # the bound on one probe


@dataclass(frozen=True)
class Tracing:
    """OpenTelemetry export (`tracing:`); spans are made either way, exported only if set."""

    otlp_endpoint: str = ""  # e.g. http://collector:4317; "" exports nothing
    service_name: str = "g2g-broker"


_TRACING_FIELDS = {"otlp_endpoint", "service_name"}


def _tracing(node: yamlsrc.Node) -> Tracing:
    fields = node.mapping(allowed=_TRACING_FIELDS)
    defaults = Tracing()
    return Tracing(
        otlp_endpoint=fields["otlp_endpoint"].str(allow_empty=True)
        if "otlp_endpoint" in fields else defaults.otlp_endpoint,
        service_name=fields["service_name"].str() if "service_name" in fields
        else defaults.service_name)


@dataclass(frozen=True)
class BrokerConfig:
    listen: str
    instance_id: str
    registry: Path
    pki_dir: Path
    policies: Path
    audit: AuditConfig
    limits: Limits = Limits()
    ops: Ops = Ops()
    workers: int = 1
    source: str = ""
    data_root: Path = Path("data")
    """Where `g2g up` adapters and `g2g data import` keep data: ``data_root/<adapter>/``."""
    log_dir: Path = Path("log")
    """Where `g2g up` writes each child's log."""
    adapters: tuple[str, ...] | None = None
    """The adapters `g2g up` runs (`adapters.serve`); None: every installed one."""
    trust: TrustConfig = TrustConfig()
    tracing: Tracing = Tracing()

    def revocation(self) -> RevocationConfig:
        """Where the CA certificate and CRLs are, for g2g_sdk.revocation."""
        return RevocationConfig(
            ca_file=self.pki_dir / "ca.crt", crl_files=self.trust.crl_files(self.pki_dir),
            stale_grace=timedelta(seconds=self.trust.stale_grace_seconds),
            crl_warning=timedelta(hours=self.trust.crl_warning_hours))
    events: EventsConfig | None = None
    """The `events:` section (broker/events/config.py); None: no Events service."""


_LIMIT_FIELDS = {"max_envelope_bytes", "clock_skew_seconds", "max_lifetime_seconds",
                 "provider_timeout_seconds", "max_concurrent_calls",
                 "max_concurrent_calls_per_consumer", "handshake_timeout_seconds",
                 "connection_idle_seconds", "connection_max_age_seconds",
                 "connection_age_grace_seconds", "replay_cache_entries",
                 "replay_cache_per_sender"}


_OPS_FIELDS = {"listen", "drain_seconds", "ready_requires_providers", "provider_check_seconds",
               "provider_check_timeout_seconds"}


def _ops(node: yamlsrc.Node) -> Ops:
    fields = node.mapping(allowed=_OPS_FIELDS)
    defaults = Ops()
    listen = fields["listen"].str(allow_empty=True) if "listen" in fields else defaults.listen
    if listen and not listen.rpartition(":")[2].isdigit():
        raise fields["listen"].error("listen is host:port, or \"\" for no port")
    required = (fields["ready_requires_providers"].str_list()
                if "ready_requires_providers" in fields else defaults.ready_requires_providers)
    return Ops(listen=listen,
               drain_seconds=_seconds(fields, "drain_seconds", defaults.drain_seconds),
               ready_requires_providers=required,
               provider_check_seconds=_seconds(fields, "provider_check_seconds",
                                               defaults.provider_check_seconds),
               provider_check_timeout_seconds=_seconds(
                   fields, "provider_check_timeout_seconds",
                   defaults.provider_check_timeout_seconds))


def _limits(node: yamlsrc.Node) -> Limits:
    fields = node.mapping(allowed=_LIMIT_FIELDS)
    defaults = Limits()
    return Limits(
        max_envelope_bytes=fields["max_envelope_bytes"].int(minimum=1024)
        if "max_envelope_bytes" in fields else defaults.max_envelope_bytes,
        clock_skew_seconds=fields["clock_skew_seconds"].int(minimum=0)
        if "clock_skew_seconds" in fields else defaults.clock_skew_seconds,
        max_lifetime_seconds=fields["max_lifetime_seconds"].int(minimum=1)
        if "max_lifetime_seconds" in fields else defaults.max_lifetime_seconds,
        provider_timeout_seconds=fields["provider_timeout_seconds"].float()
        if "provider_timeout_seconds" in fields else defaults.provider_timeout_seconds,
        max_concurrent_calls=fields["max_concurrent_calls"].int(minimum=1)
        if "max_concurrent_calls" in fields else defaults.max_concurrent_calls,
        max_concurrent_calls_per_consumer=fields["max_concurrent_calls_per_consumer"].int(
            minimum=1) if "max_concurrent_calls_per_consumer" in fields
        else defaults.max_concurrent_calls_per_consumer,
        handshake_timeout_seconds=_seconds(fields, "handshake_timeout_seconds",
                                           defaults.handshake_timeout_seconds),
        connection_idle_seconds=_seconds(fields, "connection_idle_seconds",
                                         defaults.connection_idle_seconds),
        connection_max_age_seconds=_seconds(fields, "connection_max_age_seconds",
                                            defaults.connection_max_age_seconds),
        connection_age_grace_seconds=_seconds(fields, "connection_age_grace_seconds",
                                              defaults.connection_age_grace_seconds),
        replay_cache_entries=fields["replay_cache_entries"].int(minimum=1)
        if "replay_cache_entries" in fields else defaults.replay_cache_entries,
        replay_cache_per_sender=fields["replay_cache_per_sender"].int(minimum=1)
        if "replay_cache_per_sender" in fields else defaults.replay_cache_per_sender,
    )


def _seconds(fields: dict[str, yamlsrc.Node], name: str, default: float) -> float:
    if name not in fields:
        return default
    value = fields[name].float()
    if value <= 0:
        raise fields[name].error(f"{name} must be positive")
    return value


_TRUST_FIELDS = {"crls", "stale_grace_seconds", "crl_warning_hours", "expiry_warning_days",
                 "reload_seconds", "check_interval_seconds", "provider_recheck_seconds"}


def _trust(node: yamlsrc.Node, base: Path) -> TrustConfig:
    fields = node.mapping(allowed=_TRUST_FIELDS)
    defaults = TrustConfig()
    return TrustConfig(
        crls=tuple(base / p for p in fields["crls"].str_list()) if "crls" in fields else (),
        stale_grace_seconds=fields["stale_grace_seconds"].int(minimum=0)
        if "stale_grace_seconds" in fields else defaults.stale_grace_seconds,
        crl_warning_hours=_seconds(fields, "crl_warning_hours", defaults.crl_warning_hours),
        expiry_warning_days=_seconds(fields, "expiry_warning_days",
                                     defaults.expiry_warning_days),
        reload_seconds=_seconds(fields, "reload_seconds", defaults.reload_seconds),
        check_interval_seconds=_seconds(fields, "check_interval_seconds",
                                        defaults.check_interval_seconds),
        provider_recheck_seconds=_seconds(fields, "provider_recheck_seconds",
                                          defaults.provider_recheck_seconds),
    )


_TOP_FIELDS = {"broker", "registry", "pki_dir", "policies", "audit", "limits", "ops",
               "adapters", "log_dir", "trust", "tracing", "events"}
_BROKER_FIELDS = {"listen", "instance_id", "workers"}
_ADAPTERS_FIELDS = {"data_root", "serve"}


def section_fields() -> dict[str, frozenset[str]]:
    """Every key the broker config accepts, by section ("" is the top level)."""
    from broker.audit.config import FIELDS as AUDIT_FIELDS
    from broker.events.config import FIELDS as EVENTS_FIELDS

    return {"": frozenset(_TOP_FIELDS), "broker": frozenset(_BROKER_FIELDS),
            "adapters": frozenset(_ADAPTERS_FIELDS), "limits": frozenset(_LIMIT_FIELDS),
            "ops": frozenset(_OPS_FIELDS), "trust": frozenset(_TRUST_FIELDS),
            "tracing": frozenset(_TRACING_FIELDS),
            "audit": frozenset(AUDIT_FIELDS), "events": frozenset(EVENTS_FIELDS)}


def load_config(path: Path) -> BrokerConfig:
    """Parse the broker config file at `path`."""
    from broker.audit import parse_audit_config
    from broker.events.config import parse_events_config

    root = yamlsrc.load(path)
    if root is None:
        raise ConfigError("the broker config is empty", file=str(path))
    base = path.resolve().parent
    top = root.mapping(allowed=_TOP_FIELDS, required={"broker", "registry", "pki_dir", "policies"})
    broker = top["broker"].mapping(allowed=_BROKER_FIELDS, required={"listen"})
    workers = broker["workers"].int(minimum=1) if "workers" in broker else 1
    adapters = top["adapters"].mapping(allowed=_ADAPTERS_FIELDS) if "adapters" in top else {}
    return BrokerConfig(
        listen=broker["listen"].str(),
        instance_id=broker["instance_id"].str() if "instance_id" in broker else "broker-1",
        registry=base / top["registry"].str(),
        pki_dir=base / top["pki_dir"].str(),
        policies=base / top["policies"].str(),
        audit=parse_audit_config(top.get("audit"), base),
        limits=_limits(top["limits"]) if "limits" in top else Limits(),
        ops=_ops(top["ops"]) if "ops" in top else Ops(),
        workers=workers,
        source=str(path),
        data_root=base / (adapters["data_root"].str() if "data_root" in adapters else "data"),
        adapters=adapters["serve"].str_list() if "serve" in adapters else None,
        log_dir=base / (top["log_dir"].str() if "log_dir" in top else "log"),
        trust=_trust(top["trust"], base) if "trust" in top else TrustConfig(),
        tracing=_tracing(top["tracing"]) if "tracing" in top else Tracing(),
        events=parse_events_config(top.get("events"), base),
    )
