"""Runs a grpc.aio server the same way for every service: health, reflection,
Prometheus metrics, supervised background workers and a bounded graceful shutdown.

Health: the overall "" status and each service's name report readiness (NOT_SERVING
while a worker loop or a dependency is down); "liveness" stays SERVING while the
process can serve at all."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from prometheus_client import start_http_server

from services.shared import tracing
from services.shared.grpcmetrics import ServerMetrics
from services.shared.supervision import Dependency, Readiness, Worker, name_of, supervise, watch

log = logging.getLogger(__name__)

__all__ = ["LIVENESS", "ServerPlan", "ServiceBinding", "run"]
LIVENESS = "liveness"


@dataclass
class ServiceBinding:
    full_name: str
    register: Callable[[grpc.aio.Server], None]


@dataclass
class ServerPlan:
    port: int
    metrics_port: int
    services: Sequence[ServiceBinding]
    # Long-running loops (e.g. NATS consumers) that must stop when `stop` is set; one that
    # fails is restarted with back-off (services.shared.supervision).
    workers: Sequence[Worker] = ()
    # Probed every `check_interval_s`; readiness is NOT_SERVING while any is down.
    dependencies: Sequence[Dependency] = ()
    check_interval_s: float = 2.0
    # Closes connections once RPCs and workers are done.
    close: Callable[[], Awaitable[None]] | None = None
    grace_s: float = 10.0
    ready: asyncio.Event = field(default_factory=asyncio.Event)


async def run(plan: ServerPlan, stop: asyncio.Event | None = None) -> None:
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    server = grpc.aio.server(interceptors=[*tracing.server_interceptors(), ServerMetrics()])
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for binding in plan.services:
        binding.register(server)
    names = [b.full_name for b in plan.services]
    reflection.enable_server_reflection([*names, health.SERVICE_NAME, reflection.SERVICE_NAME], server)
    bound = server.add_insecure_port(f"0.0.0.0:{plan.port}")
    metrics_server, _ = start_http_server(plan.metrics_port) if plan.metrics_port else (None, None)
    await server.start()

    readiness_names = ("", *names)

    async def announce(ready: bool) -> None:
        status = health_pb2.HealthCheckResponse.SERVING if ready else health_pb2.HealthCheckResponse.NOT_SERVING
        if not stop.is_set():
            for name in readiness_names:
                await health_servicer.set(name, status)

    readiness = Readiness(announce)
    for name in (*readiness_names, LIVENESS):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    loops = [supervise(name_of(w, i), w, stop, readiness) for i, w in enumerate(plan.workers)]
    if plan.dependencies:
        loops.append(watch(plan.dependencies, stop, readiness, plan.check_interval_s))
    workers = [asyncio.create_task(loop) for loop in loops]
    log.info("serving", extra={"port": bound, "metrics_port": plan.metrics_port, "services": names})
    plan.ready.set()

    await stop.wait()

    log.info("shutting down", extra={"grace_s": plan.grace_s})
    await health_servicer.enter_graceful_shutdown()
    _, pending = await asyncio.wait(workers, timeout=plan.grace_s) if workers else (set(), set())
    for task in pending:
        task.cancel()
    await server.stop(plan.grace_s)
    if plan.close:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(plan.close(), timeout=plan.grace_s)
    if metrics_server:
        metrics_server.shutdown()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.remove_signal_handler(sig)
    log.info("stopped")
