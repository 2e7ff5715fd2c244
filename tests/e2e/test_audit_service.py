"""The Audit gRPC service: role-scoped queries and proofs a third party can check."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import grpc
import pytest
from g2g_sdk import keys, pki, status, tls
from g2g_sdk._gen.g2g.v1 import audit_pb2, audit_pb2_grpc
from g2g_sdk.errors import G2GError

from broker.audit import checkpoint, merkle
from broker.audit.log import LogReader
from g2g_harness.federation import start_federation, write_config
from tests.e2e.conftest import LEGAL_BASIS, POLRI, SCREEN, Fed, expect_error, name_query
from tests.pg import PG_BASE, pg_schema

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
    assert scope(registry, "ID/GOV/IMIGRASI/AUDIT") == "ID/GOV/IMIGRASI"
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


IMIGRASI = "ID/GOV/IMIGRASI"
IMIGRASI_AUDITOR = "ID/GOV/IMIGRASI/AUDIT"
INTERPOL = "INT/IO/INTERPOL"


async def _three_exchanges(fed: Fed) -> None:
    """Imigrasi as provider, as consumer, and an exchange it has no part in."""
    from g2g_sdk._gen.g2g.interpol.v1 import interpol_pb2

    from agency_adapters.interpol.service import seeded_data

    async with fed.client(POLRI) as police:
        await police.call(SCREEN, name_query("Budi Santoso"), purpose="criminal_investigation",
                          legal_basis=LEGAL_BASIS)
        await police.call("g2g.interpol.v1.Notices/Search", interpol_pb2.NoticeSearchRequest(
            full_name="Budi Santoso"), purpose="criminal_investigation")
    async with fed.client(IMIGRASI) as immigration:
        await immigration.call("g2g.interpol.v1.TravelDocuments/Check",
                               interpol_pb2.DocumentCheckRequest(
                                   number=seeded_data().sltd[0].number, issuing_country="NLD"),
                               purpose="border_control")


def _parties(records: list[bytes]) -> list[tuple[str, str, str]]:
    return [(r["kind"], r["consumer"], r["provider"]) for r in map(json.loads, records)]


async def test_agency_auditor_sees_only_its_agency_s_records_and_every_read_is_audited(
        fed: Fed) -> None:
    await _three_exchanges(fed)
    exchanges = [r for r in await fed.all_records() if r["kind"] != "audit_read"]
    outside = next(r["seq"] for r in exchanges if r["consumer"] == POLRI
                   and r["provider"] == INTERPOL)
    inside = next(r["seq"] for r in exchanges if r["provider"] == IMIGRASI)
    size = len(exchanges)
    channel, audit = stub(fed, IMIGRASI_AUDITOR)
    async with channel:
        mine = await audit.Query(audit_pb2.AuditQuery())
        assert _parties(list(mine.records)) == [
            ("request", POLRI, IMIGRASI), ("outcome", POLRI, IMIGRASI),
            ("request", IMIGRASI, INTERPOL), ("outcome", IMIGRASI, INTERPOL)]
        same = await audit.Query(audit_pb2.AuditQuery(agency=IMIGRASI))
        assert list(same.records) == list(mine.records)
        await expect_error(_rpc(audit.Query(audit_pb2.AuditQuery(agency=POLRI))),
                           grpc.StatusCode.PERMISSION_DENIED, "AUDIT_ACCESS_DENIED")
        # A proof of another agency's record is refused, not returned empty: the sequence
        # number is no secret (checkpoints publish the size), the record is.
        await expect_error(_rpc(audit.InclusionProof(audit_pb2.InclusionProofRequest(
            seq=outside, tree_size=size))), grpc.StatusCode.PERMISSION_DENIED,
            "AUDIT_ACCESS_DENIED")
        proof = await audit.InclusionProof(audit_pb2.InclusionProofRequest(
            seq=inside, tree_size=size))
        heads = await audit.ConsistencyProof(audit_pb2.ConsistencyProofRequest(
            old_size=1, new_size=size))
    assert merkle.verify_inclusion(inside, size, merkle.leaf_hash(proof.record),
                                   list(proof.proof), heads.new_root)

    channel, audit = stub(fed, FED_AUDITOR)
    async with channel:
        everything = await audit.Query(audit_pb2.AuditQuery())
    assert _parties(list(everything.records))[:size] == [
        (r["kind"], r["consumer"], r["provider"]) for r in exchanges]

    reads = [r for r in await fed.all_records() if r["kind"] == "audit_read"]
    assert [(r["consumer"], r["service"].split("/")[1], r["decision"], r["status_code"],
             r["reason"], r["rule_id"], r["provider"]) for r in reads] == [
        (IMIGRASI_AUDITOR, "Query", "allow", "OK", "", f"auditor:{IMIGRASI}", ""),
        (IMIGRASI_AUDITOR, "Query", "allow", "OK", "", f"auditor:{IMIGRASI}", ""),
        (IMIGRASI_AUDITOR, "Query", "deny", "PERMISSION_DENIED", "AUDIT_ACCESS_DENIED",
         f"auditor:{IMIGRASI}", ""),
        (IMIGRASI_AUDITOR, "InclusionProof", "deny", "PERMISSION_DENIED",
         "AUDIT_ACCESS_DENIED", f"auditor:{IMIGRASI}", ""),
        (IMIGRASI_AUDITOR, "InclusionProof", "allow", "OK", "", f"auditor:{IMIGRASI}", ""),
        (IMIGRASI_AUDITOR, "ConsistencyProof", "allow", "OK", "", f"auditor:{IMIGRASI}", ""),
        (FED_AUDITOR, "Query", "allow", "OK", "", "federation-auditor", "")]
    # What was asked is on record as a digest, so a read can be matched to its request.
    assert reads[2]["request_digest"] == hashlib.sha256(audit_pb2.AuditQuery(
        agency=POLRI).SerializeToString(deterministic=True)).hexdigest()
    assert all(r["latency_ms"] is not None for r in reads)


async def test_auditors_ask_about_a_person_in_clear_and_the_log_keeps_only_the_keyed_hash(
        fed: Fed) -> None:
    from broker.audit.subjects import name_dob_key

    await _three_exchanges(fed)  # Budi Santoso: asked of Imigrasi, and of Interpol (no DOB)
    async with fed.client(POLRI) as police:
        answer = await police.call(SCREEN, name_query("Budi Santoso", "1980-02-03"),
                                   purpose="criminal_investigation", legal_basis=LEGAL_BASIS)
    person = audit_pb2.NameAndBirthDate(full_name="BUDI  santoso", date_of_birth="1980-02-03")
    ask = audit_pb2.AuditQuery(name_dob=person)
    channel, audit = stub(fed, IMIGRASI_AUDITOR)
    async with channel:
        found = await audit.Query(ask)
        await expect_error(_rpc(audit.Query(audit_pb2.AuditQuery(name_dob=person,
                                                                 subject_key="ab" * 32))),
                           grpc.StatusCode.INVALID_ARGUMENT, "CONSTRAINT_VIOLATION")
        await expect_error(_rpc(audit.Query(audit_pb2.AuditQuery(limit=10_001))),
                           grpc.StatusCode.INVALID_ARGUMENT, "CONSTRAINT_VIOLATION")
        await expect_error(_rpc(audit.Query(audit_pb2.AuditQuery(subject_key="x" * 10_000))),
                           grpc.StatusCode.INVALID_ARGUMENT, "CONSTRAINT_VIOLATION")
    assert [(r["kind"], r["message_id"]) for r in map(json.loads, found.records)] == [
        ("request", answer.header.in_reply_to), ("outcome", answer.header.in_reply_to)]

    reads = [r for r in await fed.all_records() if r["kind"] == "audit_read"]
    assert [(r["status_code"], r["reason"]) for r in reads] == [
        ("OK", ""), *[("INVALID_ARGUMENT", "CONSTRAINT_VIOLATION")] * 3]
    key = name_dob_key(pki.load_log_secret(fed.pki_dir), person.full_name,
                       person.date_of_birth)
    assert reads[0]["request_digest"] == hashlib.sha256(audit_pb2.AuditQuery(
        subject_key=key).SerializeToString(deterministic=True)).hexdigest()
    assert reads[0]["subject_keys"] == [key]  # the auditor's search is on the person's record
    assert reads[2]["subject_keys"] == []
    assert reads[3]["subject_keys"] == []  # an invalid key is not stored (it is digested)


async def test_a_query_from_past_any_stored_seq_finds_nothing_and_is_audited(fed: Fed) -> None:
    channel, audit = stub(fed, FED_AUDITOR)
    async with channel:  # past a database integer (2**63 - 1) is past the log as well
        found = await audit.Query(audit_pb2.AuditQuery(from_seq=2**64 - 1))
    assert list(found.records) == []
    reads = [r for r in await fed.all_records() if r["kind"] == "audit_read"]
    assert [(r["consumer"], r["status_code"]) for r in reads] == [(FED_AUDITOR, "OK")]


async def test_a_fault_while_answering_is_internal_error_audited_and_without_its_text(
        fed: Fed, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: object) -> None:
        raise ValueError("Budi Santoso 1980-02-03")  # as if a bug quoted what it read

    monkeypatch.setattr(LogReader, "query_bytes", broken)
    channel, audit = stub(fed, FED_AUDITOR)
    async with channel:
        err = await expect_error(_rpc(audit.Query(audit_pb2.AuditQuery())),
                                 grpc.StatusCode.INTERNAL, "INTERNAL_ERROR")
    assert "Budi" not in err.message
    monkeypatch.undo()
    reads = [r for r in await fed.all_records() if r["kind"] == "audit_read"]
    assert [(r["consumer"], r["decision"], r["status_code"], r["reason"]) for r in reads] == [
        (FED_AUDITOR, "deny", "INTERNAL", "INTERNAL_ERROR")]


async def test_a_read_that_cannot_be_audited_is_refused_unavailable(
        tmp_path: Path, pki_dir: Path) -> None:
    import psycopg

    name = f"g2g-audit-read-{os.getpid()}-{id(tmp_path)}"
    for schema_dsn in pg_schema():
        dsn = f"{schema_dsn}&application_name={name}"  # so that only this store's are cut
        federation = await start_federation(tmp_path, pki_dir=pki_dir, config_path=write_config(
            tmp_path, pki_dir=pki_dir, audit_yaml=f"  backend: postgres\n  dsn: {dsn}\n"))
        try:
            with psycopg.connect(PG_BASE, autocommit=True) as admin:
                assert admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = %s", (name,)).fetchall()
            channel, audit = stub(Fed(federation), FED_AUDITOR)
            async with channel:  # the records are readable; the read's own record is not
                await expect_error(_rpc(audit.Query(audit_pb2.AuditQuery())),
                                   grpc.StatusCode.UNAVAILABLE, "AUDIT_UNAVAILABLE")
                await expect_error(_rpc(audit.Query(audit_pb2.AuditQuery(limit=10_001))),
                                   grpc.StatusCode.INVALID_ARGUMENT, "CONSTRAINT_VIOLATION")
        finally:
            await federation.stop()
