"""gRPC mutual-TLS credentials and the authenticated peer of a call.

Both hops (agency -> broker, broker -> provider) use the federation CA and
require a client certificate; the peer's identity is the certificate's common
name, which the CA sets to the agency id.
"""

from __future__ import annotations

from typing import Any

import grpc

from g2g_sdk.errors import AuthenticationError
from g2g_sdk.pki import Identity


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


def peer_agency(context: Any) -> str:
    """The agency id of the mTLS peer (certificate CN); fail closed if absent."""
    auth = context.auth_context()
    names = auth.get("x509_common_name") or []
    if len(names) != 1:
        raise AuthenticationError("no client certificate identity on this connection",
                                  reason="NO_PEER_IDENTITY")
    return bytes(names[0]).decode("utf-8", "strict")
