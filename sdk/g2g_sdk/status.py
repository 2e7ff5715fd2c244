"""The single mapping from `G2GError` to a gRPC status with google.rpc.ErrorInfo.

Servers (broker and provider adapters) call `abort_with` at their boundary;
clients call `error_from_rpc` to turn a received status back into the same
`G2GError` subclass, so both sides speak one vocabulary.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import NoReturn

import grpc
from google.protobuf import any_pb2
from google.protobuf.message import DecodeError
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
    "OVERLOADED": errors.Overloaded,
    "DRAINING": errors.Draining,
    "CALL_DEADLINE_EXCEEDED": errors.CallDeadlineExceeded,
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


def to_status(error: errors.G2GError, domain: str | None = None) -> status_pb2.Status:
    """The google.rpc.Status for `error`, with one ErrorInfo detail, within the bounds.

    `domain` overrides the error's own: a provider sends everything in
    `errors.PROVIDER_DOMAIN` (docs/PROTOCOL.md §5.1).
    """
    info = error_details_pb2.ErrorInfo(
        reason=error.reason, domain=domain or error.domain,
        metadata=bound_metadata(error.metadata)
    )
    detail = any_pb2.Any()
    detail.Pack(info)
    return status_pb2.Status(
        code=_code_number(error.code), message=bound_message(error.message), details=[detail]
    )


async def abort_with(context: grpc.aio.ServicerContext[object, object],
                     error: errors.G2GError, domain: str | None = None) -> NoReturn:
    """Abort the RPC with the status for `error` (the only place servers pick codes)."""
    await context.abort_with_status(rpc_status.to_status(to_status(error, domain)))
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
            if detail.Unpack(info) and info.domain == errors.PROVIDER_DOMAIN:
                # A provider's own refusal, passed through by the broker (§5.1).
                return errors.ProviderRejected(message, code=code, reason=info.reason,
                                               metadata=info.metadata,
                                               domain=errors.PROVIDER_DOMAIN)
            if detail.Unpack(info) and info.domain == errors.DOMAIN:
                reason, metadata = info.reason, dict(info.metadata)
    cls = _BY_REASON.get(reason) or _BY_CODE.get(code)
    if cls is None:
        return errors.ProviderRejected(message, code=code, reason=reason or code.name,
                                       metadata=metadata)
    error = cls(message, reason=reason or None, metadata=metadata)
    error.code = code
    return error


def has_error_info(exc: grpc.RpcError) -> bool:
    """Whether a received status carries an ErrorInfo: a peer's decision, not the transport's.

    A status without one (UNAVAILABLE on a refused connection, DEADLINE_EXCEEDED
    from the caller's own clock) was made by the caller's gRPC library.
    """
    try:
        st = rpc_status.from_call(exc)
    except ValueError:  # details that contradict the status: still the peer's
        return True
    return st is not None and any(
        d.Is(error_details_pb2.ErrorInfo.DESCRIPTOR) for d in st.details)


# The codes a provider may refuse with (docs/PROTOCOL.md §5.1). DEADLINE_EXCEEDED
# and a bare UNAVAILABLE are the transport's (the forwarder handles them first);
# OK, CANCELLED, UNKNOWN and DATA_LOSS say nothing a consumer could act on.
PROVIDER_CODES = frozenset({
    grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.OUT_OF_RANGE, grpc.StatusCode.NOT_FOUND, grpc.StatusCode.ALREADY_EXISTS,
    grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED,
    grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.ABORTED,
    grpc.StatusCode.UNIMPLEMENTED, grpc.StatusCode.INTERNAL, grpc.StatusCode.UNAVAILABLE})
REASON = re.compile(r"[A-Z][A-Z0-9_]{0,62}")
# What bound_metadata can produce: 8 keys, a `_truncated` companion each, and
# `metadata_truncated`; so a toolkit-built status always passes.
PROVIDER_METADATA_ENTRIES = 2 * MAX_METADATA_ENTRIES + 1
METADATA_KEY = re.compile(f"[a-z][a-z0-9_]{{0,{MAX_KEY_BYTES + len(TRUNCATED_SUFFIX) - 1}}}")
_DETAILS_KEY = "grpc-status-details-bin"


def provider_refusal(code: grpc.StatusCode, message: str,
                     trailing: Sequence[tuple[str, str | bytes]]) -> errors.G2GError:
    """What a provider's error status means for the consumer (docs/PROTOCOL.md §5.1).

    Pure: `ProviderRejected` with the provider's code, reason and metadata in the
    provider domain; `PROVIDER_REJECTED` (broker domain) when it gave no details;
    `ProviderResponseInvalid` with a `check` when the status breaks the contract.
    Never a broker reason in the broker's own name.
    """
    try:
        info = _provider_info(code, message, trailing)
    except errors.ProviderResponseInvalid as invalid:
        return invalid
    if info is None:
        return errors.ProviderRejected(message, code=code)
    return errors.ProviderRejected(message, code=code, reason=info.reason,
                                   metadata=info.metadata, domain=errors.PROVIDER_DOMAIN)


def _provider_info(code: grpc.StatusCode, message: str,
                   trailing: Sequence[tuple[str, str | bytes]]
                   ) -> error_details_pb2.ErrorInfo | None:
    """The provider's one ErrorInfo (None if it sent no details), checked in §5.1 order."""
    if code not in PROVIDER_CODES:
        raise _malformed("code", f"a provider may not refuse with {code.name}")
    blobs = [value for key, value in trailing if key == _DETAILS_KEY]
    if not blobs:
        return None
    try:
        status = status_pb2.Status.FromString(bytes(blobs[0]))  # type: ignore[arg-type]
        infos = [error_details_pb2.ErrorInfo.FromString(d.value) for d in status.details
                 if d.Is(error_details_pb2.ErrorInfo.DESCRIPTOR)]
    except DecodeError:
        raise _malformed("details", "the provider's status details do not decode") from None
    if len(blobs) != 1 or status.code != code.value[0] or len(status.details) != 1 \
            or len(infos) != 1:
        raise _malformed("details", "a provider status carries one google.rpc.Status "
                         "with its code and exactly one ErrorInfo")
    if status.message != message:
        raise _malformed("message", "the provider's status message differs from grpc-message")
    info = infos[0]
    if info.domain != errors.PROVIDER_DOMAIN:
        raise _malformed("domain", f"a provider's ErrorInfo domain must be "
                         f"{errors.PROVIDER_DOMAIN}")
    if not REASON.fullmatch(info.reason):
        raise _malformed("reason", "the provider's reason is not UPPER_SNAKE_CASE (1-63)")
    if len(info.metadata) > PROVIDER_METADATA_ENTRIES or any(
            not METADATA_KEY.fullmatch(k) or len(v.encode("utf-8")) > MAX_VALUE_BYTES
            for k, v in info.metadata.items()):
        raise _malformed("metadata", "the provider's ErrorInfo metadata exceeds its bounds")
    return info


def _malformed(check: str, message: str) -> errors.ProviderResponseInvalid:
    return errors.ProviderResponseInvalid(message, metadata={"check": check})


def reason_of(exc: grpc.RpcError) -> str:
    """The ErrorInfo reason of a received status, or the code name if none."""
    return error_from_rpc(exc).reason


def _code_number(code: grpc.StatusCode) -> int:
    number: int = code.value[0]
    assert code_pb2.Code.Name(number)  # a valid google.rpc.Code
    return number
