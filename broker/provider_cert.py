"""Revocation status of each provider's server certificate, for the broker's outgoing calls.

gRPC's Python client checks a provider's chain and identity in every handshake
(tls.pinned_channel_options) but never shows the broker the certificate, so it
cannot be checked against the CRLs there. Instead, before a call, the broker
holds a verdict per (provider, endpoint): one TLS 1.3 handshake of its own to
the endpoint (the broker's client certificate presented, ALPN h2 like gRPC,
no application byte sent, bounded by the call's deadline) fetches the
certificate, which is then decided with the same `CrlState.check` as callers'
certificates. The verdict is reused until the CRL set changes or
`recheck_seconds` pass, so the hot path is a dictionary lookup. A refusal, or
no verdict at all, fails the call closed before anything is forwarded
(docs/PKI.md §3, "Provider certificates").
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import structlog
from cryptography import x509
from g2g_sdk import tls
from g2g_sdk.errors import (
    AuthenticationError,
    G2GError,
    IdentityMismatch,
    ProviderTimeout,
    ProviderUnavailable,
)
from g2g_sdk.revocation import CrlState

log = structlog.get_logger("g2g.broker")


@dataclass(frozen=True)
class Verdict:
    """One provider certificate decided against one CRL state, at a monotonic time."""

    state: CrlState
    checked_at: float
    serial: str
    reason: str | None = None  # the CrlState.check reason that refused it (CERT_REVOKED ...)
    message: str = ""


def refusal(provider: str, verdict: Verdict) -> G2GError | None:
    """The error a call to `provider` fails with under `verdict`, if any (pure)."""
    if verdict.reason is None:
        return None
    return ProviderUnavailable(
        f"{provider}'s server certificate is refused: {verdict.message}; nothing was sent",
        reason=f"PROVIDER_{verdict.reason}",
        metadata={"provider": provider, "serial": verdict.serial})


class ProviderCertificates:
    """Cached CRL verdicts on the providers' server certificates (one per endpoint)."""

    def __init__(self, crls: Callable[[], CrlState], ca_pem: bytes, cert_file: Path,
                 key_file: Path, *, recheck_seconds: float,
                 clock: Callable[[], datetime],
                 monotonic: Callable[[], float] = time.monotonic,
                 probe_seconds: float = tls.PROBE_SECONDS) -> None:
        self._crls = crls
        self._ca_pem = ca_pem
        self._cert_file = cert_file
        self._key_file = key_file
        self._recheck = recheck_seconds
        self._clock = clock
        self._monotonic = monotonic
        self._probe_seconds = probe_seconds
        self._verdicts: dict[tuple[str, str], Verdict] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        self.probes = 0  # handshakes made (observability and tests)

    def _fresh(self, key: tuple[str, str], state: CrlState) -> Verdict | None:
        verdict = self._verdicts.get(key)
        if (verdict is None or verdict.state is not state
                or self._monotonic() - verdict.checked_at >= self._recheck):
            return None
        return verdict

    async def check(self, provider: str, endpoint: str, timeout: float) -> None:
        """Raise unless `provider`'s certificate at `endpoint` passed the live CRLs lately."""
        key = (provider, endpoint)
        state = self._crls()
        verdict = self._fresh(key, state)
        if verdict is None:
            async with self._locks.setdefault(key, asyncio.Lock()):
                verdict = self._fresh(key, state)  # a concurrent call may have checked
                if verdict is None:
                    verdict = await self._decide(provider, endpoint, state, timeout)
                    self._verdicts[key] = verdict
        error = refusal(provider, verdict)
        if error is not None:
            raise error

    async def _decide(self, provider: str, endpoint: str, state: CrlState,
                      timeout: float) -> Verdict:
        cert = await self._fetch(provider, endpoint, timeout)
        expected = tls.PartyIdentity("agency", provider)
        try:
            named = tls.certificate_identity(cert) == expected
        except AuthenticationError:
            named = False
        if not named:
            # gRPC would refuse this server too; say so in trust-core's words.
            log.warning("provider_identity_mismatch", provider=provider)
            raise IdentityMismatch(
                f"the server at {provider}'s endpoint is not certified as {provider}; "
                "nothing was sent", metadata={"provider": provider})
        serial = f"{cert.serial_number:x}"
        try:
            state.check(cert, self._clock())
        except AuthenticationError as exc:
            log.warning("provider_certificate_refused", provider=provider, serial=serial,
                        reason=exc.reason)
            return Verdict(state, self._monotonic(), serial, exc.reason, exc.message)
        return Verdict(state, self._monotonic(), serial)

    async def _fetch(self, provider: str, endpoint: str, timeout: float) -> x509.Certificate:
        """The certificate `endpoint` presents; fails closed when none can be had."""
        context = tls.probe_context(self._ca_pem)  # the identity is compared by the caller
        context.set_alpn_protocols(["h2"])  # looks like gRPC's own connections
        context.load_cert_chain(self._cert_file, self._key_file)
        budget = min(self._probe_seconds, timeout)
        self.probes += 1
        try:
            der = await tls.server_certificate(endpoint, context, budget)
        except TimeoutError:
            if budget >= timeout:
                raise ProviderTimeout(f"{provider} did not answer in time") from None
            raise ProviderUnavailable(f"{provider} is unavailable") from None
        except (OSError, ValueError):  # ssl.SSLError is an OSError
            raise ProviderUnavailable(f"{provider} is unavailable") from None
        return x509.load_der_x509_certificate(der)
