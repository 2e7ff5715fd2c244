"""g2g SDK: the protocol core and the agency toolkit.

What an agency needs to consume or provide services through a g2g broker:
envelopes and DSSE signatures (`envelope`, `dsse`, `keys`), the registry and
catalog (`registry`, `catalog`), strict schemas and field masks (`schema`,
`fieldmask`), errors and their gRPC statuses (`errors`, `status`), mutual TLS
(`tls`), the wire messages of every service (`messages`), and the two
clients of the toolkit, `ConsumerClient` and `ProviderServer` (docs/SDK.md).
It imports nothing from the broker or any adapter.

The toolkit classes are imported lazily so that `import g2g_sdk.envelope`
stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from g2g_sdk.consumer import Answer, ConsumerClient
    from g2g_sdk.provider import Call, Handler, ProviderServer

__all__ = ["Answer", "Call", "ConsumerClient", "Handler", "ProviderServer"]

_LAZY = {"Answer": "consumer", "ConsumerClient": "consumer",
         "Call": "provider", "Handler": "provider", "ProviderServer": "provider"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'g2g_sdk' has no attribute {name!r}")
    import importlib
    return getattr(importlib.import_module(f"g2g_sdk.{module}"), name)
