"""The wire messages of g2g's services, for agencies' code (generated from proto/ by `make gen`).

Import the message classes from here rather than from the generated modules::

    from g2g_sdk.messages import immigration
    request = immigration.ScreenRequest(by_name=immigration.NameQuery(full_name="Budi Santoso"))

Each name is the generated ``*_pb2`` module of one protobuf package.
"""

from __future__ import annotations

from g2g_sdk._gen.g2g.consular.v1 import consular_pb2 as consular
from g2g_sdk._gen.g2g.immigration.v1 import watchlist_pb2 as immigration
from g2g_sdk._gen.g2g.interpol.v1 import interpol_pb2 as interpol
from g2g_sdk._gen.g2g.v1 import envelope_pb2 as envelope

__all__ = ["consular", "envelope", "immigration", "interpol"]
