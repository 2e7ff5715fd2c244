"""The broker's gRPC server: Exchange, Catalog, Audit, health and reflection.

`start_broker(config)` builds every dependency once, binds the configured
address (port 0 for tests) and returns a `RunningBroker`. The servicers are
thin: they hand requests to broker.pipeline and map `G2GError` to a status
through g2g_sdk.status, the only place that picks codes.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import sys
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import grpc
import structlog
from g2g_sdk import boundary, keys, logs, pki, revocation, tls
from g2g_sdk._gen.g2g.v1 import (
    broker_pb2,
    broker_pb2_grpc,
    envelope_pb2,
)
from g2g_sdk.catalog import Catalog, ServiceSpec, file_descriptor_set
from g2g_sdk.errors import ConfigError, G2GError, Overloaded, StartupError, UnknownServiceError
from g2g_sdk.identity import OwnIdentity
from g2g_sdk.registry import Registry
from g2g_sdk.reload import Reloader
from g2g_sdk.revocation import CrlState, crl_reloader
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from prometheus_client import generate_latest

from broker import pipeline, workers
from broker.admission import Gate
from broker.audit import AuditStore, open_store
from broker.config import BrokerConfig, Limits
from broker.expiry import ExpiryMonitor
from broker.forward import ProviderClients
from broker.metrics import BrokerMetrics, certificate_expiry
from broker.opsport import OpsPort, start_ops_port
from broker.policy import PolicySet
from broker.policy.permissions import Permission, permissions
from broker.policy.reload import PolicyWatcher
from broker.provider_cert import ProviderCertificates
from broker.provider_health import ProviderHealth
from broker.replay import MemoryReplayGuard
from broker.trust import Trust, load_trust, registry_reloader
from broker.typing import Clock

log = structlog.get_logger("g2g.broker")

_SERVICE_NAMES = ("g2g.v1.Exchange", "g2g.v1.Catalog", "g2g.v1.Audit")


class ExchangeServicer:
    """g2g.v1.Exchange; `Call` receives the request's raw bytes (see `add_exchange`)."""

    def __init__(self, broker: pipeline.Broker, gate: Gate) -> None:
        self._broker = broker
        self._gate = gate
        self._shed_records: set[asyncio.Future[None]] = set()

    async def Call(  # noqa: N802 (gRPC method name)
        self, request: bytes,
        context: grpc.aio.ServicerContext[bytes, envelope_pb2.Envelope],
    ) -> envelope_pb2.Envelope:
        peer = boundary.caller_agency()  # None: the pipeline refuses and audits the call
        try:
            self._gate.check(peer or "")
        except Overloaded as exc:
            # Shedding must cost least when the broker has least to spare: the refusal
            # is answered now and its record commits behind it (one the store refuses
            # is logged as audit_failed, as a late outcome is).
            record = asyncio.ensure_future(pipeline.refuse(
                request, peer, self._broker, exc, refuse_unrecorded=False))
            self._shed_records.add(record)
            record.add_done_callback(self._shed_records.discard)
            raise
        except G2GError as exc:  # draining: refused once the refusal is recorded
            await pipeline.refuse(request, peer, self._broker, exc)
            raise
        with self._gate.admit(peer or ""):
            return await pipeline.handle_call(request, peer, self._broker,
                                              context.time_remaining,
                                              boundary.caller_certificate())


def add_exchange(servicer: ExchangeServicer, server: grpc.aio.Server) -> None:
    """Register Exchange/Call with no request deserializer of gRPC's own.

    The generated registration parses the Envelope before any handler runs, so
    bytes that are not one would fail as UNKNOWN with a Python exception text and
    no audit record. With the identity deserializer the pipeline parses them
    (`envelope.parse_envelope`): a refusal with a reason, audited with the TLS identity.
    """
    handlers = {"Call": grpc.unary_unary_rpc_method_handler(
        servicer.Call, request_deserializer=None,
        response_serializer=envelope_pb2.Envelope.SerializeToString)}
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
        "g2g.v1.Exchange", handlers),))


class CatalogServicer(broker_pb2_grpc.CatalogServicer):
    def __init__(self, catalog: Callable[[], Catalog],
                 policies: Callable[[], PolicySet] | None = None) -> None:
        self._catalog = catalog  # the live catalog (follows registry reloads)
        self._policies = policies  # the policy in force (follows policy reloads)

    @staticmethod
    def _infos(spec: ServiceSpec, provider: str = "") -> list[broker_pb2.ServiceInfo]:
        return [broker_pb2.ServiceInfo(
            name=spec.name, provider=agency,
            request_type=spec.request_descriptor.full_name,
            response_type=spec.response_descriptor.full_name,
            description=offer.description)
            for agency, offer in sorted(spec.offers.items()) if not provider or agency == provider]

    async def ListServices(  # noqa: N802
        self, request: broker_pb2.ListServicesRequest, context: grpc.aio.ServicerContext[
            broker_pb2.ListServicesRequest, broker_pb2.ListServicesResponse],
    ) -> broker_pb2.ListServicesResponse:
        if request.callable_only:
            return self._callable(boundary.agency(), request.provider)
        return broker_pb2.ListServicesResponse(services=[
            info for _, spec in sorted(self._catalog().services.items())
            for info in self._infos(spec, request.provider)])

    def _callable(self, caller: str, provider: str) -> broker_pb2.ListServicesResponse:
        """The services `caller` may call under the policy in force, with their permissions."""
        by_offer: dict[tuple[str, str], list[Permission]] = {}
        if self._policies is not None:
            for allowed in permissions(self._policies(), caller, datetime.now(UTC)):
                by_offer.setdefault((allowed.service, allowed.provider), []).append(allowed)
        catalog = self._catalog()
        services = []
        for (name, agency), allowed_for in sorted(by_offer.items()):
            spec = catalog.get(name)
            if spec is None or agency not in spec.offers or (provider and agency != provider):
                continue
            (info,) = self._infos(spec, agency)
            info.permissions.extend(broker_pb2.Permission(
                purpose=a.purpose, legal_basis=a.legal_basis, rule_ids=a.rule_ids,
                conditional=a.conditional) for a in allowed_for)
            services.append(info)
        return broker_pb2.ListServicesResponse(services=services)

    async def DescribeService(  # noqa: N802
        self, request: broker_pb2.DescribeServiceRequest, context: grpc.aio.ServicerContext[
            broker_pb2.DescribeServiceRequest, broker_pb2.DescribeServiceResponse],
    ) -> broker_pb2.DescribeServiceResponse:
        spec = self._catalog().get(request.name)
        if spec is None:
            raise UnknownServiceError(f"no service named {request.name}")
        return broker_pb2.DescribeServiceResponse(
            service=self._infos(spec)[0], schema=file_descriptor_set(spec.method))


@dataclass
class RunningBroker:
    """A started broker; `port` is the bound port (useful with port 0)."""

    server: grpc.aio.Server
    port: int
    broker: pipeline.Broker
    audit: AuditStore
    watcher: PolicyWatcher
    metrics: BrokerMetrics
    gate: Gate
    health: health.aio.HealthServicer
    registry: Reloader[Trust]
    crls: Reloader[CrlState]
    monitor: ExpiryMonitor
    identity: OwnIdentity
    services: tuple[str, ...] = _SERVICE_NAMES  # every g2g service served (health names)
    provider_health: ProviderHealth | None = None  # `ops.ready_requires_providers` set
    _closers: list[object] = field(default_factory=list)

    def request_reload(self) -> None:
        """Re-read the registry, the CRLs and the policies now (SIGHUP)."""
        self.registry.request_reload()
        self.crls.request_reload()
        self.watcher.request_reload()
        self.identity.request_reload()

    def readiness(self) -> list[str]:
        """The readiness checks failing now; empty when this broker should get calls."""
        failing = []
        if self.gate.draining:
            failing.append("draining")
        if not self.audit.writable:
            failing.append("audit store not writable")
        if self.provider_health is not None:
            failing.extend(self.provider_health.failing())
        return failing

    def refresh_metrics(self) -> None:
        """Sample the gauges (at each scrape, and each second for multi-worker brokers)."""
        m = self.metrics
        m.in_flight.set(self.gate.in_flight)
        m.audit_queue.set(self.audit.queue_depth)
        m.checkpoint_age.set(self.audit.checkpoint_age())
        m.audit_writable.set(1 if self.audit.writable else 0)
        replay = self.broker.replay
        m.replay_entries.set(len(replay) if isinstance(replay, MemoryReplayGuard) else 0)
        m.versions(policy=self.watcher.current.version, registry=self.registry.current.version)
        m.policy_rejected.set(1 if self.watcher.last_error else 0)
        # Cleared first: a retired certificate's series must vanish, not freeze at its
        # last value. The broker's own pair is read live (it may have been rotated).
        m.cert_expiry.clear()
        own = self.identity.current
        for name, pem in (("broker-tls", own.tls_cert_pem), ("federation-ca", own.ca_pem)):
            m.cert_expiry.labels(name).set(certificate_expiry(pem))
        # Every published certificate of every party and every CRL's nextUpdate
        # (broker/expiry.py), labelled "<kind>:<party>:<serial or CRL file>".
        for (kind, party, serial), left in self.monitor.figures().items():
            m.cert_expiry.labels(f"{kind}:{party}:{serial}").set(left)
        m.draining.set(1 if self.gate.draining else 0)
        m.ready.set(0 if self.readiness() else 1)

    def exposition(self) -> bytes:
        """The Prometheus text of this process, sampled now."""
        self.refresh_metrics()
        return generate_latest(self.metrics.registry)

    async def start_ops_port(self, listen: str) -> OpsPort:
        """Serve /metrics, /healthz and /readyz of this broker on `listen` (plain HTTP)."""
        port = await start_ops_port(listen, self.exposition, self.readiness)
        self._closers.insert(0, port)
        return port

    async def drain(self, timeout: float) -> bool:
        """Refuse new calls (DRAINING, /readyz 503, health NOT_SERVING) and wait up to
        `timeout` s for the calls in flight; True if they all finished."""
        if not self.gate.draining:
            log.info("broker_draining", in_flight=self.gate.in_flight)
        for name in ("", *self.services):
            await self.health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        finished = await self.gate.drain(timeout)
        if not finished:
            log.error("drain_timeout", in_flight=self.gate.in_flight, seconds=timeout)
        return finished

    async def stop(self, grace: float = 2.0) -> None:
        """Stop accepting calls, let in-flight ones finish, then flush the audit log."""
        await self.server.stop(grace)
        await self.watcher.stop()
        await self.registry.stop()
        await self.crls.stop()
        await self.identity.stop()
        await self.monitor.stop()
        for closer in self._closers:
            await closer.close()  # type: ignore[attr-defined]
        await self.audit.close()


def _utc_now() -> datetime:
    return datetime.now(UTC)


async def start_broker(config: BrokerConfig, *, clock: Clock = _utc_now,
                       listen: str | None = None,
                       registry: Registry | None = None,
                       endpoints: Mapping[str, str] | None = None,
                       worker: int | None = None) -> RunningBroker:
    """Build the broker from `config` and start serving; returns once bound.

    The registry is read from `config.registry` and hot reloaded (broker/trust.py).
    `endpoints` overrides provider endpoints in every version loaded (tests and
    the demo bind adapters to port 0); a `registry` passed in supplies them from
    its agencies. A `worker` logs `worker_started`; its supervisor logs
    `broker_started` once all serve.
    """
    if registry is not None and endpoints is None:
        endpoints = {a.id: a.endpoint for a in registry.agencies.values() if a.endpoint}
    trust = load_trust(config.registry, config.pki_dir, endpoints)
    # Fail closed at start-up too: no valid, fresh CRL of the federation CA, no broker.
    crls = crl_reloader(config.revocation(), interval=config.trust.reload_seconds,
                        clock=clock)
    # The broker's own TLS pair and signing key, switched after a rotation (broker/identity.py).
    own = OwnIdentity(config.pki_dir, "broker", lambda: registry_watch.current.registry,
                      interval=config.trust.reload_seconds)
    log_key = pki.load_log_key(config.pki_dir)
    log_secret_path = config.pki_dir / "broker" / "log-secret"
    keys.check_private_mode(log_secret_path)
    audit = await open_store(config.audit, log_key=log_key, instance_id=config.instance_id)
    try:
        # Every policy set and registry version that ever decides is kept by version
        # next to the log.
        watcher = PolicyWatcher(config.policies, trust.registry, trust.catalog,
                                on_loaded=lambda p: audit.record_policy(p.version, p.sources))
        registry_watch = registry_reloader(config.registry, config.pki_dir, trust, watcher,
                                           audit.record_registry, endpoints=endpoints)
    except G2GError:
        await audit.close()
        raise

    def current_trust() -> Trust:
        return registry_watch.current

    def current_registry() -> Registry:
        return registry_watch.current.registry

    def current_catalog() -> Catalog:
        return registry_watch.current.catalog

    broker_dir = pki.party_dir(config.pki_dir, "broker")
    clients = ProviderClients(
        current_registry, lambda: own.current, config.limits.transport_max_bytes,
        ProviderCertificates(lambda: crls.current, own.current.ca_pem, broker_dir / "tls.crt",
                             broker_dir / "tls.key",
                             recheck_seconds=config.trust.provider_recheck_seconds,
                             clock=clock))

    def current_policies() -> PolicySet:
        return watcher.current

    metrics = BrokerMetrics(current_registry, current_catalog)
    audit.on_commit = metrics.audit_commit
    broker = pipeline.Broker(
        broker_id=trust.registry.broker_id, instance_id=config.instance_id,
        trust=current_trust, policies=current_policies, audit=audit,
        replay=MemoryReplayGuard(clock, config.limits.replay_cache_entries,
                                 config.limits.replay_cache_per_sender),
        forward=clients, signer=own.signer,
        log_secret=log_secret_path.read_bytes(), limits=config.limits, clock=clock,
        observe=metrics, peer_check=revocation.PeerChecker(lambda: crls.current, clock).check)
    server = grpc.aio.server(interceptors=[boundary.Boundary(
        party="broker", fault_event="server_fault", observe=metrics.rpc)],
        options=[*server_options(config.limits),
                 ("grpc.so_reuseport", 1 if config.workers > 1 else 0)])
    gate = Gate(config.limits.max_concurrent_calls,
                config.limits.max_concurrent_calls_per_consumer)
    add_exchange(ExchangeServicer(broker, gate), server)
    broker_pb2_grpc.add_CatalogServicer_to_server(
        CatalogServicer(current_catalog, current_policies), server)
    _add_audit_service(server, audit, current_registry, broker.log_secret)
    closers, service_names = await _add_optional_services(server, config, broker, clients,
                                                          gate)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = [*service_names, health.SERVICE_NAME, reflection.SERVICE_NAME]
    reflection.enable_server_reflection(names, server)
    try:
        port = tls.bind(server, listen or config.listen, own.server_credentials())
    except StartupError:
        for closer in closers:
            await closer.close()  # type: ignore[attr-defined]
        await audit.close()
        raise
    await server.start()
    for poller in (watcher, registry_watch, crls, own):
        poller.start()
    monitor = ExpiryMonitor(
        lambda: (registry_watch.current.registry, crls.current, own.current.tls_cert_pem),
        window=timedelta(days=config.trust.expiry_warning_days),
        interval=config.trust.check_interval_seconds, clock=clock)
    monitor.start()
    for name in ("", *service_names):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    provider_health = _provider_health(config, current_registry, clients, closers)
    log.info("broker_started" if worker is None else "worker_started", port=port,
             instance_id=config.instance_id, policy_version=watcher.current.version,
             registry_version=trust.version, services=len(trust.catalog.services))
    return RunningBroker(server=server, port=port, broker=broker, audit=audit,
                         watcher=watcher, registry=registry_watch, metrics=metrics,
                         gate=gate, health=health_servicer, crls=crls, monitor=monitor,
                         identity=own,
                         services=tuple(service_names), provider_health=provider_health,
                         _closers=closers)


def server_options(limits: Limits) -> list[tuple[str, int]]:
    """gRPC server options bounding messages and connections.

    A connection must finish its TLS handshake in time, is closed when idle,
    and is retired (after a grace period for its calls) at a maximum age, so
    a load balancer in front re-spreads clients and nothing is held forever.
    """
    def ms(seconds: float) -> int:
        return int(seconds * 1000)

    return [
        ("grpc.max_receive_message_length", limits.transport_max_bytes),
        ("grpc.max_send_message_length", limits.transport_max_bytes),
        ("grpc.server_handshake_timeout_ms", ms(limits.handshake_timeout_seconds)),
        ("grpc.max_connection_idle_ms", ms(limits.connection_idle_seconds)),
        ("grpc.max_connection_age_ms", ms(limits.connection_max_age_seconds)),
        ("grpc.max_connection_age_grace_ms", ms(limits.connection_age_grace_seconds)),
    ]


def _provider_health(config: BrokerConfig, registry: Callable[[], Registry],
                     clients: ProviderClients, closers: list[object]) -> ProviderHealth | None:
    """Start probing `ops.ready_requires_providers` for /readyz, if any are listed."""
    if not config.ops.ready_requires_providers:
        return None
    checker = ProviderHealth(config.ops.ready_requires_providers, registry, clients.channel,
                             interval=config.ops.provider_check_seconds,
                             timeout=config.ops.provider_check_timeout_seconds)
    checker.start()
    closers.insert(0, checker)  # stopped before the channels it probes close
    return checker


async def _add_optional_services(server: grpc.aio.Server, config: BrokerConfig,
                                 broker: pipeline.Broker, clients: ProviderClients,
                                 gate: Gate) -> tuple[list[object], list[str]]:
    """The configured optional services (g2g.v1.Events when `events:` is set): what to
    close with the broker, and every service name served."""
    closers: list[object] = [clients]
    names = list(_SERVICE_NAMES)
    if config.events is not None:
        from broker.events.service import add_events_service

        # Connects to JetStream in the background: the broker serves exchanges meanwhile.
        closers.append(await add_events_service(server, config.events, broker, gate))
        names.append("g2g.v1.Events")
    return closers, names


def _add_audit_service(server: grpc.aio.Server, audit: AuditStore,
                       registry: Callable[[], Registry], log_secret: bytes) -> None:
    from broker.audit.service import add_audit_service

    add_audit_service(server, audit, registry, log_secret)


async def serve(config: BrokerConfig, *, worker: int | None = None) -> None:
    """Run until SIGINT/SIGTERM, then drain and seal the log; SIGHUP reloads the registry
    and the policies.

    Draining refuses new calls with UNAVAILABLE / DRAINING (and /readyz answers
    503) while the calls in flight finish, for at most `ops.drain_seconds`.

    As worker `worker` of a `--workers N` broker (broker/workers.py) it also
    stops when the parent's pipe on stdin closes, and reports readiness on stdout.
    """
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    # Handlers first: a stop request during start-up must still shut down cleanly.
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    watch_parent = None
    if worker is not None:
        # Every log line of this process, and of the tasks it starts, names the worker.
        structlog.contextvars.bind_contextvars(worker=worker)
        watch_parent = asyncio.ensure_future(workers.parent_gone(stop))
        config = replace(config, instance_id=workers.worker_instance_id(
            config.instance_id, worker))
    _export_spans(config)
    running = await start_broker(config, worker=worker)
    # What start-up built lives as long as the process: keep it out of every later
    # garbage collection (each full collection would walk it again).
    gc.collect()
    gc.freeze()
    loop.add_signal_handler(signal.SIGHUP, running.request_reload)
    if worker is None and config.ops.listen:
        await running.start_ops_port(config.ops.listen)
    if worker is not None:
        sys.stdout.buffer.write(workers.READY)
        sys.stdout.flush()
        logs.discard_stdout()  # nobody reads the pipe after this line
    stopped = asyncio.Event()
    reporting = asyncio.ensure_future(report_tally(running.broker.tally, stopped))
    # A worker's gauges reach the supervisor's /metrics through files, so they are
    # sampled each second rather than at a scrape this process never sees.
    sampling = (asyncio.ensure_future(_sample(running, stopped)) if worker is not None
                else None)
    await stop.wait()
    await running.drain(config.ops.drain_seconds)
    await running.stop()
    stopped.set()  # after the drain, so the last report counts every answered call
    await reporting
    if sampling is not None:
        await sampling
    if watch_parent is not None:
        watch_parent.cancel()


def _export_spans(config: BrokerConfig) -> None:
    """Send this process's spans to the configured OTLP collector (off by default)."""
    if not config.tracing.otlp_endpoint:
        return
    try:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (  # type: ignore[import-not-found, unused-ignore]
            OTLPSpanExporter,
        )
    except ImportError:
        raise ConfigError("tracing.otlp_endpoint needs the OTLP exporter: "
                          "pip install 'g2g[otlp]'", file=config.source,
                          field="tracing.otlp_endpoint") from None
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create(
        {"service.name": config.tracing.service_name, "service.instance.id": config.instance_id}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(
        endpoint=config.tracing.otlp_endpoint)))
    trace.set_tracer_provider(provider)


async def _sample(running: RunningBroker, stopped: asyncio.Event,
                  every_seconds: float = 1.0) -> None:
    while not stopped.is_set():
        running.refresh_metrics()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopped.wait(), every_seconds)


async def report_tally(tally: Counter[str], stopped: asyncio.Event,
                       every_seconds: float = 1.0,
                       emit: Callable[[dict[str, int]], None] | None = None) -> None:
    """Report the cumulative counts by status whenever they changed: each tick and at the end.

    By default as an `exchange_counts` log line, which `g2g up` reads.
    """
    emit = emit or _log_counts
    reported: dict[str, int] = {}
    while True:
        stopping = False
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopped.wait(), every_seconds)
            stopping = True
        if dict(tally) != reported:
            reported = dict(tally)
            emit(reported)
        if stopping:
            return


def _log_counts(counts: dict[str, int]) -> None:
    # The pid tells a restarted worker (counting from zero) from the one it replaced.
    log.info("exchange_counts", counts=counts, pid=os.getpid())
