"""Runs a grpc.aio server the same way for every service: health, reflection,
Prometheus metrics, background workers and a bounded graceful shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from prometheus_client import start_http_server

log = logging.getLogger(__name__)

Worker = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


@dataclass
class ServiceBinding:
    full_name: str
    register: Callable[[grpc.aio.Server], None]


@dataclass
class ServerPlan:
    port: int
    metrics_port: int
    services: Sequence[ServiceBinding]
    # Long-running loops (e.g. NATS consumers) that must stop when `stop` is set.
    workers: Sequence[Worker] = ()
    # Closes connections once RPCs and workers are done.
    close: Callable[[], Awaitable[None]] | None = None
    grace_s: float = 10.0
    ready: asyncio.Event = field(default_factory=asyncio.Event)


async def run(plan: ServerPlan, stop: asyncio.Event | None = None) -> None:
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    server = grpc.aio.server()
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for binding in plan.services:
        binding.register(server)
    names = [b.full_name for b in plan.services]
    reflection.enable_server_reflection([*names, health.SERVICE_NAME, reflection.SERVICE_NAME], server)
    bound = server.add_insecure_port(f"0.0.0.0:{plan.port}")
    metrics_server, _ = start_http_server(plan.metrics_port) if plan.metrics_port else (None, None)
    await server.start()

    for name in ("", *names):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    workers = [asyncio.create_task(worker(stop)) for worker in plan.workers]
    log.info("serving", extra={"port": bound, "metrics_port": plan.metrics_port, "services": names})
    plan.ready.set()

    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait([stopped, *workers], return_when=asyncio.FIRST_COMPLETED)
    for task in workers:
        if task.done() and task.exception():
            log.error("worker died, shutting down", exc_info=task.exception())
    stop.set()

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
