"""The single mapping from `G2GError` to a gRPC status with google.rpc.ErrorInfo.

Servers (broker and provider adapters) call `abort_with` at their boundary;
clients call `error_from_rpc` to turn a received status back into the same
`G2GError` subclass, so both sides speak one vocabulary.
"""

from __future__ import annotations

from typing import NoReturn

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from g2g_sdk import errors

_BY_CODE: dict[grpc.StatusCode, type[errors.G2GError]] = {
    grpc.StatusCode.UNAUTHENTICATED: errors.AuthenticationError,
    grpc.StatusCode.INVALID_ARGUMENT: errors.EnvelopeError,
    grpc.StatusCode.FAILED_PRECONDITION: errors.FreshnessError,
    grpc.StatusCode.ALREADY_EXISTS: errors.ReplayError,
    grpc.StatusCode.NOT_FOUND: errors.UnknownServiceError,
    grpc.StatusCode.PERMISSION_DENIED: errors.PolicyDenied,
    grpc.StatusCode.RESOURCE_EXHAUSTED: errors.RateLimited,
    grpc.StatusCode.UNAVAILABLE: errors.ProviderUnavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: errors.ProviderTimeout,
}
# Reasons that identify a class more precisely than the status code alone.
_BY_REASON: dict[str, type[errors.G2GError]] = {
    "SIGNATURE_INVALID": errors.SignatureError,
    "UNKNOWN_KEY": errors.SignatureError,
    "PAYLOAD_TYPE_MISMATCH": errors.SchemaError,
    "PAYLOAD_UNDECODABLE": errors.SchemaError,
    "UNKNOWN_FIELDS": errors.SchemaError,
    "CONSTRAINT_VIOLATION": errors.SchemaError,
    "UNKNOWN_COUNTRY": errors.SchemaError,
    "ATTESTATION_INVALID": errors.AttestationError,
    "AUDIT_UNAVAILABLE": errors.AuditUnavailable,
    "PROVIDER_RESPONSE_INVALID": errors.ProviderResponseInvalid,
    "INTERNAL_ERROR": errors.InternalError,
    "EVENTS_UNAVAILABLE": errors.EventsUnavailable,
    "CALL_CANCELLED": errors.CallCancelled,
}


def to_status(error: errors.G2GError) -> status_pb2.Status:
    """The google.rpc.Status for `error`, with one ErrorInfo detail."""
    info = error_details_pb2.ErrorInfo(
        reason=error.reason, domain=errors.DOMAIN, metadata=error.metadata
    )
    detail = any_pb2.Any()
    detail.Pack(info)
    return status_pb2.Status(
        code=_code_number(error.code), message=error.message, details=[detail]
    )


async def abort_with(context: grpc.aio.ServicerContext[object, object],
                     error: errors.G2GError) -> NoReturn:
    """Abort the RPC with the status for `error` (the only place servers pick codes)."""
    await context.abort_with_status(rpc_status.to_status(to_status(error)))
    raise AssertionError("unreachable: abort_with_status raises")  # pragma: no cover


def error_from_rpc(exc: grpc.RpcError) -> errors.G2GError:
    """Rebuild the `G2GError` a peer sent, keeping its code, reason and metadata."""
    code: grpc.StatusCode = exc.code()
    message: str = exc.details() or ""
    reason, metadata = "", {}
    status = rpc_status.from_call(exc)
    if status is not None:
        for detail in status.details:
            info = error_details_pb2.ErrorInfo()
            if detail.Unpack(info) and info.domain == errors.DOMAIN:
                reason, metadata = info.reason, dict(info.metadata)
    cls = _BY_REASON.get(reason) or _BY_CODE.get(code)
    if cls is None:
        return errors.ProviderRejected(message, code=code, reason=reason or code.name,
                                       metadata=metadata)
    error = cls(message, reason=reason or None, metadata=metadata)
    error.code = code
    return error


def reason_of(exc: grpc.RpcError) -> str:
    """The ErrorInfo reason of a received status, or the code name if none."""
    return error_from_rpc(exc).reason


def _code_number(code: grpc.StatusCode) -> int:
    number: int = code.value[0]
    assert code_pb2.Code.Name(number)  # a valid google.rpc.Code
    return number
