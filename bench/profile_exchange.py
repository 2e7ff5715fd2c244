"""Profile the whole exchange path in one process: `python bench/profile_exchange.py [N]`.

Consumer, broker and immigration adapter run in-process (real mTLS sockets),
so cProfile sees every party's work; prints the top functions by own time.
"""

from __future__ import annotations

import asyncio
import cProfile
import pstats
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from g2g_sdk import pki
from g2g_sdk._gen.g2g.immigration.v1 import watchlist_pb2 as wl

from bench.__main__ import REGISTRY, raised_policies
from g2g_harness.federation import start_federation, write_config


async def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        pki.init_pki(REGISTRY, work / "pki")
        config = write_config(work, pki_dir=work / "pki",
                              policies=raised_policies(work / "policies"))
        fed = await start_federation(work, pki_dir=work / "pki", config_path=config)
        client = fed.client("ID/GOV/POLRI")
        request = wl.ScreenRequest(by_name=wl.NameQuery(full_name="Budi Santoso",
                                                        date_of_birth="1975"))

        async def call() -> None:
            await client.call("g2g.immigration.v1.Watchlist/Screen", request,
                              purpose="criminal_investigation", legal_basis="UU 6/2011 Pasal 91")

        for _ in range(50):
            await call()
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(n):
            await call()
        profile.disable()
        await fed.stop()
    pstats.Stats(profile).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 400))
