"""CPU per exchange of the provider toolkit and the consumer client: `python -m bench.sdk_cpu`.

The companion of `bench.broker_cpu` for the other two processes of an exchange.
Starts the adapters (immigration and Interpol in one process, as `make bench`
does) and a broker (SQLite audit, FULL) as their own processes, drives each
service from the load generator (which signs every request and verifies every
answer with `ConsumerClient`), and prints per exchange: the adapter process's
CPU (from /proc, every thread) and per thread, the load generator's CPU, and
its mean signing and verification wall time. Other modes:

- `--callgrind adapter|client`: that process under valgrind's callgrind;
  instructions per exchange over the measured calls (warm-up excluded).
  Repeatable on a loaded machine, where CPU time is not. `--keep DIR` keeps
  the dumps for `callgrind_annotate`.
- `--perf FILE`: `perf record` of the adapter process during the measured calls.
- `--cprofile`: the adapters in this process (as `g2g adapter serve` starts them)
  under cProfile during the measured calls; prints the top functions.
- `--micro`: instructions per call of the client's `build` and `verify` and of
  `ProviderServer.handle`, each under callgrind (the difference of two runs of
  100 and 600 calls, so start-up cancels out): repeatable to a fraction of a
  percent, for A/B of changes below the noise of CPU time.
- `--steps`: CPU µs of the toolkit's pure steps on real envelopes, in this
  process: the client's `build` (sign) and `verify`, and `ProviderServer.handle`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.__main__ import (
    ADAPTERS,
    PY,
    REGISTRY,
    REPO,
    SERVICES,
    _cpu_seconds,
    _federation_files,
    _spawn,
    load_spec,
    varied_requests,
)
from bench.broker_cpu import (
    _callgrind_total,
    _cpu_us,
    _run_load,
    _threads,
    dump_total,
    profiled,
)


def _callgrind(out: Path) -> list[str]:
    return ["valgrind", "--tool=callgrind", "--instr-atstart=no",
            f"--callgrind-out-file={out}.%p"]


def _control(pid: int, *command: str) -> None:
    subprocess.run(["callgrind_control", *command, str(pid)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _measure(args: argparse.Namespace, work: Path, out: Path) -> None:
    from g2g_sdk import pki

    pki.init_pki(REGISTRY, work / "pki")
    adapter_argv = [*(_callgrind(out) if args.callgrind == "adapter" else []), PY, "-m",
                    "g2g_cli.main", "adapter", "serve", *ADAPTERS, "--registry", str(REGISTRY),
                    "--pki-dir", str(work / "pki"), "--listen", "127.0.0.1:0",
                    "--log-level", "INFO"]
    with _spawn("adapters", adapter_argv) as adapters:
        endpoints = {k: int(v) for k, v in
                     adapters.wait_event("adapter_ready", timeout=900)["endpoints"].items()}
        audit = f"  backend: sqlite\n  path: {work / 'audit.db'}\n"
        config = _federation_files(work, endpoints, audit)
        with _spawn("broker", [PY, "-m", "g2g_cli.main", "broker", "serve", "--config",
                               str(config), "--log-level", "INFO"]) as broker:
            port = broker.wait_event("broker_started", timeout=120)["port"]
            apid = adapters.popen.pid
            for round_ in range(args.rounds):
                for name in args.services.split(","):
                    spec = load_spec(name, port, work, args.concurrency, args.warmup,
                                     args.count)
                    _one(args, spec, apid, out, f"round {round_} {name:6}")


def _one(args: argparse.Namespace, spec: dict[str, Any], apid: int, out: Path,
         label: str) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(spec, handle)
    client_grind = args.callgrind == "client"
    # The client under callgrind counts from its start; its counters are zeroed after
    # the warm-up and its final dump (at exit) holds the measured calls.
    prefix = ([*_callgrind(out)[:2], f"--callgrind-out-file={out}.%p"]
              if client_grind else [])
    proc = subprocess.Popen([*prefix, PY, "-m", "bench.loadgen", "@" + handle.name],
                            cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            stderr=subprocess.DEVNULL if client_grind else None)
    assert proc.stdin is not None
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "warm":
        raise RuntimeError("load generator failed during warm-up")
    perf = None
    if args.perf:
        perf = subprocess.Popen(["perf", "record", "-q", "-e", "cpu-clock", "-F", "1999",
                                 "-g", "-o", str(args.perf), "-p", str(apid)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if args.callgrind == "adapter":
        _control(apid, "-i", "on")
        _control(apid, "-z")
    if client_grind:
        _control(proc.pid, "-z")
    threads, cpu = _threads([apid]), _cpu_seconds([apid])
    proc.stdin.write("go\n")
    proc.stdin.flush()
    result: dict[str, Any] = json.loads(proc.stdout.readline())
    cpu = _cpu_seconds([apid]) - cpu
    now = _threads([apid])
    by_thread = {k: v - threads.get(k, 0.0) for k, v in now.items()}
    if perf is not None:
        perf.send_signal(signal.SIGINT)  # perf writes its file and exits
        perf.wait(120)
    n = result["count"]
    figure = ""
    if args.callgrind == "adapter":
        figure = f"  adapter {_callgrind_total(out, apid) / n / 1e6:.3f} M instructions/exchange"
        _control(apid, "-i", "off")
    before = set(out.parent.glob(out.name + "*"))
    proc.wait(300)
    Path(handle.name).unlink()
    if client_grind:
        figure = f"  client {_final_total(out, before) / n / 1e6:.3f} M instructions/exchange"
    print(f"{label} c={spec['concurrency']} n={n} errors={result['errors']} "
          f"{result['rps']} req/s  adapter {cpu * 1e6 / n:.0f} µs CPU/exchange  "
          f"client {result['cpu_s'] * 1e6 / n:.0f} µs CPU/exchange (sign "
          f"{result['sign_cpu_ms'] * 1e3:.0f} µs CPU / {result['sign_ms'] * 1e3:.0f} wall, "
          f"verify {result['verify_cpu_ms'] * 1e3:.0f} µs CPU / "
          f"{result['verify_ms'] * 1e3:.0f} wall){figure}", flush=True)
    print("    adapter by thread (µs/exchange): " + ", ".join(
        f"{k} {v * 1e6 / n:.0f}" for k, v in sorted(by_thread.items(), key=lambda kv: -kv[1])
        if v > 0), flush=True)


def _final_total(out: Path, before: set[Path]) -> int:
    """The instructions of the final dump a callgrind run wrote at its exit."""
    newest = sorted(out.parent.glob(out.name + "*"), key=lambda p: p.stat().st_mtime)[-1:]
    # The final dump may overwrite the file of an earlier run of the same pid name.
    for path in [*sorted(set(out.parent.glob(out.name + "*")) - before), *newest]:
        total = dump_total(path)
        if total is not None:
            return total
    raise FileNotFoundError("no callgrind dump of the client")


async def _acpu_us(fn: Any, n: int) -> float:
    best = float("inf")
    for _ in range(3):
        began = time.process_time()
        for _ in range(n):
            await fn()
        best = min(best, (time.process_time() - began) / n * 1e6)
    return best


async def _steps(args: argparse.Namespace) -> None:
    from g2g_sdk import pki, tls
    from g2g_sdk._gen.g2g.v1 import provider_pb2
    from g2g_sdk.catalog import find_method, message_class
    from google.protobuf import json_format

    from bench.__main__ import raised_policies
    from broker import pipeline
    from g2g_harness.federation import start_federation, write_config

    with tempfile.TemporaryDirectory(prefix="g2g-sdk-steps-") as tmp:
        work = Path(tmp)
        pki.init_pki(REGISTRY, work / "pki")
        config = write_config(work, pki_dir=work / "pki",
                              policies=raised_policies(work / "policies"))
        fed = await start_federation(work, pki_dir=work / "pki", config_path=config,
                                     adapters=ADAPTERS)
        try:
            for name in args.services.split(","):
                service = SERVICES[name]
                method = find_method(service["service"])
                assert method is not None
                request = json_format.ParseDict(varied_requests(name)[0],
                                                message_class(method.input_type)())
                client = fed.client(service["consumer"])

                def build(client: Any = client, request: Any = request,
                          service: dict[str, str] = service) -> Any:
                    return client.build(service["service"], request,
                                        purpose=service["purpose"],
                                        legal_basis=service["legal_basis"],
                                        recipient=service["provider"])
                env = build()
                answer = await client.send(env)
                # The broker's forwarded request, made as the broker makes it.
                b = fed.broker.broker
                trust = b.trust()
                sender = trust.registry.agency(service["consumer"])
                assert sender is not None
                opened = pipeline.open_request(env, sender, b)
                spec = pipeline.resolve_service(opened.header, trust.catalog)
                payload = spec.request_type()
                payload.ParseFromString(opened.payload)
                now = b.clock()
                decision = pipeline.decide(opened, payload, spec, b.policies(), now)
                data = provider_pb2.ProviderRequest(request=env, attestation=pipeline.attest(
                    opened, spec, decision, "d", b, now)).SerializeToString()
                server, _ = fed.providers[service["provider"]]
                peer = tls.PartyIdentity("broker", trust.registry.broker_id)
                print(f"{name:6} client.build (sign)      "
                      f"{_cpu_us(build, args.count):7.1f} µs", flush=True)
                verify = _cpu_us(lambda c=client, e=env, a=answer: c.verify(e, a), args.count)
                print(f"{name:6} client.verify            {verify:7.1f} µs", flush=True)
                handle = await _acpu_us(lambda s=server, d=data, p=peer: s.handle(d, p),
                                        args.count)
                print(f"{name:6} ProviderServer.handle    {handle:7.1f} µs", flush=True)
        finally:
            await fed.stop()


def _cprofile(args: argparse.Namespace) -> None:
    import cProfile
    import pstats

    from g2g_sdk import pki
    from g2g_sdk.logs import configure
    from g2g_sdk.registry import load_registry
    from g2g_sdk.revocation import PeerChecker, RevocationConfig, crl_reloader

    from agency_adapters.runner import open_data, start_adapters

    configure("INFO")
    profile = cProfile.Profile()

    async def run(work: Path) -> None:
        pki_dir = work / "pki"
        registry = load_registry(REGISTRY, pki_dir)
        crl = crl_reloader(RevocationConfig(pki_dir / "ca.crt", (pki_dir / "crl.pem",)))
        started = await start_adapters(ADAPTERS, lambda: registry, pki_dir,
                                       listen="127.0.0.1:0", live=open_data(ADAPTERS),
                                       peer_check=PeerChecker(lambda: crl.current).check)
        before, after = profiled(profile, asyncio.get_running_loop())
        try:
            endpoints = {agency: port for agency, (_, port) in started.items()}
            config = _federation_files(work, endpoints,
                                       f"  backend: sqlite\n  path: {work / 'audit.db'}\n")
            with _spawn("broker", [PY, "-m", "g2g_cli.main", "broker", "serve", "--config",
                                   str(config), "--log-level", "INFO"]) as broker:
                event = await asyncio.to_thread(broker.wait_event, "broker_started")
                for name in args.services.split(","):
                    spec = load_spec(name, event["port"], work, args.concurrency,
                                     args.warmup, args.count)
                    result = await asyncio.to_thread(_run_load, spec, before, after)
                    print(f"{name}: {result['count']} exchanges, {result['rps']} req/s, "
                          f"adapter {result['measure'] * 1e6 / result['count']:.0f} µs "
                          "CPU/exchange (profiled)", flush=True)
        finally:
            for server, _ in started.values():
                await server.stop(0)

    with tempfile.TemporaryDirectory(prefix="g2g-sdk-cpu-") as tmp:
        work = Path(tmp)
        pki.init_pki(REGISTRY, work / "pki")
        asyncio.run(run(work))
    stats = pstats.Stats(profile)
    stats.sort_stats("tottime").print_stats(45)
    stats.sort_stats("cumulative").print_stats(60)


MICRO_STEPS = ("build", "verify", "handle")


def _micro(args: argparse.Namespace) -> None:
    """Instructions per call of each toolkit step, from two callgrind runs each."""
    import re

    with tempfile.TemporaryDirectory(prefix="g2g-sdk-micro-") as tmp:
        work = Path(tmp)
        from g2g_sdk import pki

        pki.init_pki(REGISTRY, work / "pki")
        for name in args.services.split(","):
            for step in MICRO_STEPS:
                totals = []
                for n in (100, 600):
                    out = work / f"micro.{name}.{step}.{n}"
                    subprocess.run(
                        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", PY,
                         "-m", "bench.sdk_cpu", "--micro-run", f"{name}:{step}:{n}",
                         "--pki", str(work / "pki")],
                        check=True, cwd=REPO, env={**_env(), "PYTHONHASHSEED": "0"},
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    m = re.search(r"^(?:summary|totals): (\d+)", out.read_text(), re.M)
                    assert m is not None
                    totals.append(int(m.group(1)))
                print(f"{name:6} {step:7} {(totals[1] - totals[0]) / 500 / 1000:8.1f} k "
                      "instructions/call", flush=True)


def _env() -> dict[str, str]:
    import os

    return dict(os.environ)


async def _micro_run(spec: str, pki_dir: Path) -> None:
    """One callgrind run of `--micro`: `n` calls of one step (inputs made beforehand)."""
    from g2g_sdk import ConsumerClient, envelope, pki
    from g2g_sdk._gen.g2g.v1 import envelope_pb2, provider_pb2
    from g2g_sdk.catalog import find_method, message_class
    from g2g_sdk.provider import ProviderServer
    from g2g_sdk.registry import load_registry
    from g2g_sdk.tls import PartyIdentity
    from google.protobuf import json_format

    from agency_adapters.runner import merged_handlers

    name, step, count = spec.split(":")
    service = SERVICES[name]
    registry = load_registry(REGISTRY, pki_dir)
    handlers = merged_handlers(("interpol" if name == "docs" else "immigration",))
    server = ProviderServer(pki.load_identity(pki_dir, service["provider"]), registry,
                            handlers[service["provider"]])
    client = ConsumerClient(pki.load_identity(pki_dir, service["consumer"]), registry)
    method = find_method(service["service"])
    assert method is not None
    request = json_format.ParseDict(varied_requests(name, 1)[0],
                                    message_class(method.input_type)())

    def build() -> envelope_pb2.Envelope:
        return client.build(service["service"], request, purpose=service["purpose"],
                            legal_basis=service["legal_basis"], recipient=service["provider"])
    env = build()
    header = envelope.parse_header(env)
    broker = pki.load_identity(pki_dir, pki.BROKER)
    response_type = message_class(method.output_type)
    body = envelope_pb2.AttestationBody(
        decision_id="d", request_digest=envelope.sha256(env.header),
        message_id=header.message_id, consumer=header.sender, provider=header.recipient,
        service=service["service"], purpose=header.purpose, rule_id="r", policy_version="p",
        field_mask=[f.name for f in response_type.DESCRIPTOR.fields],
        issued_at=envelope.to_timestamp(envelope.now_utc()), expires_at=header.expires_at,
        broker_id=registry.broker_id)
    data = provider_pb2.ProviderRequest(
        request=env, attestation=envelope.sign_attestation(body, broker.signing_key)
    ).SerializeToString()
    peer = PartyIdentity("broker", registry.broker_id)
    answer = await server.handle(data, peer)
    client.verify(env, answer)
    for _ in range(int(count)):
        if step == "build":
            build()
        elif step == "verify":
            client.verify(env, answer)
        else:
            await server.handle(data, peer)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sdk_cpu", description=__doc__)
    parser.add_argument("--services", default=",".join(SERVICES))
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--callgrind", choices=("adapter", "client"), default=None,
                        help="instructions per exchange of that process (use small counts)")
    parser.add_argument("--perf", type=Path, default=None,
                        help="`perf record -e cpu-clock -g` of the adapter process into this "
                             "file during the measured calls")
    parser.add_argument("--keep", type=Path, default=None,
                        help="directory to keep the callgrind dumps in (callgrind_annotate)")
    parser.add_argument("--cprofile", action="store_true",
                        help="the adapters in this process under cProfile")
    parser.add_argument("--micro", action="store_true",
                        help="instructions per call of build, verify and handle (callgrind)")
    parser.add_argument("--micro-run", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--pki", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--steps", action="store_true",
                        help="CPU µs of the toolkit's pure steps, in this process")
    args = parser.parse_args()
    if args.steps:
        asyncio.run(_steps(args))
        return 0
    if args.micro_run:
        asyncio.run(_micro_run(args.micro_run, args.pki))
        return 0
    if args.micro:
        _micro(args)
        return 0
    if args.cprofile:
        _cprofile(args)
        return 0
    with tempfile.TemporaryDirectory(prefix="g2g-sdk-cpu-") as tmp:
        work = Path(tmp)
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
        _measure(args, work, (args.keep or work) / "callgrind.out")
    return 0


if __name__ == "__main__":
    sys.exit(main())
