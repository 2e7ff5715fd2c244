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
