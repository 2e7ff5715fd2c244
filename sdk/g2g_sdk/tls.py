"""gRPC mutual-TLS credentials and the authenticated identity of a peer.

A federation certificate names its holder in two subject alternative names
(docs/PKI.md §Identity in certificates): the URI `urn:g2g:agency:<id>` (or
`urn:g2g:broker:<id>`) is the identity; the DNS name
`<id lower-cased, "/" → ".">.agency.g2g.invalid` (or `.broker.g2g.invalid`)
is the same identity in the only form gRPC clients check natively. The CN is
for humans and is never read. A certificate without exactly one g2g identity,
or whose two forms disagree, has no identity: every check fails closed.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import grpc
from cryptography import x509

from g2g_sdk.errors import AuthenticationError, StartupError

if TYPE_CHECKING:  # pki issues these names, so it imports this module
    from g2g_sdk.pki import Identity

Kind = Literal["agency", "broker"]
URI_PREFIX = "urn:g2g:"
# How long the identity probe after a refused connection may take (docs/PKI.md).
PROBE_SECONDS = 2.0
NAME_SUFFIX = "g2g.invalid"


@dataclass(frozen=True)
class PartyIdentity:
    """Who a certificate names: an agency or a broker, and its registry id."""

    kind: Kind
    id: str


def identity_uri(kind: Kind, party_id: str) -> str:
    """The SAN URI naming `party_id`, e.g. `urn:g2g:agency:ID/GOV/POLRI`."""
    return f"{URI_PREFIX}{kind}:{party_id}"


def identity_dns_name(kind: Kind, party_id: str) -> str:
    """The SAN DNS name naming `party_id`, e.g. `id.gov.polri.agency.g2g.invalid`.

    Registry ids are upper-case letters, digits and `-` in `/`-separated
    segments (registry.AGENCY_ID), so lower-casing and `/` → `.` is one-to-one.
    """
    return ".".join([*party_id.lower().split("/"), kind, NAME_SUFFIX])


def certificate_identity(cert: x509.Certificate) -> PartyIdentity:
    """The one g2g identity a certificate carries; `AuthenticationError` if none or ambiguous."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        raise _no_identity("the certificate has no subject alternative names") from None
    uris = [u for u in san.get_values_for_type(x509.UniformResourceIdentifier)
            if u.startswith(URI_PREFIX)]
    if len(uris) != 1:
        raise _no_identity(f"the certificate carries {len(uris)} g2g identities, not one")
    kind, _, party_id = uris[0][len(URI_PREFIX):].partition(":")
    if kind not in ("agency", "broker") or not party_id:
        raise _no_identity("the certificate's g2g identity is malformed")
    identity = PartyIdentity(kind, party_id)  # type: ignore[arg-type]
    names = [n.lower() for n in san.get_values_for_type(x509.DNSName)
             if n.lower().endswith("." + NAME_SUFFIX)]
    if names != [identity_dns_name(identity.kind, identity.id)]:
        raise _no_identity("the certificate's g2g DNS name does not match its g2g URI")
    return identity


def _no_identity(message: str) -> AuthenticationError:
    return AuthenticationError(message, reason="NO_PEER_IDENTITY")


def server_credentials(identity: Identity) -> grpc.ServerCredentials:
    """Server side: present our certificate, require and verify the caller's."""
    return grpc.ssl_server_credentials(
        [(identity.tls_key_pem, identity.tls_cert_pem)],
        root_certificates=identity.ca_pem, require_client_auth=True)


def channel_credentials(identity: Identity) -> grpc.ChannelCredentials:
    """Client side: trust only the federation CA, present our certificate."""
    return grpc.ssl_channel_credentials(
        root_certificates=identity.ca_pem, private_key=identity.tls_key_pem,
        certificate_chain=identity.tls_cert_pem)


def pinned_channel_options(kind: Kind, party_id: str) -> list[tuple[str, str]]:
    """Channel options that make gRPC accept only a server certified as `party_id`.

    gRPC checks the server certificate's DNS names against this name during
    every TLS handshake, reconnects included, and closes the connection before
    any HTTP/2 byte (so before any request byte) when it is absent.
    """
    return [("grpc.ssl_target_name_override", identity_dns_name(kind, party_id))]


def peer_identity(context: Any) -> PartyIdentity:
    """The g2g identity of the mTLS peer of a server-side call; fails closed."""
    return pem_identity(peer_pem(context))


def peer_pem(context: Any) -> bytes | None:
    """The PEM client certificate of a server-side gRPC call, if exactly one."""
    pems = context.auth_context().get("x509_pem_cert") or []
    return bytes(pems[0]) if len(pems) == 1 else None


def pem_identity(pem: bytes | None) -> PartyIdentity:
    """The g2g identity of a peer's PEM certificate (`peer_pem`); fails closed."""
    if pem is None:
        raise _no_identity("no client certificate on this connection")
    return _pem_identity(pem)


@functools.lru_cache(maxsize=1024)
def _pem_identity(pem: bytes) -> PartyIdentity:
    # A pure function of the certificate bytes, asked on every call (~14 µs to
    # parse); a failure raises and so is never cached.
    return certificate_identity(x509.load_pem_x509_certificate(pem))


def peer_agency(context: Any) -> str:
    """The agency id of the mTLS peer; a broker or identity-less certificate fails closed."""
    identity = peer_identity(context)
    if identity.kind != "agency":
        raise _no_identity("the peer's certificate does not name an agency")
    return identity.id


def probe_context(ca_pem: bytes) -> ssl.SSLContext:
    """A TLS 1.3 client context that verifies the chain against `ca_pem` but not the
    name: the caller compares the certificate's g2g identity itself."""
    context = ssl.create_default_context(cadata=ca_pem.decode("ascii"))
    context.check_hostname = False
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    return context


async def server_certificate(endpoint: str, context: ssl.SSLContext, timeout: float) -> bytes:
    """The DER certificate the TLS server at `endpoint` (host:port) presents.

    One handshake, then close: no application byte is sent. Raises OSError
    (ssl.SSLError included), ValueError or TimeoutError when there is none.
    """
    host, _, port = endpoint.rpartition(":")
    async with asyncio.timeout(timeout):
        _, writer = await asyncio.open_connection(host.strip("[]"), int(port), ssl=context)
        try:
            der: bytes = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        finally:
            writer.close()
    return der


async def presents_other_identity(endpoint: str, ca_pem: bytes, expected: PartyIdentity,
                                  timeout: float = PROBE_SECONDS) -> bool:
    """True if a server certified by the federation CA at `endpoint` is not `expected`.

    Diagnosis only, after gRPC refused a connection (its own name check is what
    enforces): one TLS 1.3 handshake that verifies the chain, presents no client
    certificate and sends no application byte. False when no such server
    answers, so an unreachable endpoint stays "unavailable".
    """
    try:
        der = await server_certificate(endpoint, probe_context(ca_pem), timeout)
    except (OSError, ValueError, TimeoutError):  # ssl.SSLError is an OSError
        return False
    try:
        return certificate_identity(x509.load_der_x509_certificate(der)) != expected
    except AuthenticationError:
        return True  # a federation certificate that names nobody


def bind(server: grpc.aio.Server, listen: str, credentials: grpc.ServerCredentials) -> int:
    """Bind `listen` with `credentials`; the bound port, or `StartupError` / BIND_FAILED.

    Servers are built with `grpc.so_reuseport` 0 (except a `--workers` broker), so
    a port some live process holds is refused here rather than shared with it.
    """
    try:
        port = int(server.add_secure_port(listen, credentials))
    except RuntimeError:  # grpcio raises on a failed bind (older versions returned 0)
        port = 0
    if port == 0:
        raise StartupError(f"could not bind {listen}", reason="BIND_FAILED")
    return port
