"""`make bench`: the full federation against two raw gRPC two-hop baselines, in one run.

Every server is its own process (baseline proxy and echo; broker and each
adapter), and so is the load generator. The baselines are a pass-through proxy
in plaintext and the same proxy over mutual TLS with the federation's own
certificates on both hops; the broker's ratios are against the mTLS one (the
TLS it must pay anyway). For each path and concurrency it runs a warm-up, then
a fixed number of calls, and reports requests/s, p50/p99 latency of the wire
call (p99.9 from 10,000 samples only), the client's signing and verification
apart, server CPU per request and the ratios. Screening and document queries
vary, drawn from the adapters' own seeded data. Prints one table and writes the
same figures as JSON under bench/results/ (or, with `--reference`, under
bench/reference/ with a description of the machine, to be kept). Loopback only;
bounded by request counts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import yaml

REPO = Path(__file__).resolve().parent.parent
REGISTRY = REPO / "config" / "agencies.yaml"
RESULTS = REPO / "bench" / "results"
PY = sys.executable
TICKS = os.sysconf("SC_CLK_TCK")
PG_DSN = "postgresql://root@127.0.0.1:5432/test"

REFERENCE = REPO / "bench" / "reference"
SCREEN = {
    "service": "g2g.immigration.v1.Watchlist/Screen", "provider": "ID/GOV/IMIGRASI",
    "consumer": "ID/GOV/POLRI", "purpose": "criminal_investigation",
    "legal_basis": "UU 6/2011 Pasal 91",
}
DOCS = {
    "service": "g2g.interpol.v1.TravelDocuments/Check", "provider": "INT/IO/INTERPOL",
    "consumer": "ID/GOV/POLRI", "purpose": "criminal_investigation",
    "legal_basis": "Interpol RPD Art. 27",
}
QUERIES = 2000  # distinct requests per service, cycled
SERVICES = {"screen": SCREEN, "docs": DOCS}
ADAPTERS = ("immigration", "interpol")  # the providers of SERVICES


@dataclass(frozen=True)
class Row:
    path: str
    concurrency: int
    rps: float
    p50_ms: float
    p99_ms: float
    p999_ms: float | None                 # only from 10,000 samples up
    count: int
    errors: int
    cpu_ms_per_req: float | None          # the broker (all its processes) or baseline proxy
    adapter_cpu_ms_per_req: float | None = None   # the adapter, or the baseline's echo
    client_cpu_ms_per_req: float | None = None    # the load generator, signing included
    sign_ms: float | None = None          # client: build and sign one request (mean)
    verify_ms: float | None = None        # client: verify one answer (mean)
    ratio: float | None = None            # req/s over the mTLS baseline's, same concurrency
    vs_plaintext: float | None = None     # req/s over the plaintext baseline's
    cpu_vs_mtls: float | None = None      # CPU per request over the mTLS proxy's
    vs_one_worker: float | None = None    # req/s over the 1-worker row's (workers rows)
    cpu_per_req_vs_one_worker: float | None = None  # broker CPU/request over the 1-worker row's


def stat_cpu_seconds(stat: str) -> float:
    """utime + stime, in seconds, of a /proc/<pid>/stat (or task/<tid>/stat) text."""
    fields = stat.rsplit(")", 1)[1].split()  # the command name may hold spaces
    return (int(fields[11]) + int(fields[12])) / TICKS


def _cpu_seconds(pids: list[int]) -> float:
    return sum(stat_cpu_seconds(Path(f"/proc/{pid}/stat").read_text()) for pid in pids)


def _drain(stream: IO[bytes], events: list[dict[str, Any]], lock: threading.Condition) -> None:
    # Children log JSON lines to stderr; keep the pipe empty so they never block on it,
    # and keep the events so callers can wait on them.
    for raw in stream:
        try:
            event = json.loads(raw)
        except ValueError:
            continue
        if isinstance(event, dict):
            with lock:
                events.append(event)
                lock.notify_all()


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    events: list[dict[str, Any]]
    cond: threading.Condition

    def wait_event(self, name: str, timeout: float = 120) -> dict[str, Any]:
        return self.wait_events(name, 1, timeout)[0]

    def wait_events(self, name: str, count: int, timeout: float = 120,
                    since: int = 0) -> list[dict[str, Any]]:
        """The first `count` events called `name` (after the first `since` of them)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                found = [e for e in self.events if e.get("event") == name][since:]
                if len(found) >= count:
                    return found[:count]
                if self.popen.poll() is not None:
                    errors = [e for e in self.events if e.get("level") == "error"][-3:]
                    raise RuntimeError(f"{self.name} exited with {self.popen.returncode}; "
                                       f"last errors: {errors}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{self.name}: no {name} event")
                self.cond.wait(left)


@contextmanager
def _spawn(name: str, argv: list[str], *, stdout: bool = False) -> Iterator[Proc]:
    popen = subprocess.Popen(argv, stdout=subprocess.PIPE if stdout else subprocess.DEVNULL,
                             stderr=subprocess.PIPE, cwd=REPO)
    events: list[dict[str, Any]] = []
    cond = threading.Condition()
    assert popen.stderr is not None
    threading.Thread(target=_drain, args=(popen.stderr, events, cond), daemon=True).start()
    try:
        yield Proc(name, popen, events, cond)
    finally:
        popen.terminate()
        try:
            popen.wait(10)
        except subprocess.TimeoutExpired:
            popen.kill()


def _load(spec: dict[str, Any], server_pids: list[int], adapter_pid: int
          ) -> tuple[dict[str, Any], float, float]:
    """Run one load-generator process; its result and server and adapter CPU seconds used."""
    # The spec (with its thousands of requests) goes through a file: argv is bounded.
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(spec, handle)
    proc = subprocess.Popen([PY, "-m", "bench.loadgen", "@" + handle.name], cwd=REPO,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdin is not None
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "warm":
        raise RuntimeError("load generator failed during warm-up")
    cpu_before = _cpu_seconds(server_pids), _cpu_seconds([adapter_pid])
    proc.stdin.write("go\n")
    proc.stdin.flush()
    result: dict[str, Any] = json.loads(proc.stdout.readline())
    cpu = _cpu_seconds(server_pids) - cpu_before[0], _cpu_seconds([adapter_pid]) - cpu_before[1]
    proc.wait(30)
    Path(handle.name).unlink()
    return result, *cpu


def _per_req(seconds: float, count: int) -> float | None:
    return round(seconds * 1000 / count, 3) if count else None


def _row(path: str, concurrency: int, result: dict[str, Any], cpu: float,
         adapter_cpu: float) -> Row:
    n = result["count"]
    return Row(path=path, concurrency=concurrency, rps=result["rps"], p50_ms=result["p50_ms"],
               p99_ms=result["p99_ms"], p999_ms=result["p999_ms"], count=n,
               errors=result["errors"], cpu_ms_per_req=_per_req(cpu, n),
               adapter_cpu_ms_per_req=_per_req(adapter_cpu, n),
               client_cpu_ms_per_req=_per_req(result["cpu_s"], n),
               sign_ms=result.get("sign_ms"), verify_ms=result.get("verify_ms"))


def load_spec(name: str, port: int, work: Path, concurrency: int, warmup: int,
              count: int) -> dict[str, Any]:
    """What the load generator (bench.loadgen) runs against the broker on `port`: `count`
    varied calls of service `name` after `warmup`, with the PKI and registry in `work`."""
    return {"kind": "broker", "address": f"127.0.0.1:{port}", "pki_dir": str(work / "pki"),
            "registry": str(work / "agencies.yaml"), "concurrency": concurrency,
            "warmup": warmup, "count": count, "requests": varied_requests(name),
            **SERVICES[name]}


def varied_requests(name: str, count: int = QUERIES) -> list[dict[str, Any]]:
    """`count` different requests for service `name`, drawn from the adapter's own seeded
    data: screening by name of listed persons (a whole date of birth 60 %, the year
    20 %, none 20 %), document checks of listed documents."""
    import random

    rng = random.Random(20261201)
    if name == "screen":
        from agency_adapters.immigration.service import seeded_records

        out: list[dict[str, Any]] = []
        for record in rng.sample(seeded_records(), count):
            dob = rng.choices((record.date_of_birth, record.date_of_birth[:4], ""),
                              (60, 20, 20))[0]
            query = {"full_name": record.full_name, **({"date_of_birth": dob} if dob else {})}
            out.append({"by_name": query})
        return out
    from agency_adapters.interpol.service import seeded_data

    sltd = seeded_data().sltd
    return [{"number": d.number, "issuing_country": d.issuing_country}
            for d in rng.sample(sltd, min(count, len(sltd)))]


def sample_envelope_size() -> int:
    """Bytes of a typical signed screening request, so the baselines carry the same size."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from g2g_sdk import envelope
    from g2g_sdk._gen.g2g.immigration.v1 import watchlist_pb2
    from google.protobuf import json_format

    request = json_format.ParseDict(varied_requests("screen", 1)[0],
                                    watchlist_pb2.ScreenRequest())
    env = envelope.build_request(
        sender=SCREEN["consumer"], recipient=SCREEN["provider"], service=SCREEN["service"],
        payload=request, purpose=SCREEN["purpose"], legal_basis=SCREEN["legal_basis"],
        key=Ed25519PrivateKey.generate(), now=datetime.now(UTC))
    return env.ByteSize()


PLAINTEXT = "baseline: plaintext 2-hop"
MTLS = "baseline: mTLS 2-hop"


def run_baseline(levels: list[tuple[int, int, int]], size: int, work: Path | None = None
                 ) -> list[Row]:
    """The pass-through baseline at every level: plaintext, or with `work` (its pki/)
    mutual TLS with the broker's and the provider's certificates."""
    tls = [] if work is None else ["--pki", str(work / "pki")]
    label = PLAINTEXT if work is None else MTLS
    rows = []
    with _spawn("echo", [PY, "-m", "bench.baseline", "echo", *tls], stdout=True) as echo:
        assert echo.popen.stdout is not None
        echo_port = int(echo.popen.stdout.readline())
        with _spawn("proxy", [PY, "-m", "bench.baseline", "proxy", f"127.0.0.1:{echo_port}",
                              *tls], stdout=True) as proxy:
            assert proxy.popen.stdout is not None
            port = int(proxy.popen.stdout.readline())
            for concurrency, warmup, count in levels:
                spec = {"kind": "baseline", "address": f"127.0.0.1:{port}",
                        "payload_hex": (b"x" * size).hex(), "concurrency": concurrency,
                        "warmup": warmup, "count": count,
                        **({} if work is None else {"pki_dir": str(work / "pki"),
                                                     "consumer": SCREEN["consumer"]})}
                result, cpu, echo_cpu = _load(spec, [proxy.popen.pid], echo.popen.pid)
                rows.append(_row(label, concurrency, result, cpu, echo_cpu))
    return rows


def raised_policies(policies: Path) -> Path:
    """The shipped policies, rate limits raised out of the way, written to `policies`.

    A benchmark measures the path (limits are still counted), not the quota.
    """
    policies.mkdir(exist_ok=True)
    for source in (REPO / "config" / "policies").glob("*.yaml"):
        text = re.sub(r"(per_(minute|hour|day)): \d+", r"\1: 1000000000", source.read_text())
        (policies / source.name).write_text(text)
    return policies


def _federation_files(work: Path, endpoints: dict[str, int], audit: str) -> Path:
    registry = yaml.safe_load(REGISTRY.read_text())
    for agency in registry["agencies"]:
        if agency["id"] in endpoints:
            agency["endpoint"] = f"127.0.0.1:{endpoints[agency['id']]}"
    (work / "agencies.yaml").write_text(yaml.safe_dump(registry, sort_keys=False))
    policies = raised_policies(work / "policies")
    config = work / "broker.yaml"
    config.write_text(
        "broker:\n  listen: 127.0.0.1:0\n  instance_id: bench-1\n"
        f"registry: {work / 'agencies.yaml'}\npki_dir: {work / 'pki'}\n"
        f"policies: {policies}\nops:\n  listen: 127.0.0.1:0\naudit:\n{audit}")
    return config


def run_broker(label: str, audit: str, levels: list[tuple[int, int, int]], work: Path,
               adapters: Proc, workers: int = 1,
               services: tuple[str, ...] = tuple(SERVICES)) -> list[Row]:
    """Every service at every level against one broker (of `workers` processes)."""
    endpoints = {k: int(v) for k, v in adapters.wait_event("adapter_ready")["endpoints"].items()}
    config = _federation_files(work, endpoints, audit)
    rows = []
    g2g = [PY, "-m", "g2g_cli.main"]
    many = ["--workers", str(workers)] if workers > 1 else []
    with _spawn("broker", [*g2g, "broker", "serve", "--config", str(config),
                           "--log-level", "INFO", *many]) as broker:
        started = broker.wait_event("broker_started")
        pids = [broker.popen.pid, *started.get("pids", [])]
        for name in services:
            for concurrency, warmup, count in levels:
                spec = load_spec(name, started["port"], work, concurrency, warmup, count)
                result, cpu, adapter_cpu = _load(spec, pids, adapters.popen.pid)
                path = f"broker: {name}, {label}" + (f", {workers} workers" if workers > 1
                                                      else "")
                rows.append(_row(path, concurrency, result, cpu, adapter_cpu))
    return rows


@contextmanager
def _adapters(work: Path) -> Iterator[Proc]:
    with _spawn("adapters", [PY, "-m", "g2g_cli.main", "adapter", "serve", *ADAPTERS,
                             "--registry", str(REGISTRY), "--pki-dir", str(work / "pki"),
                             "--listen", "127.0.0.1:0", "--log-level", "INFO"]) as proc:
        yield proc


@contextmanager
def sqlite_federation(work: Path) -> Iterator[tuple[Path, Proc]]:
    """A dev PKI, the adapters running and a broker config on SQLite, all in `work`:
    the set-up the profile and overload runs share. Yields (config, adapters)."""
    from g2g_sdk import pki

    pki.init_pki(REGISTRY, work / "pki")
    with _adapters(work) as adapters:
        endpoints = {k: int(v) for k, v in
                     adapters.wait_event("adapter_ready")["endpoints"].items()}
        audit = f"  backend: sqlite\n  path: {work / 'audit.db'}\n"
        yield _federation_files(work, endpoints, audit), adapters


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def print_table(rows: list[Row]) -> None:
    header = (f"{'path':40} {'conc':>4} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
              f"{'p99.9 ms':>9} {'cpu ms/req':>10} {'adapter':>8} {'client':>7} "
              f"{'sign':>6} {'verify':>6} {'vs mTLS':>7} {'cpu/mTLS':>8} {'vs 1w':>6}")
    print(header)
    print("-" * len(header))
    for r in rows:
        err = f"  ({r.errors} errors)" if r.errors else ""
        print(f"{r.path:40} {r.concurrency:>4} {r.rps:>8.1f} {r.p50_ms:>8.3f} "
              f"{r.p99_ms:>8.3f} {_fmt(r.p999_ms, '.3f'):>9} {_fmt(r.cpu_ms_per_req, '.3f'):>10} "
              f"{_fmt(r.adapter_cpu_ms_per_req, '.3f'):>8} "
              f"{_fmt(r.client_cpu_ms_per_req, '.3f'):>7} {_fmt(r.sign_ms, '.3f'):>6} "
              f"{_fmt(r.verify_ms, '.3f'):>6} "
              f"{_fmt(r.ratio, '.2f') if r.ratio is not None else '':>7} "
              f"{_fmt(r.cpu_vs_mtls, '.2f') if r.cpu_vs_mtls is not None else '':>8} "
              f"{_fmt(r.vs_one_worker, '.2f') if r.vs_one_worker is not None else '':>6}{err}")


def _over(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


def with_ratios(rows: list[Row]) -> list[Row]:
    """Each row's req/s over the mTLS and plaintext baselines' at its concurrency, its CPU
    per request over the mTLS proxy's, and workers rows' over their 1-worker row's."""
    mtls = {r.concurrency: r for r in rows if r.path == MTLS}
    plain = {r.concurrency: r for r in rows if r.path == PLAINTEXT}
    single = {(r.path, r.concurrency): r for r in rows}
    out = []
    for r in rows:
        m, p = mtls.get(r.concurrency), plain.get(r.concurrency)
        base = r.path.startswith("baseline")
        one = single.get((r.path.rsplit(", ", 1)[0], r.concurrency)) if "workers" in r.path \
            else None
        out.append(Row(**{
            **asdict(r),
            "ratio": None if base or m is None else _over(r.rps, m.rps),
            "vs_plaintext": None if r is p or p is None else _over(r.rps, p.rps),
            "cpu_vs_mtls": None if base or m is None else _over(r.cpu_ms_per_req,
                                                                 m.cpu_ms_per_req),
            "vs_one_worker": None if one is None else _over(r.rps, one.rps),
            "cpu_per_req_vs_one_worker": None if one is None else _over(r.cpu_ms_per_req,
                                                                        one.cpu_ms_per_req)}))
    return out


def added_latency(rows: list[Row]) -> dict[str, dict[str, float]]:
    """Each broker row's p50/p99 over the mTLS proxy's, both at concurrency 1.

    Empty when concurrency 1 was not run (`--concurrency` without 1): a difference
    between two concurrency levels would not be the broker's added latency.
    """
    c1 = {r.path: r for r in rows if r.concurrency == 1}
    base = c1.get(MTLS)
    if base is None:
        return {}
    return {p: {"p50_ms": round(r.p50_ms - base.p50_ms, 3),
                "p99_ms": round(r.p99_ms - base.p99_ms, 3)}
            for p, r in c1.items() if not p.startswith("baseline")}


def summary_lines(rows: list[Row], added: dict[str, dict[str, float]],
                  micro: dict[str, Any]) -> list[str]:
    """The lines printed under the table, for whichever selection of services, worker
    counts and concurrency levels was run: a figure whose inputs were not measured is
    said to be so, never computed from another level's rows."""
    lines = [f"added latency over the mTLS proxy at concurrency 1, {path}: "
             f"p50 +{delta['p50_ms']} ms, p99 +{delta['p99_ms']} ms (client signing and "
             f"verification not included)" for path, delta in added.items()]
    if not added:
        lines.append("added latency over the mTLS proxy at concurrency 1: not measured "
                     "(concurrency 1 not run)")
    top = max((r.concurrency for r in rows), default=None)
    for r in rows:
        if "workers" not in r.path or r.concurrency != top:
            continue
        if r.vs_one_worker is not None:
            lines.append(f"{r.path} at concurrency {top}: {r.vs_one_worker:.2f}x one worker")
        else:
            lines.append(f"{r.path} at concurrency {top}: vs one worker not measured "
                         f"(1 worker not run)")
    if micro:
        lines.append(
            f"policy decision, {micro['policy_rules']} rules: p50 {micro['policy_p50_us']} µs, "
            f"p99 {micro['policy_p99_us']} µs; audit appends (SQLite, durable): "
            f"{micro['audit_sqlite_appends_per_s_c1']}/s one at a time, "
            f"{micro['audit_sqlite_appends_per_s_c64']}/s from 64 concurrent appenders")
    return lines


def machine() -> dict[str, Any]:
    """What the figures were measured on: CPU, cores, memory, load, versions, commit."""
    import platform
    from importlib.metadata import version

    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines()
                  if line.startswith("model name")), platform.processor())
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    mem_kb = next((int(line.split()[1]) for line in meminfo.splitlines()
                   if line.startswith("MemTotal")), 0)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                            capture_output=True, text=True, check=False).stdout.strip()
    return {"cpu": model, "cores": os.cpu_count(), "memory_gb": round(mem_kb / 2**20, 1),
            "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
            "kernel": platform.release(), "python": platform.python_version(),
            "grpcio": version("grpcio"), "protobuf": version("protobuf"), "commit": commit}


@contextmanager
def postgres_schema() -> Iterator[str | None]:
    """A DSN on a fresh schema (dropped afterwards), or None without PostgreSQL."""
    try:
        import psycopg

        admin = psycopg.connect(PG_DSN, autocommit=True, connect_timeout=2)
    except Exception:  # any failure means: no PostgreSQL rows
        yield None
        return
    schema = f"bench_{os.getpid()}_{int(time.time())}"
    admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{PG_DSN}?options=-csearch_path%3D{schema}"
    finally:
        admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        admin.close()


def micro_figures(work: Path) -> dict[str, Any]:
    """Policy decision latency (1,000 rules) and audit appends/s (SQLite), in this process.

    Short versions of `make bench-policy` and `make bench-audit`, for the sizing table.
    """
    import asyncio

    from g2g_sdk.catalog import Catalog
    from g2g_sdk.registry import load_registry

    from bench.bench_audit import run
    from bench.bench_policy import SCREEN as POLICY_SERVICE
    from bench.bench_policy import percentiles, policy_text
    from broker.audit import AuditConfig
    from broker.policy import RequestContext, compile_sources

    registry = load_registry(REGISTRY, work / "pki")
    consumers = sorted(a for a in registry.agencies if a != "ID/GOV/IMIGRASI")
    rules = 1000
    policy = compile_sources({"gen.yaml": policy_text(rules, consumers).encode()}, registry,
                             Catalog.from_registry(registry))
    now = datetime.now(UTC)
    samples = []
    for k in range(20_000):
        i = (k * 7919) % rules
        context = RequestContext(consumers[i % len(consumers)], "ID/GOV/IMIGRASI",
                                 POLICY_SERVICE, f"purpose_{i}", "UU 6/2011 Pasal 91", None, now)
        t = time.perf_counter_ns()
        policy.evaluate(context)
        samples.append(time.perf_counter_ns() - t)
    p50, p99 = percentiles(samples)

    def appends(concurrency: int, count: int) -> int:
        config = AuditConfig(path=work / f"micro-{concurrency}.db")
        return round(asyncio.run(run(config, concurrency, count)))

    return {"policy_rules": rules, "policy_p50_us": p50, "policy_p99_us": p99,
            "audit_sqlite_appends_per_s_c1": appends(1, 1000),
            "audit_sqlite_appends_per_s_c64": appends(64, 5000)}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: few requests, SQLite only (used by make test)")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--reference", action="store_true",
                        help="write the JSON to bench/reference/ (kept in the repository)")
    parser.add_argument("--note", default="", help="what else ran on the machine, for the JSON")
    parser.add_argument("--services", default=",".join(SERVICES),
                        help=f"comma-separated subset of {', '.join(SERVICES)}")
    parser.add_argument("--workers", default="1,2", help="broker worker counts to run")
    parser.add_argument("--concurrency", default="",
                        help="comma-separated subset of the concurrency levels")
    args = parser.parse_args()
    levels = ([(1, 5, 20), (8, 16, 40)] if args.quick
              else [(1, 100, 800), (16, 300, 2400), (64, 500, 4000)])
    # A selection that names nothing runnable is refused here, not found out after
    # minutes of measuring (an unknown service) or as an empty table.
    if args.concurrency:
        wanted = args.concurrency.split(",")
        unknown = [c for c in wanted if c not in {str(lv[0]) for lv in levels}]
        if unknown:
            parser.error(f"--concurrency: no level {', '.join(unknown)} "
                         f"(levels: {', '.join(str(lv[0]) for lv in levels)})")
        levels = [lv for lv in levels if str(lv[0]) in wanted]
    services = tuple(args.services.split(","))
    if not set(services) <= set(SERVICES):
        parser.error(f"--services: a comma-separated subset of {', '.join(SERVICES)}")
    try:
        worker_counts = [int(n) for n in args.workers.split(",")]
    except ValueError:
        worker_counts = []
    if not worker_counts or min(worker_counts) < 1:
        parser.error("--workers: comma-separated worker counts of at least 1")
    from g2g_sdk import pki

    started = time.monotonic()
    load_before = machine()["load_average_1_5_15"]
    with tempfile.TemporaryDirectory(prefix="g2g-bench-") as tmp:
        work = Path(tmp)
        pki.init_pki(REGISTRY, work / "pki")
        size = sample_envelope_size()
        rows = run_baseline(levels, size) + run_baseline(levels, size, work)
        with _adapters(work) as adapters:
            for workers in worker_counts:
                sqlite = f"  backend: sqlite\n  path: {work / f'audit-{workers}.db'}\n"
                rows += run_broker("sqlite", sqlite, levels, work, adapters, workers, services)
            if not args.quick and 1 in worker_counts and any(c == 1 for c, _, _ in levels):
                # The operator option that trades power-loss durability for latency
                # (docs/AUDIT.md), measured where it matters: one request at a time.
                normal = (f"  backend: sqlite\n  path: {work / 'audit-normal.db'}\n"
                          "  synchronous: normal\n")
                rows += run_broker("sqlite synchronous=normal", normal,
                                   [lv for lv in levels if lv[0] == 1], work, adapters, 1,
                                   services)
            with postgres_schema() as dsn:
                if dsn and not args.quick and not args.no_postgres:
                    rows += run_broker("postgres", f"  backend: postgres\n  dsn: {dsn}\n",
                                       levels, work, adapters, 1, services)
        micro = {} if args.quick else micro_figures(work)
    rows = with_ratios(rows)
    print_table(rows)
    # The events row (publish → 10 verified deliveries) next to raw JetStream, same run.
    from bench import events as events_bench

    event_rows = asyncio.run(events_bench.run(args.quick))
    events_bench.print_rows(event_rows)
    elapsed = round(time.monotonic() - started, 1)
    added = added_latency(rows)
    for line in summary_lines(rows, added, micro):
        print(line)
    host = machine()
    print(f"elapsed {elapsed} s on {host['cores']} cores ({host['cpu']}); load average "
          f"{load_before} before, {host['load_average_1_5_15']} after: other work on the "
          f"machine shows here")
    out = REFERENCE if args.reference else args.out
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    document = {"when": stamp, "quick": args.quick, "cores": os.cpu_count(),
                "machine": {**host, "load_average_before": load_before, "note": args.note},
                "elapsed_s": elapsed, "rows": [asdict(r) for r in rows], "micro": micro,
                "added_latency_c1_over_mtls": added,
                "events": [asdict(r) for r in event_rows]}
    names = [f"bench-{stamp}.json"]
    if not args.reference:
        names.append("latest.json" if not args.quick else "quick.json")
    for name in names:
        (out / name).write_text(json.dumps(document, indent=2) + "\n")
    bad = [r for r in rows if r.errors or r.rps <= 0] + [
        r for r in event_rows if r.errors or r.events_per_s <= 0]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
