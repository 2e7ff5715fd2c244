"""The g2g agency toolkit: what an agency needs to consume or provide services.

It depends only on the protocol core (`broker.protocol`), never on the
broker's server, policy or audit modules, so an agency can run it alone.
"""

from agency_adapters.toolkit.consumer import Answer, ConsumerClient
from agency_adapters.toolkit.provider import Call, Handler, ProviderServer

__all__ = ["Answer", "Call", "ConsumerClient", "Handler", "ProviderServer"]
