"""Broker CPU per exchange, for A/B runs: `python -m bench.broker_cpu`.

Starts the adapters and a broker (SQLite audit, FULL) as their own processes
like `make bench`, drives each service from a load generator process and
prints the broker's CPU per exchange (from /proc: every thread, user and
system), per thread, the audit records per commit and the mean wall time per
pipeline stage. Other modes:

- `--callgrind`: the broker under valgrind's callgrind; instructions per
  exchange over the measured calls (warm-up excluded). Slow, but repeatable
  on a loaded machine, where CPU time is not. With `--baseline`, the mTLS
  pass-through proxy of `make bench` instead, same load shape.
- `--steps`: CPU µs of each pure pipeline step on real envelopes, in-process.
- `--perf FILE`: `perf record` of the broker during the measured calls.
- `--cprofile`: the broker in this process under cProfile.
- `--workers N` (with the default or `--callgrind`): the broker as N worker
  processes, figures summed over them: instructions per exchange with 1 and 2
  workers compare shared-state costs (more commits, lock waits that spin) on a
  machine too small for their throughput to.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.__main__ import (
    PY,
    SERVICES,
    _cpu_seconds,
    _spawn,
    load_spec,
    sqlite_federation,
    stat_cpu_seconds,
)


def _run_load(spec: dict[str, Any], before: Any, after: Any) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(spec, handle)
    proc = subprocess.Popen([PY, "-m", "bench.loadgen", "@" + handle.name],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdin is not None
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "warm":
        raise RuntimeError("load generator failed during warm-up")
    mark = before()
    proc.stdin.write("go\n")
    proc.stdin.flush()
    result: dict[str, Any] = json.loads(proc.stdout.readline())
    result["measure"] = after(mark)
    proc.wait(60)
    Path(handle.name).unlink()
    return result


def profiled(profile: Any, loop: asyncio.AbstractEventLoop
             ) -> tuple[Callable[[], float], Callable[[float], float]]:
    """`before`/`after` for `_run_load` that run the cProfile `profile` during the measured
    calls on `loop`'s thread (a profiler follows the thread that enables it), and
    measure this process's CPU seconds."""
    def in_loop(fn: Callable[[], None]) -> None:
        async def call() -> None:
            fn()
        asyncio.run_coroutine_threadsafe(call(), loop).result()

    def before() -> float:
        in_loop(profile.enable)
        return time.process_time()

    def after(mark: float) -> float:
        in_loop(profile.disable)
        return time.process_time() - mark

    return before, after


def _threads(pids: list[int]) -> dict[str, float]:
    """CPU seconds so far of each live thread of `pids`, by thread name (summed over them)."""
    out: dict[str, float] = {}
    for pid in pids:
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                stat = (task / "stat").read_text()
            except OSError:
                continue
            name = ("main" if task.name == str(pid)
                    else stat[stat.index("(") + 1:stat.rindex(")")])
            out[name] = out.get(name, 0.0) + stat_cpu_seconds(stat)
    return out


def _metrics(ops_port: int) -> dict[str, float]:
    """The broker's audit commit and stage-time sums and counts so far (its /metrics)."""
    import urllib.request

    text = urllib.request.urlopen(f"http://127.0.0.1:{ops_port}/metrics", timeout=30).read()
    out = {f"audit_{k}": float(v) for k, v in re.findall(
        r"^g2g_audit_commit_group_size_(count|sum) ([0-9.e+]+)$", text.decode(), re.M)}
    for kind, stage, value in re.findall(
            r'^g2g_stage_duration_seconds_(count|sum)\{stage="(\w+)"\} ([0-9.e+-]+)$',
            text.decode(), re.M):
        out[f"{stage}_{kind}"] = float(value)
    return out


def _delta(before: dict[str, float], after: dict[str, float]) -> tuple[float, str]:
    """Records per commit, and mean wall µs per stage, between two `_metrics` readings."""
    d = {k: v - before.get(k, 0.0) for k, v in after.items()}
    groups = d.get("audit_sum", 0.0) / max(1.0, d.get("audit_count", 0.0))
    stages = ", ".join(f"{k[:-4]} {d[k] / d[k[:-4] + '_count'] * 1e6:.0f}"
                       for k in sorted(d) if k.endswith("_sum") and not k.startswith("audit")
                       and d.get(k[:-4] + "_count"))
    return groups, stages


def _callgrind_start(pids: list[int]) -> None:
    """Switch instrumentation on in every process of the broker and zero its counters."""
    for pid in pids:
        for command in (["-i", "on"], ["-z"]):
            subprocess.run(["callgrind_control", *command, str(pid)], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _callgrind_stop(out: Path, pids: list[int]) -> int:
    """Instructions of every process of the broker since `_callgrind_start`; stops counting."""
    total = 0
    for pid in pids:
        total += _callgrind_total(out, pid)
        subprocess.run(["callgrind_control", "-i", "off", str(pid)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return total


def dump_total(path: Path) -> int | None:
    """The instructions a callgrind dump file counts (None while it is incomplete)."""
    m = re.search(r"^(?:summary|totals): (\d+)", path.read_text(errors="replace"), re.M)
    return int(m.group(1)) if m else None


def _callgrind_total(out: Path, pid: int) -> int:
    """Dump the counters of the callgrind run `pid`; the instructions since the last zero."""
    mine = f"{out.name}.{pid}*"  # each process of the broker dumps to its own files
    before = set(out.parent.glob(mine))
    subprocess.run(["callgrind_control", "-d", str(pid)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        new = set(out.parent.glob(mine)) - before
        for path in new:
            total = dump_total(path)
            if total is not None:
                return total
        time.sleep(0.5)
    raise TimeoutError("callgrind dump not written")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.broker_cpu", description=__doc__)
    parser.add_argument("--services", default=",".join(SERVICES))
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--idle", type=float, default=20.0,
                        help="with --callgrind: seconds of idle broker measured first; its "
                             "instructions per second times each load's wall time are "
                             "subtracted (0: none)")
    parser.add_argument("--workers", type=int, default=1,
                        help="broker worker processes (`broker serve --workers`); CPU and "
                             "instructions are summed over all of them")
    parser.add_argument("--callgrind", action="store_true",
                        help="instructions per exchange under callgrind (use small counts)")
    parser.add_argument("--perf", type=Path, default=None,
                        help="also sample the broker with `perf record -e cpu-clock` into "
                             "this file during the measured calls (kernel time included)")
    parser.add_argument("--cprofile", action="store_true",
                        help="run the broker in this process under cProfile (event-loop "
                             "thread) and print the top functions")
    parser.add_argument("--keep", type=Path, default=None,
                        help="directory to keep the callgrind dumps in (callgrind_annotate)")
    parser.add_argument("--steps", action="store_true",
                        help="CPU µs of each pure pipeline step on real envelopes, in this "
                             "process (no load generator)")
    parser.add_argument("--baseline", action="store_true",
                        help="with --callgrind: the mTLS pass-through proxy instead of the "
                             "broker (instructions per request, same load shape)")
    args = parser.parse_args()
    if args.cprofile:
        return _cprofile(args)
    if args.steps:
        asyncio.run(_steps())
        return 0
    if args.baseline:
        return _baseline_callgrind(args)
    with tempfile.TemporaryDirectory(prefix="g2g-broker-cpu-") as tmp:
        work = Path(tmp)
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
        out = (args.keep or work) / "callgrind.out"
        # With workers, every worker process runs under callgrind too (each started by
        # the supervisor); the supervisor serves nothing but is counted as well.
        prefix = (["valgrind", "--tool=callgrind", "--instr-atstart=no",
                   f"--trace-children={'yes' if args.workers > 1 else 'no'}",
                   f"--callgrind-out-file={out}.%p"] if args.callgrind else [])
        many = ["--workers", str(args.workers)] if args.workers > 1 else []
        with sqlite_federation(work) as (config, _adapters), _spawn(
                "broker", [*prefix, PY, "-m", "g2g_cli.main", "broker", "serve", "--config",
                           str(config), "--log-level", "INFO", *many]) as broker:
            started = broker.wait_event("broker_started", timeout=900)
            ops_port = int(broker.wait_event("ops_port_started")["port"])
            pid = broker.popen.pid
            pids = [pid, *started.get("pids", [])]

            sampler: list[subprocess.Popen[bytes]] = []
            threads: list[dict[str, float]] = []
            window: list[float] = []  # monotonic start of the measured calls

            def before() -> float:
                if args.perf:
                    sampler.append(subprocess.Popen(
                        ["perf", "record", "-q", "-e", "cpu-clock", "-F", "1999", "-g",
                         "-o", str(args.perf), "-p", ",".join(map(str, pids))],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
                if args.callgrind:
                    _callgrind_start(pids)
                    window.append(time.monotonic())
                    return 0.0
                threads.append(_threads(pids))
                return _cpu_seconds(pids)

            def after(mark: float) -> float:
                if sampler:
                    perf = sampler.pop()
                    perf.send_signal(signal.SIGINT)  # perf writes its file and exits
                    perf.wait(120)
                if args.callgrind:
                    window.append(time.monotonic() - window.pop())
                    return float(_callgrind_stop(out, pids))
                began, now = threads.pop(), _threads(pids)
                threads.append({k: v - began.get(k, 0.0) for k, v in now.items()})
                return _cpu_seconds(pids) - mark

            idle = 0.0  # instructions per second of the idle broker (callgrind only)
            if args.callgrind and args.idle > 0:
                # Pollers, probes and checkpoints cost instructions per second, not per
                # exchange; under callgrind a run is slow, and slower with more
                # processes, so their share per exchange would vary with the run.
                _callgrind_start(pids)
                time.sleep(args.idle)
                idle = _callgrind_stop(out, pids) / args.idle
                print(f"idle broker: {idle / 1e6:.3f} M instructions/s (periodic work, "
                      f"{args.idle:g} s), subtracted below", flush=True)
            for round_ in range(args.rounds):
                for name in args.services.split(","):
                    spec = load_spec(name, started["port"], work, args.concurrency,
                                     args.warmup, args.count)
                    readings = _metrics(ops_port)
                    result = _run_load(spec, before, after)
                    n = result["count"]
                    groups, stages = _delta(readings, _metrics(ops_port))
                    figure = (f"{(result['measure'] - idle * window.pop()) / n / 1e6:.3f} "
                              f"M instructions/exchange ({result['measure'] / n / 1e6:.3f} "
                              "with the periodic work)"
                              if args.callgrind else
                              f"{result['measure'] * 1e6 / n:.0f} µs CPU/exchange")
                    print(f"round {round_} {name:6} c={args.concurrency} n={n} "
                          f"errors={result['errors']} {result['rps']} req/s  {figure}  "
                          f"(audit: {groups:.1f} records per commit)", flush=True)
                    print(f"    stage wall µs: {stages}")
                    if threads:
                        by_thread = threads.pop()
                        print("    by thread (µs/exchange): " + ", ".join(
                            f"{k} {v * 1e6 / n:.0f}" for k, v in
                            sorted(by_thread.items(), key=lambda kv: -kv[1]) if v > 0))
    return 0


def _cpu_us(fn: Any, n: int = 3000) -> float:
    """Best of three: process CPU µs per call of `fn`."""
    best = float("inf")
    for _ in range(3):
        began = time.process_time()
        for _ in range(n):
            fn()
        best = min(best, (time.process_time() - began) / n * 1e6)
    return best


async def _steps() -> None:
    from g2g_sdk import dsse, envelope, fieldmask, pki, schema
    from g2g_sdk._gen.g2g.immigration.v1 import watchlist_pb2
    from g2g_sdk._gen.g2g.v1 import provider_pb2

    from bench.__main__ import REGISTRY, raised_policies
    from broker import pipeline
    from broker.audit import subject_keys
    from g2g_harness.federation import start_federation, write_config

    with tempfile.TemporaryDirectory(prefix="g2g-steps-") as tmp:
        work = Path(tmp)
        pki.init_pki(REGISTRY, work / "pki")
        config = write_config(work, pki_dir=work / "pki",
                              policies=raised_policies(work / "policies"))
        fed = await start_federation(work, pki_dir=work / "pki", config_path=config)
        try:
            service = SERVICES["screen"]
            request = watchlist_pb2.ScreenRequest(by_name=watchlist_pb2.NameQuery(
                full_name="Budi Santoso", date_of_birth="1975"))
            env = fed.client(service["consumer"]).build(
                service["service"], request, purpose=service["purpose"],
                legal_basis=service["legal_basis"])
            raw = env.SerializeToString()
            b = fed.broker.broker
            trust = b.trust()
            sender = trust.registry.agency(service["consumer"])
            assert sender is not None
            opened = pipeline.open_request(env, sender, b)
            h = opened.header
            spec = pipeline.resolve_service(h, trust.catalog)
            payload = schema.decode(spec.request_type, opened.payload, h.payload_type)
            now = b.clock()
            decision = pipeline.decide(opened, payload, spec, b.policies(), now)
            answer = await b.forward(h.recipient, provider_pb2.ProviderRequest(
                request=env, attestation=pipeline.attest(opened, spec, decision, "d", b, now)),
                10)
            mask = fieldmask.compiled(decision.field_mask)
            pem = pki.load_identity(work / "pki", service["consumer"]).tls_cert_pem
            pae = dsse.pae(dsse.HEADER_TYPE, env.header)
            key = sender.signing_keys[env.signatures[0].keyid]
            steps: dict[str, Any] = {
                "parse_envelope": lambda: envelope.parse_envelope(raw, 1 << 20),
                "check_peer (CRL, published cert)":
                    lambda: pipeline.check_certificate(
                        b.peer_check(pem), service["consumer"], trust.registry)
                    if b.peer_check else None,
                "open_request (signature, header)":
                    lambda: pipeline.open_request(env, sender, b),
                "  one Ed25519 verification": (
                    lambda: dsse.verify_signature(key, env.signatures[0].sig, pae))
                if hasattr(dsse, "verify_signature")  # older trees: OpenSSL only
                else lambda: key.verify(env.signatures[0].sig, pae),
                "  parse_header (incl. protovalidate)": lambda: envelope.parse_header(env),
                "schema.decode (request payload)": lambda: schema.decode(
                    spec.request_type, opened.payload, h.payload_type),
                "subject_keys": lambda: subject_keys(
                    b.log_secret, spec.offers[h.recipient].subject_fields, payload),
                "decide (policy)": lambda: pipeline.decide(opened, payload, spec,
                                                           b.policies(), now),
                "attest (incl. one signature)": lambda: pipeline.attest(
                    opened, spec, decision, "d", b, now),
                "verify_response": lambda: pipeline.verify_response(
                    answer, opened, spec, mask, b, trust.registry),
                "audit event": lambda: pipeline.Trace(header=h).event("request", now),
            }
            for name, fn in steps.items():
                print(f"{name:40} {_cpu_us(fn):7.1f} µs", flush=True)
        finally:
            await fed.stop()


def _baseline_callgrind(args: argparse.Namespace) -> int:
    from g2g_sdk import pki

    from bench.__main__ import REGISTRY, SCREEN, sample_envelope_size

    with tempfile.TemporaryDirectory(prefix="g2g-proxy-cpu-") as tmp:
        work = Path(tmp)
        pki.init_pki(REGISTRY, work / "pki")
        tls = ["--pki", str(work / "pki")]
        out = work / "callgrind.out"
        with _spawn("echo", [PY, "-m", "bench.baseline", "echo", *tls], stdout=True) as echo:
            assert echo.popen.stdout is not None
            echo_port = int(echo.popen.stdout.readline())
            with _spawn("proxy", ["valgrind", "--tool=callgrind", "--instr-atstart=no",
                                  f"--callgrind-out-file={out}.%p", PY, "-m", "bench.baseline",
                                  "proxy", f"127.0.0.1:{echo_port}", *tls],
                        stdout=True) as proxy:
                assert proxy.popen.stdout is not None
                port = int(proxy.popen.stdout.readline())
                pid = proxy.popen.pid

                def before() -> float:
                    for command in (["-i", "on"], ["-z"]):
                        subprocess.run(["callgrind_control", *command, str(pid)], check=True,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    return 0.0

                spec = {"kind": "baseline", "address": f"127.0.0.1:{port}",
                        "payload_hex": (b"x" * sample_envelope_size()).hex(),
                        "concurrency": args.concurrency, "warmup": args.warmup,
                        "count": args.count, "pki_dir": str(work / "pki"),
                        "consumer": SCREEN["consumer"]}
                result = _run_load(spec, before, lambda _: float(_callgrind_total(out, pid)))
                print(f"mTLS proxy c={args.concurrency} n={result['count']} "
                      f"{result['measure'] / result['count'] / 1e6:.3f} M instructions/request")
    return 0


def _cprofile(args: argparse.Namespace) -> int:
    import cProfile
    import pstats

    from g2g_sdk.logs import configure

    from broker.config import load_config
    from broker.server import start_broker

    configure("INFO")
    profile = cProfile.Profile()

    async def run(config: Path, work: Path) -> None:
        running = await start_broker(load_config(config))
        before, after = profiled(profile, asyncio.get_running_loop())
        try:
            for name in args.services.split(","):
                spec = load_spec(name, running.port, work, args.concurrency, args.warmup,
                                 args.count)
                result = await asyncio.to_thread(_run_load, spec, before, after)
                print(f"{name}: {result['count']} exchanges, {result['rps']} req/s, "
                      f"{result['measure'] * 1e6 / result['count']:.0f} µs CPU/exchange "
                      "(profiled)", flush=True)
        finally:
            await running.stop()

    with tempfile.TemporaryDirectory(prefix="g2g-broker-cpu-") as tmp:
        work = Path(tmp)
        with sqlite_federation(work) as (config, _adapters):
            asyncio.run(run(config, work))
    stats = pstats.Stats(profile)
    stats.sort_stats("tottime").print_stats(40)
    stats.sort_stats("cumulative").print_stats(60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
