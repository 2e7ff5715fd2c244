"""Expiry warnings: every certificate and CRL the broker relies on, and how long each has left.

`expiring` is pure: from the live registry (the certificates the CA
published for every party), the live CRLs and the broker's own certificate it
lists what expires. `ExpiryMonitor` logs it at start and every `interval`
seconds (a `g2g_sdk.reload.Poller` whose reload is the check), and
`figures()` gives the seconds left per item for a metrics gauge (labels
`kind`, `party`, `serial`). Expired certificates and stale CRLs are also
refused where they are used (g2g_sdk.revocation); this module only warns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog
from cryptography import x509
from g2g_sdk.registry import Registry
from g2g_sdk.reload import Poller
from g2g_sdk.revocation import CrlState

log = structlog.get_logger("g2g.broker")


@dataclass(frozen=True)
class Expiry:
    """Something that stops being valid at `at`: a certificate or a CRL's nextUpdate."""

    kind: str  # "certificate" (published or the broker's own) or "crl"
    party: str  # agency id, "broker", or the CRL issuer
    serial: str  # certificate serial (hex) or CRL file
    at: datetime


def expiring(registry: Registry, crls: CrlState, own_cert: x509.Certificate) -> list[Expiry]:
    """Every certificate and CRL in use, with when it expires (sorted, soonest first)."""
    items = {Expiry("certificate", "broker", f"{own_cert.serial_number:x}",
                    own_cert.not_valid_after_utc)}
    items |= {Expiry("certificate", "broker", c.serial, c.not_after)
              for c in registry.broker_certificates}
    for agency in registry.agencies.values():
        items |= {Expiry("certificate", agency.id, c.serial, c.not_after)
                  for c in agency.certificates}
    items |= {Expiry("crl", crl.issuer, crl.path, crl.next_update) for crl in crls.crls.values()}
    return sorted(items, key=lambda e: (e.at, e.kind, e.party, e.serial))


def seconds_left(items: list[Expiry], now: datetime) -> dict[tuple[str, str, str], float]:
    """{(kind, party, serial): seconds until expiry (negative: expired)}, for a gauge."""
    return {(e.kind, e.party, e.serial): (e.at - now).total_seconds() for e in items}


class ExpiryMonitor(Poller):
    """Logs `certificate_expiring`/`certificate_expired`/`crl_expiring`/`crl_stale` warnings.

    `source` gives the live registry, CRLs and the broker's own certificate (PEM): read
    at every check, so a rotated broker certificate is watched, not the one it replaced.
    """

    def __init__(self, source: Callable[[], tuple[Registry, CrlState, bytes]], *,
                 window: timedelta = timedelta(days=30), interval: float = 3600.0,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        super().__init__(interval)
        self._source = source
        self._window = window
        self._clock = clock
        self._own: tuple[bytes, x509.Certificate] | None = None

    def _current(self) -> tuple[Registry, CrlState, x509.Certificate]:
        registry, crls, own_pem = self._source()
        if self._own is None or self._own[0] != own_pem:
            self._own = (own_pem, x509.load_pem_x509_certificate(own_pem))
        return registry, crls, self._own[1]

    def figures(self) -> dict[tuple[str, str, str], float]:
        """Seconds left per (kind, party, serial) now: the hook for a Prometheus gauge."""
        return seconds_left(expiring(*self._current()), self._clock())

    def check(self) -> list[Expiry]:
        """Log every item expired or within the window; return them."""
        registry, crls, own = self._current()
        now = self._clock()
        # A CRL is warned about its own (shorter) window: it is reissued every few days.
        due = [e for e in expiring(registry, crls, own)
               if e.at - now <= (crls.crl_warning if e.kind == "crl" else self._window)]
        for e in due:
            left = (e.at - now).total_seconds()
            expired = left <= 0
            event = (f"{e.kind}_{'expired' if e.kind == 'certificate' else 'stale'}" if expired
                     else f"{e.kind}_expiring")
            (log.error if expired else log.warning)(
                event, party=e.party, serial=e.serial,
                at=e.at.strftime("%Y-%m-%dT%H:%M:%SZ"), days_left=round(left / 86400, 2))
        return due

    def start(self) -> None:
        """Check now, then every interval."""
        self.check()
        super().start()

    async def reload(self) -> bool:
        self.check()
        return True
