"""CRL state: verified loading and the per-certificate decision (pure, no server)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from g2g_sdk import ca, pki
from g2g_sdk.errors import AuthenticationError, ConfigError
from g2g_sdk.revocation import RevocationConfig, load_crls, not_older

from tests.conftest import REGISTRY

POLRI = "ID/GOV/POLRI"


@pytest.fixture
def own(tmp_path: Path, pki_dir: Path) -> Path:
    copy = tmp_path / "pki"
    shutil.copytree(pki_dir, copy)
    return copy


def config(pki_dir: Path, grace: timedelta = timedelta(0)) -> RevocationConfig:
    return RevocationConfig(pki_dir / "ca.crt", (pki_dir / "crl.pem",), stale_grace=grace)


def reason(check: object) -> str:
    with pytest.raises(AuthenticationError) as info:
        check()  # type: ignore[operator]
    assert info.value.code.name == "UNAUTHENTICATED"
    return info.value.reason


def test_revoked_expired_and_stale_are_refused_within_grace_accepted(own: Path) -> None:
    now = datetime.now(UTC)
    cert = ca.current_certificate(own, POLRI)
    state = load_crls(config(own), now)
    state.check(cert, now)
    # In grace: past nextUpdate but within the grace, accepted; beyond it, CRL_STALE.
    graced = load_crls(config(own, timedelta(hours=2)), now)
    next_update = next(iter(graced.crls.values())).next_update
    graced.check(cert, next_update + timedelta(hours=1))
    assert graced.warnings(next_update + timedelta(hours=1))[0]["state"] == "in_grace"
    assert reason(lambda: graced.check(cert, next_update + timedelta(hours=3))) == "CRL_STALE"
    assert reason(lambda: state.check(cert, cert.not_valid_after_utc)) == "CERT_EXPIRED"
    ca.revoke_serials(own, [cert.serial_number], "key_compromise")
    revoked = load_crls(config(own), now)
    assert reason(lambda: revoked.check(cert, now)) == "CERT_REVOKED"
    not_older(state, revoked)  # a newer CRL is fine ...
    with pytest.raises(ConfigError, match="lower than the serving CRL's"):
        not_older(revoked, state)  # ... an older one is a rollback


def test_a_certificate_of_another_issuer_has_unknown_status(own: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    pki.init_pki(REGISTRY, other)  # another CA, with its own name... and the same name
    foreign = ca.current_certificate(other, POLRI)
    state = load_crls(config(own))
    assert reason(lambda: state.check(foreign, datetime.now(UTC))) == "CERT_STATUS_UNKNOWN"


def test_a_stale_crl_is_refused_at_load_and_warned_about_before(own: Path) -> None:
    now = datetime.now(UTC)
    ca.issue_crl(own, [], now=now - timedelta(days=2), days=1)
    with pytest.raises(ConfigError, match="the CRL is stale"):
        load_crls(config(own), now)
    ca.issue_crl(own, [], now=now, days=0.5)  # nextUpdate in 12 h: within the 24 h warning
    state = load_crls(config(own), now)
    (warning,) = state.warnings(now)
    assert warning["state"] == "expiring"
