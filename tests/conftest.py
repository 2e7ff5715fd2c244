"""Shared fixtures: one development PKI per test session, built from the real registry."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from g2g_sdk import logs, pki
from g2g_sdk.registry import Registry, load_registry
from hypothesis import HealthCheck, settings

from tests.softhsm import Token, make_token

REPO = Path(__file__).resolve().parent.parent

# Property-based tests (tests/**/test_fuzz*.py, marker `fuzz`): a short, derandomised
# run in `make test` (so the suite cannot flake), a long random one in `make fuzz`.
# G2G_HYPOTHESIS_PROFILE selects the profile; `fuzz` keeps failing examples in .hypothesis/.
settings.register_profile("ci", max_examples=30, deadline=None, derandomize=True,
                          database=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("fuzz", max_examples=3000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("G2G_HYPOTHESIS_PROFILE", "ci"))
REGISTRY = REPO / "config" / "agencies.yaml"


@pytest.fixture(scope="session")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A federation PKI (CA, TLS certs, signing keys) for every agency in the registry."""
    out = tmp_path_factory.mktemp("pki")
    pki.init_pki(REGISTRY, out)
    return out


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Token:
    """The session's SoftHSM2 token (skips locally, fails with CI=true, without SoftHSM2)."""
    return make_token(tmp_path_factory.mktemp("softhsm"))


@pytest.fixture(scope="session")
def registry(pki_dir: Path) -> Registry:
    return load_registry(REGISTRY, pki_dir)


@pytest.fixture(autouse=True)
def _reset_structlog(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # Tests must not leak one test's logging configuration into the next. A
    # logger cached on first use stays cached for the life of the process, out of
    # reach of reset_defaults() and of a later test's capture_logs(); so the
    # commands that configure logging in-process (demo, serve) do it uncached here.
    configure = logs.configure

    def configure_uncached(*args: Any, **kwargs: Any) -> None:
        configure(*args, **kwargs)
        structlog.configure(cache_logger_on_first_use=False)

    monkeypatch.setattr(logs, "configure", configure_uncached)
    yield
    structlog.reset_defaults()
