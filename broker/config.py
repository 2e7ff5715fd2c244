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


@dataclass(frozen=True)
class Limits:
    """Bounds on what one request may cost the broker."""

    max_envelope_bytes: int = 1 << 20
    clock_skew_seconds: int = 300
    max_lifetime_seconds: int = 600
    provider_timeout_seconds: float = 5.0
    max_concurrent_calls: int = 1024

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

    def crl_files(self, pki_dir: Path) -> tuple[Path, ...]:
        return self.crls or (pki_dir / "crl.pem",)


@dataclass(frozen=True)
class BrokerConfig:
    listen: str
    instance_id: str
    registry: Path
    pki_dir: Path
    policies: Path
    audit: AuditConfig
    limits: Limits = Limits()
    workers: int = 1
    source: str = ""
    data_root: Path = Path("data")
    """Where `g2g up` adapters and `g2g data import` keep data: ``data_root/<adapter>/``."""
    log_dir: Path = Path("log")
    """Where `g2g up` writes each child's log."""
    trust: TrustConfig = TrustConfig()

    def revocation(self) -> RevocationConfig:
        """Where the CA certificate and CRLs are, for g2g_sdk.revocation."""
        return RevocationConfig(
            ca_file=self.pki_dir / "ca.crt", crl_files=self.trust.crl_files(self.pki_dir),
            stale_grace=timedelta(seconds=self.trust.stale_grace_seconds),
            crl_warning=timedelta(hours=self.trust.crl_warning_hours))


_LIMIT_FIELDS = {"max_envelope_bytes", "clock_skew_seconds", "max_lifetime_seconds",
                 "provider_timeout_seconds", "max_concurrent_calls"}


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
    )


_TRUST_FIELDS = {"crls", "stale_grace_seconds", "crl_warning_hours", "expiry_warning_days",
                 "reload_seconds", "check_interval_seconds"}


def _positive(node: yamlsrc.Node) -> float:
    value = node.float()
    if value <= 0:
        raise node.error(f"must be greater than 0, got {value}")
    return value


def _trust(node: yamlsrc.Node, base: Path) -> TrustConfig:
    fields = node.mapping(allowed=_TRUST_FIELDS)
    defaults = TrustConfig()
    return TrustConfig(
        crls=tuple(base / p for p in fields["crls"].str_list()) if "crls" in fields else (),
        stale_grace_seconds=fields["stale_grace_seconds"].int(minimum=0)
        if "stale_grace_seconds" in fields else defaults.stale_grace_seconds,
        crl_warning_hours=_positive(fields["crl_warning_hours"])
        if "crl_warning_hours" in fields else defaults.crl_warning_hours,
        expiry_warning_days=_positive(fields["expiry_warning_days"])
        if "expiry_warning_days" in fields else defaults.expiry_warning_days,
        reload_seconds=_positive(fields["reload_seconds"])
        if "reload_seconds" in fields else defaults.reload_seconds,
        check_interval_seconds=_positive(fields["check_interval_seconds"])
        if "check_interval_seconds" in fields else defaults.check_interval_seconds,
    )


def load_config(path: Path) -> BrokerConfig:
    """Parse the broker config file at `path`."""
    from broker.audit import parse_audit_config

    root = yamlsrc.load(path)
    if root is None:
        raise ConfigError("the broker config is empty", file=str(path))
    base = path.resolve().parent
    top = root.mapping(
        allowed={"broker", "registry", "pki_dir", "policies", "audit", "limits", "adapters",
                 "log_dir", "trust"},
        required={"broker", "registry", "pki_dir", "policies"})
    broker = top["broker"].mapping(allowed={"listen", "instance_id", "workers"},
                                   required={"listen"})
    workers = broker["workers"].int(minimum=1) if "workers" in broker else 1
    adapters = top["adapters"].mapping(allowed={"data_root"}) if "adapters" in top else {}
    return BrokerConfig(
        listen=broker["listen"].str(),
        instance_id=broker["instance_id"].str() if "instance_id" in broker else "broker-1",
        registry=base / top["registry"].str(),
        pki_dir=base / top["pki_dir"].str(),
        policies=base / top["policies"].str(),
        audit=parse_audit_config(top.get("audit"), base),
        limits=_limits(top["limits"]) if "limits" in top else Limits(),
        workers=workers,
        source=str(path),
        data_root=base / (adapters["data_root"].str() if "data_root" in adapters else "data"),
        log_dir=base / (top["log_dir"].str() if "log_dir" in top else "log"),
        trust=_trust(top["trust"], base) if "trust" in top else TrustConfig(),
    )
