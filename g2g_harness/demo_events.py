"""The events rows of `g2g demo`: a hit alert, a consular notification with its receipt,
and a denied subscriber, through a real (embedded) NATS JetStream.

Each row publishes or subscribes with the agency toolkit (`Publisher`,
`Subscriber`) exactly as an agency would; details never show personal data.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from g2g_sdk import pki
from g2g_sdk._gen.g2g.consular.v1 import consular_pb2 as cpb
from g2g_sdk._gen.g2g.consular.v1 import events_pb2 as cev
from g2g_sdk._gen.g2g.immigration.v1 import events_pb2 as iev
from g2g_sdk._gen.g2g.v1 import events_pb2
from g2g_sdk.publisher import Publisher
from g2g_sdk.subscriber import Subscriber, first
from google.protobuf import message as pb_message

from g2g_harness.federation import LocalFederation

PUBLISH = "g2g.v1.Events/Publish"
SUBSCRIBE = "g2g.v1.Events/Subscribe"
IMIGRASI = "ID/GOV/IMIGRASI"
HIT_BASIS = "UU 6/2011 Pasal 91-97"
VCCR_36 = "VCCR Art. 36(1)(b)"

Run = Callable[[Any, LocalFederation], Awaitable[str]]


def events_yaml(url: str, stream: str = "G2G_DEMO", prefix: str = "g2g.demo") -> str:
    """The broker config's `events:` section for the demo's JetStream."""
    return (f"events:\n  url: {url}\n  stream: {stream}\n  subject_prefix: {prefix}\n"
            "  storage: memory\n")


def _publisher(fed: LocalFederation, agency: str) -> Publisher:
    return Publisher(pki.load_identity(fed.pki_dir, agency), fed.registry,
                     broker_endpoint=fed.address)


def _subscriber(fed: LocalFederation, agency: str) -> Subscriber:
    return Subscriber(pki.load_identity(fed.pki_dir, agency), fed.registry,
                      broker_endpoint=fed.address)


def publish(payload: pb_message.Message, purpose: str, legal_basis: str,
            agency: str = IMIGRASI) -> Run:
    async def run(_client: Any, fed: LocalFederation) -> str:
        async with _publisher(fed, agency) as publisher:
            result = await publisher.publish(payload, purpose=purpose, legal_basis=legal_basis)
        return (f"{payload.DESCRIPTOR.name} routed to {', '.join(result.recipients) or 'nobody'}"
                f", durable in JetStream")
    return run


def receive(agency: str) -> Run:
    async def run(_client: Any, fed: LocalFederation) -> str:
        async with _subscriber(fed, agency) as subscriber:
            [event] = await first(subscriber)
            ack = await subscriber.acknowledge(event)
        withheld = sorted({f.name for f in event.payload.DESCRIPTOR.fields}
                          - set(event.routing.field_mask))
        return (f"verified, {len(event.fields)} fields"
                + (f" ({', '.join(withheld)} withheld)" if withheld else "")
                + f"; receipt {ack.receipt_digest.hex()[:10]} audited")
    return run


def tampered() -> Run:
    async def run(_client: Any, fed: LocalFederation) -> str:
        async with _publisher(fed, IMIGRASI) as publisher:
            signed = publisher.build(_hit(), purpose="border_control", legal_basis=HIT_BASIS)
            header = events_pb2.EventHeader.FromString(signed.header)
            header.purpose = "criminal_investigation"
            signed.header = header.SerializeToString(deterministic=True)
            await publisher.send(signed, retries=0)
        return "accepted?!"
    return run


def _hit() -> iev.WatchlistHit:
    return iev.WatchlistHit(
        entry_id="CKL-DEMO-1", full_name="Maryanto Yudi Wijaya", date_of_birth="1956-05-21",
        nationality="IDN", document_number="B1234567", border_post="CGK",
        direction=iev.CROSSING_DIRECTION_EXIT,
        occurred_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), score=0.97,
        requested_by="ID/GOV/POLRI", case_reference="POLRI/2026/0042")


def _detention() -> cev.DetentionNotification:
    return cev.DetentionNotification(
        notification_id="NTF-DEMO-1", type=cpb.NOTIFICATION_TYPE_DETENTION,
        full_name="Jan de Vries", date_of_birth="1980-02-03", nationality="NLD",
        passport_number="NX1234567",
        detained_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        facility="Rudenim Jakarta", grounds="overstay", consular_access_requested=True)


def event_steps(step: Callable[..., Any]) -> list[Any]:
    """The demo's event rows, built with the demo's own `Step` type."""
    return [
        step("border hit: immigration alerts", IMIGRASI, PUBLISH, "OK",
             publish(_hit(), "border_control", HIT_BASIS)),
        step("intelligence receives the hit alert", "ID/GOV/BIN", SUBSCRIBE, "OK",
             receive("ID/GOV/BIN")),
        step("requesting police receive it in full", "ID/GOV/POLRI", SUBSCRIBE, "OK",
             receive("ID/GOV/POLRI")),
        step("detention of a Dutch national: notify", IMIGRASI, PUBLISH, "OK",
             publish(_detention(), "consular_notification", VCCR_36)),
        step("NL embassy receives it, signs a receipt", "NL/GOV/EMBASSY-JAKARTA", SUBSCRIBE,
             "OK", receive("NL/GOV/EMBASSY-JAKARTA")),
        step("MY embassy subscribes (no rule)", "MY/GOV/EMBASSY-JAKARTA", SUBSCRIBE,
             "PERMISSION_DENIED", receive("MY/GOV/EMBASSY-JAKARTA"), "POLICY_DENIED"),
        step("event header changed after signing", IMIGRASI, PUBLISH, "UNAUTHENTICATED",
             tampered(), "SIGNATURE_INVALID"),
    ]
