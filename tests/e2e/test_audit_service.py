"""The Audit gRPC service: role-scoped queries and proofs a third party can check."""

from __future__ import annotations

import json
from pathlib import Path

import grpc
import pytest

from broker.audit import checkpoint, merkle
from broker.federation import start_federation, write_config
from broker.protocol import keys, pki, status, tls
from broker.protocol._gen.g2g.v1 import audit_pb2, audit_pb2_grpc
from broker.protocol.errors import G2GError
from tests.e2e.conftest import LEGAL_BASIS, POLRI, SCREEN, Fed, expect_error, name_query

FED_AUDITOR = "ID/GOV/KEMENKUMHAM-AUDIT"


def stub(fed: Fed, agency: str) -> tuple[grpc.aio.Channel, audit_pb2_grpc.AuditStub]:
    identity = pki.load_identity(fed.pki_dir, agency)
    channel = grpc.aio.secure_channel(fed.federation.address,
                                      tls.channel_credentials(identity))
    return channel, audit_pb2_grpc.AuditStub(channel)


async def _rpc(call: object) -> object:
    try:
        return await call  # type: ignore[misc]
    except grpc.RpcError as exc:
        raise status.error_from_rpc(exc) from None


async def test_federation_auditor_queries_and_verifies_an_inclusion_proof(
        tmp_path: Path, pki_dir: Path) -> None:
    audit_yaml = f"  backend: sqlite\n  path: {tmp_path / 'audit.db'}\n  checkpoint_every: 1\n"
    federation = await start_federation(
        tmp_path, pki_dir=pki_dir,
        config_path=write_config(tmp_path, pki_dir=pki_dir, audit_yaml=audit_yaml))
    fed = Fed(federation)
    try:
        async with fed.client(POLRI) as client:
            answer = await client.call(SCREEN, name_query(fed.listed_subject.full_name),
                                       purpose="criminal_investigation",
                                       legal_basis=LEGAL_BASIS)
        channel, audit = stub(fed, FED_AUDITOR)
        async with channel:
            found = await audit.Query(audit_pb2.AuditQuery(agency=POLRI))
            mine = [r for r in found.records
                    if json.loads(r)["message_id"] == answer.header.in_reply_to]
            assert [json.loads(r)["kind"] for r in mine] == ["request", "outcome"]
            seq = json.loads(mine[0])["seq"]
            proof = await audit.InclusionProof(audit_pb2.InclusionProofRequest(seq=seq))
    finally:
        await federation.stop()
    log_pub = keys.load_public_key(pki_dir / "broker" / "log.pub")
    cp = checkpoint.verify(proof.checkpoint, federation.config.audit.origin, log_pub)
    assert proof.record == mine[0]
    assert merkle.verify_inclusion(seq, cp.size, merkle.leaf_hash(proof.record),
                                   list(proof.proof), cp.root)


async def test_agency_without_auditor_role_is_refused_and_the_read_is_audited(fed: Fed) -> None:
    channel, audit = stub(fed, POLRI)
    async with channel:
        await expect_error(_rpc(audit.Query(audit_pb2.AuditQuery())),
                           grpc.StatusCode.PERMISSION_DENIED, "AUDIT_ACCESS_DENIED")
    reads = [r for r in await fed.all_records() if r["kind"] == "audit_read"]
    assert [(r["consumer"], r["service"], r["status_code"]) for r in reads] == [
        (POLRI, "g2g.v1.Audit/Query", "PERMISSION_DENIED")]


def test_scope_rules(fed: Fed) -> None:
    from broker.audit.service import scope
    registry = fed.federation.registry
    assert scope(registry, FED_AUDITOR) is None
    with pytest.raises(G2GError):
        scope(registry, POLRI)


async def test_proof_out_of_range_is_invalid_argument_and_audited(fed: Fed) -> None:
    channel, audit = stub(fed, FED_AUDITOR)
    async with channel:
        await expect_error(_rpc(audit.InclusionProof(audit_pb2.InclusionProofRequest(
            seq=5, tree_size=3))), grpc.StatusCode.INVALID_ARGUMENT, "OUT_OF_RANGE")
        await expect_error(_rpc(audit.ConsistencyProof(audit_pb2.ConsistencyProofRequest(
            old_size=0, new_size=1))), grpc.StatusCode.INVALID_ARGUMENT, "OUT_OF_RANGE")
    reads = [r for r in await fed.all_records() if r["kind"] == "audit_read"]
    assert [(r["consumer"], r["service"], r["status_code"], r["reason"]) for r in reads] == [
        (FED_AUDITOR, "g2g.v1.Audit/InclusionProof", "INVALID_ARGUMENT", "OUT_OF_RANGE"),
        (FED_AUDITOR, "g2g.v1.Audit/ConsistencyProof", "INVALID_ARGUMENT", "OUT_OF_RANGE")]
