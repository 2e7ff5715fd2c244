"""The server boundary, written once: a grpc.aio interceptor every g2g server installs.

For each unary call it establishes the caller's identity (the g2g identity of
the verified client certificate, read by handlers through `caller()`), turns
a raised `G2GError` into its status + ErrorInfo (g2g_sdk.status, the one
mapping), answers an unexpected exception with INTERNAL / INTERNAL_ERROR
after logging only its type and place (its text may quote request data), and
reports every finished call to an optional observer (metrics) and to a
server span continuing the caller's trace (g2g_sdk.tracing). Handlers
therefore raise; they never pick a status code or call `context.abort`.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import grpc
import structlog

from g2g_sdk import logs, status, tls, tracing
from g2g_sdk.errors import AuthenticationError, G2GError, InternalError

_NO_CALL = AuthenticationError("no call is being handled", reason="NO_PEER_IDENTITY")

_CALLER: contextvars.ContextVar[tls.PartyIdentity | AuthenticationError] = (
    contextvars.ContextVar("g2g_caller"))
_CALLER_PEM: contextvars.ContextVar[bytes | None] = contextvars.ContextVar("g2g_caller_pem")


def caller() -> tls.PartyIdentity:
    """The g2g identity of the verified client certificate of the call being handled.

    Raises `AuthenticationError` (NO_PEER_IDENTITY) when the certificate names no
    party: every check that needs an identity fails closed.
    """
    found = _CALLER.get(_NO_CALL)
    if isinstance(found, AuthenticationError):
        raise found
    return found


def agency() -> str:
    """The caller's agency id; a broker or identity-less certificate fails closed."""
    identity = caller()
    if identity.kind != "agency":
        raise AuthenticationError("the peer's certificate does not name an agency",
                                  reason="NO_PEER_IDENTITY")
    return identity.id


def caller_agency() -> str | None:
    """The caller's agency id, or None when its certificate names no agency."""
    found = _CALLER.get(_NO_CALL)
    return found.id if isinstance(found, tls.PartyIdentity) and found.kind == "agency" else None


def caller_certificate() -> bytes | None:
    """The PEM client certificate of the call being handled (None: none, or several).

    Read with the identity from one look at the TLS session (`auth_context()` builds
    a new dict of every peer property each time it is asked).
    """
    return _CALLER_PEM.get(None)


def _identity(pem: bytes | None) -> tls.PartyIdentity | AuthenticationError:
    try:
        return tls.pem_identity(pem)
    except AuthenticationError as exc:
        return exc


class CallObserver(Protocol):
    """Told about every finished unary call (e.g. to count it in metrics)."""

    def __call__(self, method: str, code: grpc.StatusCode, reason: str,
                 seconds: float) -> None: ...


class Boundary(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Identity, error mapping, fault logging and call accounting for every unary method."""

    def __init__(self, *, party: str, fault_event: str = "rpc_fault",
                 log_refusals: bool = False, observe: CallObserver | None = None,
                 domain: str | None = None,
                 refine: Callable[[G2GError], G2GError] | None = None) -> None:
        self._party = party  # "broker" or "provider": the logger and the fault message
        self._log = structlog.get_logger(f"g2g.{party}")
        self._fault_event = fault_event
        self._log_refusals = log_refusals
        self._observe = observe
        self._domain = domain  # ErrorInfo domain of the statuses sent (None: the default)
        self._refine = refine  # narrows a refusal to what this party may send
        # The guarded handler of each method's handler, made once (grpc asks every call).
        self._guarded: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    async def intercept_service(
            self, continuation: Callable[[Any], Awaitable[grpc.RpcMethodHandler | None]],
            details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        handler = await continuation(details)
        if handler is None or handler.unary_unary is None:
            return handler  # streaming methods (health Watch, reflection) pass untouched
        method: str = details.method
        known = self._guarded.get(method)
        if known is not None and known[0] is handler:
            return known[1]
        inner = handler.unary_unary

        async def guarded(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            metadata = context.invocation_metadata()
            if not tracing.spans_server(metadata):
                # No span would record or pass anything on: skip the span's context
                # manager (a generator, entered and left on every call).
                return await self._answer(inner, method, request, context, None)
            with tracing.server_span(method, metadata) as span:
                return await self._answer(inner, method, request, context, span)

        wrapped = grpc.unary_unary_rpc_method_handler(
            guarded, request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer)
        if len(self._guarded) < 1024:  # method names come from the server's own handlers
            self._guarded[method] = (handler, wrapped)
        return wrapped

    async def _answer(self, inner: Callable[..., Awaitable[Any]], method: str, request: Any,
                      context: grpc.aio.ServicerContext[Any, Any], span: Any) -> Any:
        pem = tls.peer_pem(context)
        token, pem_token = _CALLER.set(_identity(pem)), _CALLER_PEM.set(pem)
        started = time.perf_counter()
        code, reason = grpc.StatusCode.OK, ""
        try:
            return await inner(request, context)
        except asyncio.CancelledError:
            code = grpc.StatusCode.CANCELLED
            raise
        except grpc.aio.AbortError:
            code, reason = context.code() or grpc.StatusCode.UNKNOWN, ""
            raise
        except G2GError as raised:
            exc = self._refine(raised) if self._refine is not None else raised
            code, reason = exc.code, exc.reason
            if self._log_refusals:
                self._log.info("rpc_refused", method=method, code=code.name, reason=reason)
            await status.abort_with(context, exc, self._domain)
        except Exception as exc:
            self._log.error(self._fault_event, method=method, **logs.fault_fields(exc))
            fault = InternalError(f"the {self._party} failed to process this request")
            code, reason = fault.code, fault.reason
            await status.abort_with(context, fault, self._domain)
        finally:
            _CALLER.reset(token)
            _CALLER_PEM.reset(pem_token)
            tracing.finish(span, code.name, reason)
            if self._observe is not None:
                self._observe(method, code, reason, time.perf_counter() - started)
