"""The Orchestrator service's entrypoint: the gRPC server, its NATS consumers and the probes of
its dependencies, around the Deps that bootstrap builds."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import grpc
from nats.aio.client import Client as NATS

from services.gen.fleet.orchestrator.v1 import orchestrator_pb2, orchestrator_pb2_grpc
from services.orchestrator.bootstrap import App, bootstrap
from services.orchestrator.entrypoints.consumers import workers
from services.orchestrator.entrypoints.grpc_servicer import OrchestratorServicer
from services.orchestrator.settings import OrchestratorSettings
from services.shared import grpcserver
from services.shared.deadletter import DeadLetters
from services.shared.supervision import Dependency

SERVICE_NAME = orchestrator_pb2.DESCRIPTOR.services_by_name["OrchestratorService"].full_name


def register(app: App, server: grpc.aio.Server) -> None:
    orchestrator_pb2_grpc.add_OrchestratorServiceServicer_to_server(OrchestratorServicer(app.deps), server)


def _connected(nc: NATS) -> Callable[[], Awaitable[bool]]:
    async def connected() -> bool:
        return bool(nc.is_connected)

    return connected


async def serve(settings: OrchestratorSettings) -> None:
    app = await bootstrap(settings)
    letters = await DeadLetters.open(app.nc, settings.dead_letter_max_inline_bytes, replicas=settings.nats_replicas)
    plan = grpcserver.ServerPlan(
        port=settings.grpc_port,
        metrics_port=settings.metrics_port,
        services=[grpcserver.ServiceBinding(SERVICE_NAME, lambda server: register(app, server))],
        workers=workers(app.nc.jetstream(), app.deps, letters=letters),
        dependencies=[
            Dependency("nats", _connected(app.nc)),
            Dependency("ray", app.deps.jobs.reachable),
        ],
        close=app.close,
        grace_s=settings.shutdown_grace_s,
    )
    await grpcserver.run(plan)
