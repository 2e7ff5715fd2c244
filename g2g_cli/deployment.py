"""Which deployment a command acts on, and the options every command names it by.

A deployment is one broker config file (``broker.yaml``) and what its relative
paths name: registry, PKI, policies, audit log, adapter data, logs (`g2g init`
writes one). A command uses `--config` when given, else ``$G2G_CONFIG``, else
``./broker.yaml`` (inside a `g2g init` directory), else ``./config/broker.yaml``
(the source checkout). Nothing is ever looked up relative to the installed code.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from g2g_sdk.errors import ConfigError

if TYPE_CHECKING:
    from g2g_sdk.pki import Identity
    from g2g_sdk.registry import Registry

    from broker.config import BrokerConfig

ENV = "G2G_CONFIG"
CANDIDATES = (Path("broker.yaml"), Path("config") / "broker.yaml")
NOT_A_DEPLOYMENT = ("not inside a g2g deployment: no broker.yaml here or in ./config; "
                    f"pass --config DIR/broker.yaml or set {ENV} "
                    "(`g2g init DIR` creates a deployment)")


def find_config(given: Path | None) -> Path:
    """The deployment's broker config: `given`, $G2G_CONFIG, ./broker.yaml or ./config/."""
    if given is None and os.environ.get(ENV):
        given = Path(os.environ[ENV])
    if given is not None:
        if not given.is_file():
            raise ConfigError(f"no such file: {given} (the deployment's broker config; "
                              "`g2g init DIR` creates DIR/broker.yaml)")
        return given
    for candidate in CANDIDATES:
        if candidate.is_file():
            return candidate
    raise ConfigError(NOT_A_DEPLOYMENT)


def load(given: Path | None) -> BrokerConfig:
    """The parsed broker config of the deployment (`find_config`)."""
    from broker.config import load_config

    return load_config(find_config(given))


def add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, metavar="FILE",
                        help=f"the deployment's broker config (default: ${ENV}, "
                             "./broker.yaml, or ./config/broker.yaml)")


def add_world_options(parser: argparse.ArgumentParser) -> None:
    """--config, --registry, --pki-dir: where the registry and the keys are."""
    add_config_option(parser)
    parser.add_argument("--registry", type=Path, metavar="FILE",
                        help="the federation registry (default: the deployment's `registry`)")
    parser.add_argument("--pki-dir", type=Path, metavar="DIR",
                        help="keys and certificates (default: the deployment's `pki_dir`)")


@dataclass(frozen=True)
class World:
    """The registry file and PKI directory a command uses."""

    registry: Path
    pki_dir: Path


def identity(where: World, registry: Registry, agency_id: str) -> Identity:
    """`agency_id`'s keys, after checking it is registered (the usual `--as` mistake)."""
    from g2g_sdk import pki

    if registry.agency(agency_id) is None:
        known = ", ".join(sorted(registry.agencies))
        raise ConfigError(f"--as {agency_id}: no such agency in the registry {where.registry} "
                          f"(registered: {known})")
    return pki.load_identity(where.pki_dir, agency_id)


def world(args: argparse.Namespace) -> World:
    """`--registry`/`--pki-dir` as given, the rest from the deployment's config."""
    if args.registry is not None and args.pki_dir is not None:
        return World(args.registry, args.pki_dir)
    config = load(args.config)
    return World(args.registry or config.registry, args.pki_dir or config.pki_dir)
