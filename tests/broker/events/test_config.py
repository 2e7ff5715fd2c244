"""`events.delivery_window`: a stream's bound on unacknowledged deliveries (flow.py)."""

from __future__ import annotations

import pytest
from g2g_sdk import yamlsrc
from g2g_sdk.errors import ConfigError

from broker.events.config import MAX_ACK_PENDING, EventsConfig, parse_events_config


def parsed(text: str) -> EventsConfig | None:
    root = yamlsrc.parse(text, "broker.yaml")
    assert root is not None
    return parse_events_config(root.mapping()["events"])


def test_the_window_defaults_to_eight_and_is_configurable() -> None:
    assert parsed("events:\n  url: nats://127.0.0.1:4222\n") == EventsConfig()
    assert EventsConfig().delivery_window == 8
    config = parsed("events:\n  delivery_window: 32\n")
    assert config is not None
    assert config.delivery_window == 32


@pytest.mark.parametrize(("value", "message"), [
    ("0", "must be at least 1, got 0"),
    (str(MAX_ACK_PENDING + 1), f"at most {MAX_ACK_PENDING} (the consumer's max_ack_pending), "
                               f"got {MAX_ACK_PENDING + 1}"),
    ("2.5", "expected an integer")])
def test_a_window_outside_one_to_max_ack_pending_is_refused(value: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parsed(f"events:\n  delivery_window: {value}\n")
    assert message in str(raised.value)
    assert "broker.yaml:2" in str(raised.value)
