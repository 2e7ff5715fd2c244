"""The readiness lines of provider health (broker/provider_health.py) and its config keys."""

from __future__ import annotations

from pathlib import Path

import pytest
from g2g_sdk.errors import ConfigError

from broker.config import load_config
from broker.provider_health import failing_providers
from g2g_harness.federation import write_config


def test_failing_providers_fail_closed_before_the_first_round() -> None:
    assert failing_providers(("A/B/C", "D/E/F"), None) == [
        "provider A/B/C not yet checked", "provider D/E/F not yet checked"]
    assert failing_providers(("A/B/C", "D/E/F"), frozenset({"D/E/F"})) == [
        "provider A/B/C unreachable"]
    assert failing_providers(("A/B/C",), frozenset({"A/B/C"})) == []
    assert failing_providers((), None) == []


def test_the_ops_keys_parse_and_a_non_positive_interval_names_the_field(
        tmp_path: Path, pki_dir: Path) -> None:
    extra = ("ops:\n  listen: 127.0.0.1:0\n  ready_requires_providers: [A/B/C, D/E/F]\n"
             "  provider_check_seconds: 0.5\n")
    ops = load_config(write_config(tmp_path, pki_dir=pki_dir, extra=extra)).ops
    assert (ops.ready_requires_providers, ops.provider_check_seconds,
            ops.provider_check_timeout_seconds) == (("A/B/C", "D/E/F"), 0.5, 1.0)
    assert load_config(write_config(tmp_path, pki_dir=pki_dir)).ops.ready_requires_providers \
        == ()
    bad = write_config(tmp_path, pki_dir=pki_dir,
                       extra="ops:\n  provider_check_timeout_seconds: 0\n")
    with pytest.raises(ConfigError, match="provider_check_timeout_seconds must be positive"):
        load_config(bad)
