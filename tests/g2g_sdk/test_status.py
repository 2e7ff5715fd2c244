"""The one mapping between G2GError and gRPC status survives a round trip over the wire."""

from __future__ import annotations

import grpc
import pytest
from g2g_sdk import errors, status
from grpc_status import rpc_status


class _FakeRpcError(grpc.RpcError):
    # A received status as grpc.aio presents it: code, details and trailing metadata.
    def __init__(self, err: errors.G2GError) -> None:
        self._status = rpc_status.to_status(status.to_status(err))

    def code(self) -> grpc.StatusCode:
        return self._status.code

    def details(self) -> str:
        return self._status.details

    def trailing_metadata(self) -> tuple[tuple[str, bytes], ...]:
        return self._status.trailing_metadata


@pytest.mark.parametrize("err", [
    errors.SignatureError("x", reason="UNKNOWN_KEY"),
    errors.SchemaError("x", metadata={"field": "a.b", "rule": "string.pattern"}),
    errors.PolicyDenied("no rule matched", metadata={"rule_id": "none"}),
    errors.RateLimited("slow down", metadata={"retry_after_seconds": "3"}),
    errors.ProviderResponseInvalid("bad", metadata={"check": "mask"}),
    errors.ReplayError("again"),
    errors.FreshnessError("old", reason="EXPIRED"),
])
def test_round_trip(err: errors.G2GError) -> None:
    back = status.error_from_rpc(_FakeRpcError(err))
    assert type(back) is type(err)
    assert (back.code, back.reason, back.metadata, back.message) == (
        err.code, err.reason, err.metadata, err.message)


def test_every_error_class_has_a_distinct_documented_code() -> None:
    classes = [c for c in vars(errors).values()
               if isinstance(c, type) and issubclass(c, errors.G2GError)]
    for cls in classes:
        assert cls.__doc__, cls
        assert isinstance(cls.code, grpc.StatusCode)


def test_metadata_lists_keep_their_first_items_and_say_how_many_there_were() -> None:
    numbers = ",".join(str(n) for n in range(1, 10_001))
    bounded = status.bound_metadata({"field": ".", "numbers": numbers})
    assert bounded == {"field": ".", "numbers": ",".join(str(n) for n in range(1, 17)),
                       "numbers_truncated": "10000"}


def test_long_values_are_cut_on_a_character_boundary() -> None:
    bounded = status.bound_metadata({"k": "é" * 200})  # 400 UTF-8 bytes
    assert bounded["k"] == "é" * 128
    assert bounded["k_truncated"] == "400"


def test_metadata_entries_and_keys_are_bounded() -> None:
    metadata = {f"k{i:02d}": "v" for i in range(20)} | {"x" * 65: "v"}
    bounded = status.bound_metadata(metadata)
    assert [k for k in bounded if k.startswith("k")] == [f"k{i:02d}" for i in range(8)]
    assert bounded["metadata_truncated"] == "13"


def test_small_metadata_and_messages_pass_unchanged() -> None:
    metadata = {"rule_id": "r1", "policy_version": "abc", "providers": "A,B"}
    assert status.bound_metadata(metadata) == metadata
    assert status.bound_message("short") == "short"


def test_the_status_message_is_bounded() -> None:
    st = status.to_status(errors.EnvelopeError("x" * 10_000))
    assert len(st.message.encode()) <= status.MAX_MESSAGE_BYTES
    assert st.message.endswith("…")


def _details(code: grpc.StatusCode, message: str, domain: str, reason: str) -> tuple[
        tuple[str, bytes], ...]:
    err = errors.ProviderRejected(message, code=code, reason=reason)
    return (("grpc-status-details-bin", status.to_status(err, domain).SerializeToString()),)


@pytest.mark.parametrize(("code", "trailing", "expected"), [
    (grpc.StatusCode.NOT_FOUND, (), ("NOT_FOUND", errors.DOMAIN, "PROVIDER_REJECTED")),
    (grpc.StatusCode.NOT_FOUND, _details(grpc.StatusCode.NOT_FOUND, "m", errors.PROVIDER_DOMAIN,
                                         "GONE"),
     ("NOT_FOUND", errors.PROVIDER_DOMAIN, "GONE")),
    (grpc.StatusCode.NOT_FOUND, _details(grpc.StatusCode.NOT_FOUND, "m", errors.DOMAIN,
                                         "UNKNOWN_SERVICE"),
     ("INTERNAL", errors.DOMAIN, "PROVIDER_RESPONSE_INVALID")),
    (grpc.StatusCode.UNKNOWN, (), ("INTERNAL", errors.DOMAIN, "PROVIDER_RESPONSE_INVALID")),
])
def test_provider_refusal_is_pure_and_never_a_broker_reason(
        code: grpc.StatusCode, trailing: tuple[tuple[str, bytes], ...],
        expected: tuple[str, str, str]) -> None:
    error = status.provider_refusal(code, "m", trailing)
    assert (error.code.name, error.domain, error.reason) == expected
