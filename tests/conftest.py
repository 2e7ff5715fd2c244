"""Shared fixtures: one development PKI per test session, built from the real registry."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from broker.protocol import pki
from broker.protocol.registry import Registry, load_registry

REPO = Path(__file__).resolve().parent.parent
REGISTRY = REPO / "config" / "agencies.yaml"


@pytest.fixture(scope="session")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A federation PKI (CA, TLS certs, signing keys) for every agency in the registry."""
    out = tmp_path_factory.mktemp("pki")
    pki.init_pki(REGISTRY, out)
    return out


@pytest.fixture(scope="session")
def registry(pki_dir: Path) -> Registry:
    return load_registry(REGISTRY, pki_dir)


@pytest.fixture(autouse=True)
def _reset_structlog() -> Iterator[None]:
    # Tests must not leak one test's logging configuration into the next.
    yield
    structlog.reset_defaults()
