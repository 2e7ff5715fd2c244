"""The one exception hierarchy of g2g.

Every failure the protocol, broker or adapters can report is a `G2GError`
subclass that names its gRPC status code and a machine-readable reason.
`g2g_sdk.status` is the only place that turns them into gRPC
statuses; nothing else calls `context.abort` with a hand-picked code.
Messages never contain payload contents or personal data.
"""

from __future__ import annotations

from collections.abc import Mapping

import grpc

DOMAIN = "g2g.broker"
"""ErrorInfo domain of the broker's own reasons (docs/PROTOCOL.md §3)."""
PROVIDER_DOMAIN = "g2g.provider"
"""ErrorInfo domain of a provider's reasons (docs/PROTOCOL.md §5.1); never the broker's."""


class G2GError(Exception):
    """Root of all g2g errors; carries a gRPC code and an ErrorInfo reason."""

    code: grpc.StatusCode = grpc.StatusCode.INTERNAL
    default_reason: str = "INTERNAL"
    # Whose vocabulary `reason` is in: the broker's, unless a provider said it.
    domain: str = DOMAIN
    # Set by envelope.open_envelope on a refusal raised after the signer's signature
    # over the raw header bytes verified: the header's claims are then the signer's
    # own (signed, though refused), which the audit record must not call unverified.
    signature_verified: bool = False

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason or self.default_reason
        self.metadata: dict[str, str] = dict(metadata or {})

    def diagnostics(self) -> str:
        """One line for operators: reason, message and metadata."""
        extra = " ".join(f"{k}={v}" for k, v in sorted(self.metadata.items()))
        return f"{self.reason}: {self.message}" + (f" ({extra})" if extra else "")


class AuthenticationError(G2GError):
    """The caller's TLS identity is missing or does not match the sender (UNAUTHENTICATED)."""

    code = grpc.StatusCode.UNAUTHENTICATED
    default_reason = "SENDER_MISMATCH"


class SignatureError(G2GError):
    """No valid signature by a key registered for the signer (UNAUTHENTICATED)."""

    code = grpc.StatusCode.UNAUTHENTICATED
    default_reason = "SIGNATURE_INVALID"


class EnvelopeError(G2GError):
    """The envelope is oversized, unparseable or inconsistent (INVALID_ARGUMENT)."""

    code = grpc.StatusCode.INVALID_ARGUMENT
    default_reason = "ENVELOPE_MALFORMED"


class FreshnessError(G2GError):
    """The message is expired, from the future, or lives too long (FAILED_PRECONDITION)."""

    code = grpc.StatusCode.FAILED_PRECONDITION
    default_reason = "EXPIRED"


class ReplayError(G2GError):
    """The message_id was already seen within the freshness window (ALREADY_EXISTS)."""

    code = grpc.StatusCode.ALREADY_EXISTS
    default_reason = "REPLAYED"


class UnknownServiceError(G2GError):
    """The service does not exist or is not offered by the recipient (NOT_FOUND)."""

    code = grpc.StatusCode.NOT_FOUND
    default_reason = "UNKNOWN_SERVICE"


class SchemaError(G2GError):
    """The payload is not exactly the declared type or breaks a constraint (INVALID_ARGUMENT)."""

    code = grpc.StatusCode.INVALID_ARGUMENT
    default_reason = "CONSTRAINT_VIOLATION"


class PolicyDenied(G2GError):
    """The sharing policy does not allow this exchange (PERMISSION_DENIED)."""

    code = grpc.StatusCode.PERMISSION_DENIED
    default_reason = "POLICY_DENIED"


class AccessDenied(G2GError):
    """The caller's registry role does not allow this read (PERMISSION_DENIED)."""

    code = grpc.StatusCode.PERMISSION_DENIED
    default_reason = "AUDIT_ACCESS_DENIED"


class RateLimited(G2GError):
    """A policy rate limit or quota is exhausted (RESOURCE_EXHAUSTED, with a retry hint)."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    default_reason = "RATE_LIMITED"


class Overloaded(G2GError):
    """The broker is at its bound of concurrent calls, in all or for this consumer
    (RESOURCE_EXHAUSTED, OVERLOADED; metadata `scope` is "broker" or "consumer")."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    default_reason = "OVERLOADED"


class Draining(G2GError):
    """The broker is draining (shutting down or in maintenance): retry on another (UNAVAILABLE)."""

    code = grpc.StatusCode.UNAVAILABLE
    default_reason = "DRAINING"


class ProviderUnavailable(G2GError):
    """The provider adapter could not be reached (UNAVAILABLE)."""

    code = grpc.StatusCode.UNAVAILABLE
    default_reason = "PROVIDER_UNAVAILABLE"


class IdentityMismatch(G2GError):
    """The server at an endpoint is certified as someone else; nothing was sent (UNAVAILABLE)."""

    code = grpc.StatusCode.UNAVAILABLE
    default_reason = "PROVIDER_IDENTITY_MISMATCH"


class BrokerUnavailable(G2GError):
    """Client side only: the broker could not be reached at all (UNAVAILABLE).

    Connection refused, TLS handshake refused, broker down: a status with no
    ErrorInfo, made by the caller's own gRPC library. Never sent by the broker.
    """

    code = grpc.StatusCode.UNAVAILABLE
    default_reason = "BROKER_UNAVAILABLE"


class ProviderTimeout(G2GError):
    """The provider adapter did not answer within the deadline (DEADLINE_EXCEEDED)."""

    code = grpc.StatusCode.DEADLINE_EXCEEDED
    default_reason = "PROVIDER_TIMEOUT"


class ProviderResponseInvalid(G2GError):
    """The provider's answer failed verification; it is never passed on (INTERNAL)."""

    code = grpc.StatusCode.INTERNAL
    default_reason = "PROVIDER_RESPONSE_INVALID"


class ProviderRejected(G2GError):
    """A provider's refusal, its code passed through (docs/PROTOCOL.md §5.1).

    Its own reason travels in the provider domain; a refusal without one is
    `PROVIDER_REJECTED` in the broker's domain. An adapter raises it with its
    own code and reason; the toolkit sends every status in the provider domain.
    """

    default_reason = "PROVIDER_REJECTED"

    def __init__(
        self,
        message: str,
        *,
        code: grpc.StatusCode,
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
        domain: str = DOMAIN,
    ) -> None:
        super().__init__(message, reason=reason, metadata=metadata)
        self.code = code
        self.domain = domain


class AttestationError(G2GError):
    """A provider got a missing, forged or mismatched broker attestation (PERMISSION_DENIED)."""

    code = grpc.StatusCode.PERMISSION_DENIED
    default_reason = "ATTESTATION_INVALID"


class AuditUnavailable(G2GError):
    """The audit record could not be made durable, so the exchange stops (UNAVAILABLE)."""

    code = grpc.StatusCode.UNAVAILABLE
    default_reason = "AUDIT_UNAVAILABLE"


class EventsUnavailable(G2GError):
    """The event store (NATS JetStream) cannot take or serve events now (UNAVAILABLE)."""

    code = grpc.StatusCode.UNAVAILABLE
    default_reason = "EVENTS_UNAVAILABLE"


class DeliveryInvalid(G2GError):
    """A delivered event failed the subscriber's checks; it never reaches the application."""

    code = grpc.StatusCode.DATA_LOSS
    default_reason = "DELIVERY_INVALID"


class AuditProofError(G2GError):
    """An audit checkpoint note, log key or bundle is malformed or does not verify
    (INVALID_ARGUMENT); raised offline by verifiers, never by the exchange path."""

    code = grpc.StatusCode.INVALID_ARGUMENT
    default_reason = "AUDIT_PROOF_INVALID"


class InternalError(G2GError):
    """A fault inside g2g itself, not in the request (INTERNAL); logged by type, never data."""

    code = grpc.StatusCode.INTERNAL
    default_reason = "INTERNAL_ERROR"


class CallCancelled(G2GError):
    """The caller cancelled, or its deadline passed, mid-exchange (CANCELLED); audit only."""

    code = grpc.StatusCode.CANCELLED
    default_reason = "CALL_CANCELLED"


class CallDeadlineExceeded(G2GError):
    """The caller's deadline passed, or left too little time to answer (DEADLINE_EXCEEDED)."""

    code = grpc.StatusCode.DEADLINE_EXCEEDED
    default_reason = "CALL_DEADLINE_EXCEEDED"


class StartupError(G2GError):
    """The broker could not start: a port not bound, a worker that failed (UNAVAILABLE)."""

    code = grpc.StatusCode.UNAVAILABLE
    default_reason = "STARTUP_FAILED"


class ConfigError(G2GError):
    """A configuration file is invalid; the message names file, line and field."""

    code = grpc.StatusCode.FAILED_PRECONDITION
    default_reason = "CONFIG_INVALID"

    def __init__(
        self,
        message: str,
        *,
        file: str = "",
        line: int | None = None,
        column: int | None = None,
        field: str = "",
    ) -> None:
        where = file + (f":{line}" if line is not None else "") + (
            f":{column}" if column is not None and line is not None else ""
        )
        text = f"{where}: " if where else ""
        text += f"{field}: " if field else ""
        super().__init__(text + message)
        self.file = file
        self.line = line
        self.column = column
        self.field = field
