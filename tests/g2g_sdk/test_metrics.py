"""g2g_sdk.metrics: bounded reason labels, and a clear error without the extra."""

from __future__ import annotations

import sys

import pytest
from g2g_sdk.errors import ConfigError
from g2g_sdk.metrics import OTHER, ProviderMetrics, bounded_reason


def test_reasons_that_are_not_upper_case_identifiers_are_other() -> None:
    assert bounded_reason("NOT_BROKER") == "NOT_BROKER"
    assert bounded_reason("not a reason") == OTHER
    assert bounded_reason("A" * 49) == OTHER


def test_metrics_without_prometheus_client_name_the_extra(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "prometheus_client", None)  # as if not installed
    with pytest.raises(ConfigError, match=r"pip install 'g2g-sdk\[metrics\]'"):
        ProviderMetrics("127.0.0.1:0")


def test_a_metrics_address_without_a_port_is_refused() -> None:
    with pytest.raises(ConfigError, match="metrics_listen is HOST:PORT"):
        ProviderMetrics("localhost")
