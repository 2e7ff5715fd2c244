"""The example federation's files, shipped inside the package (never read from a checkout).

Registry, broker config, policies and policy tests live in the repository's
``config/`` directory, which the wheel installs as the package data of
``g2g_harness.starter``. The local federation runs them and `g2g init` copies them.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from g2g_sdk.errors import ConfigError

PACKAGE = "g2g_harness.starter"


def starter_dir() -> Path:
    """The directory holding the example registry, broker.yaml, policies/ and policy-tests/."""
    root = resources.files(PACKAGE)
    if not isinstance(root, Path):  # a zipped install: there is no directory to read
        raise ConfigError(f"{PACKAGE} is not installed as files on disk; reinstall g2g "
                          "from its wheel (pip install g2g)")
    return root


def registry() -> Path:
    """The example federation registry (agencies.yaml)."""
    return starter_dir() / "agencies.yaml"


def policies() -> Path:
    """The example sharing policies."""
    return starter_dir() / "policies"


def policy_tests() -> Path:
    """The example policies' decision tests."""
    return starter_dir() / "policy-tests"
