"""The single mapping from `G2GError` to a gRPC status with google.rpc.ErrorInfo.

Servers (broker and provider adapters) call `abort_with` at their boundary;
clients call `error_from_rpc` to turn a received status back into the same
`G2GError` subclass, so both sides speak one vocabulary.
"""

from __future__ import annotations

from collections.abc import Mapping
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
    "PROVIDER_IDENTITY_MISMATCH": errors.IdentityMismatch,
    "BROKER_IDENTITY_MISMATCH": errors.IdentityMismatch,
}


# Bounds on what one error status carries (docs/PROTOCOL.md §3.2), so a hostile
# input can never make a status larger than a default client reads (8 KiB of
# trailers): the message and every metadata value are cut here, in one place.
MAX_MESSAGE_BYTES = 512
MAX_METADATA_ENTRIES = 8
MAX_KEY_BYTES = 64
MAX_VALUE_BYTES = 256
MAX_LIST_ITEMS = 16
TRUNCATED_SUFFIX = "_truncated"


def _cut_utf8(text: str, limit: int) -> str:
    """`text` cut to at most `limit` UTF-8 bytes, never inside a character."""
    return text.encode("utf-8")[:limit].decode("utf-8", errors="ignore")


def bound_message(message: str) -> str:
    """The status message, at most MAX_MESSAGE_BYTES (cut ends with '…')."""
    if len(message.encode("utf-8")) <= MAX_MESSAGE_BYTES:
        return message
    return _cut_utf8(message, MAX_MESSAGE_BYTES - 3) + "…"


def bound_metadata(metadata: Mapping[str, str]) -> dict[str, str]:
    """ErrorInfo metadata within the documented bounds.

    At most MAX_METADATA_ENTRIES keys (in sorted order; keys over MAX_KEY_BYTES
    are dropped; `metadata_truncated` counts what was dropped). A comma-separated
    value keeps its first MAX_LIST_ITEMS items, any value its first
    MAX_VALUE_BYTES bytes; a cut value gets `<key>_truncated` = its original size
    (items for a list, else UTF-8 bytes).
    """
    keys = sorted(k for k in metadata if 0 < len(k.encode("utf-8")) <= MAX_KEY_BYTES)
    kept, dropped = keys[:MAX_METADATA_ENTRIES], len(metadata) - min(len(keys),
                                                                     MAX_METADATA_ENTRIES)
    out: dict[str, str] = {}
    for key in kept:
        value = metadata[key]
        items = value.split(",")
        size = ""
        if len(items) > MAX_LIST_ITEMS:
            value, size = ",".join(items[:MAX_LIST_ITEMS]), str(len(items))
        raw = len(value.encode("utf-8"))
        if raw > MAX_VALUE_BYTES:
            value, size = _cut_utf8(value, MAX_VALUE_BYTES), size or str(raw)
        out[key] = value
        if size:
            out[key + TRUNCATED_SUFFIX] = size
    if dropped:
        out["metadata_truncated"] = str(dropped)
    return out


def to_status(error: errors.G2GError) -> status_pb2.Status:
    """The google.rpc.Status for `error`, with one ErrorInfo detail, within the bounds."""
    info = error_details_pb2.ErrorInfo(
        reason=error.reason, domain=errors.DOMAIN, metadata=bound_metadata(error.metadata)
    )
    detail = any_pb2.Any()
    detail.Pack(info)
    return status_pb2.Status(
        code=_code_number(error.code), message=bound_message(error.message), details=[detail]
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
