"""Expiry warnings: every certificate and CRL the broker relies on, and how long each has left.

`expiring` is pure: from the live registry (the certificates the CA
published for every party), the live CRLs and the broker's own certificate it
lists what expires. `ExpiryMonitor` logs it every `interval` seconds, and
`figures()` gives the seconds left per item for a metrics gauge (labels
`kind`, `party`, `serial`). Expired certificates and stale CRLs are also
refused where they are used (g2g_sdk.revocation); this module only warns.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog
from cryptography import x509
from g2g_sdk.registry import Registry
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


class ExpiryMonitor:
    """Logs `certificate_expiring`/`certificate_expired`/`crl_expiring`/`crl_stale` warnings."""

    def __init__(self, source: Callable[[], tuple[Registry, CrlState]], own_cert_pem: bytes, *,
                 window: timedelta = timedelta(days=30), interval: float = 3600.0,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._source = source
        self._own = x509.load_pem_x509_certificate(own_cert_pem)
        self._window = window
        self._interval = interval
        self._clock = clock
        self._task: asyncio.Task[None] | None = None

    def figures(self) -> dict[tuple[str, str, str], float]:
        """Seconds left per (kind, party, serial) now: the hook for a Prometheus gauge."""
        registry, crls = self._source()
        return seconds_left(expiring(registry, crls, self._own), self._clock())

    def check(self) -> list[Expiry]:
        """Log every item expired or within the window; return them."""
        registry, crls = self._source()
        now = self._clock()
        # A CRL is warned about its own (shorter) window: it is reissued every few days.
        due = [e for e in expiring(registry, crls, self._own)
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
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            self.check()
            await asyncio.sleep(self._interval)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
