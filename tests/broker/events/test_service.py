"""Pure parts of the Events service: which ack subjects a subscriber may use."""

from __future__ import annotations

import pytest
from g2g_sdk.errors import EnvelopeError

from broker.events.jetstream import consumer_name
from broker.events.service import ack_stream_seq

NL = "NL/GOV/EMBASSY-JAKARTA"


def token(consumer: str, stream: str = "G2G_EVENTS", seq: str = "42") -> str:
    return f"$JS.ACK.{stream}.{consumer}.1.{seq}.7.1767322245000000000.0"


def test_own_consumer_and_own_filtered_consumer_are_accepted() -> None:
    assert ack_stream_seq(token(consumer_name(NL)), "G2G_EVENTS", NL) == 42
    filtered = consumer_name(NL, ("g2g.consular.v1.DetentionNotification",))
    assert ack_stream_seq(token(filtered), "G2G_EVENTS", NL) == 42
    # The v2 form (domain and account hash after ACK, a random token at the end).
    v2 = f"$JS.ACK.hub.ACCHASH.G2G_EVENTS.{consumer_name(NL)}.1.42.7.1767322245.0.x1"
    assert ack_stream_seq(v2, "G2G_EVENTS", NL) == 42


@pytest.mark.parametrize("bad", [
    token(consumer_name("AU/GOV/EMBASSY-JAKARTA")),       # another agency's delivery
    token(consumer_name(NL) + "2"),                       # a look-alike consumer name
    token(consumer_name(NL), stream="OTHER"),             # another stream
    token(consumer_name(NL), seq="x"),                    # not a sequence
    "$JS.API.CONSUMER.DELETE.G2G_EVENTS.sub-nl-gov-embassy-jakarta",  # not an ack at all
    "",
])
def test_any_other_subject_is_refused(bad: str) -> None:
    with pytest.raises(EnvelopeError) as info:
        ack_stream_seq(bad, "G2G_EVENTS", NL)
    assert info.value.reason == "ACK_TOKEN_INVALID"
