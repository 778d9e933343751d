"""The Orchestrator's composition root: the only place that builds adapters and
hands them to handlers and entrypoints."""

from __future__ import annotations

from services.gen.fleet.orchestrator.v1 import orchestrator_pb2, orchestrator_pb2_grpc
from services.shared import grpcserver, jetstream
from services.shared.settings import OrchestratorSettings

SERVICE_NAME = orchestrator_pb2.DESCRIPTOR.services_by_name["OrchestratorService"].full_name


async def serve(settings: OrchestratorSettings) -> None:
    nc = await jetstream.connect(settings.nats_url, "conclave-orchestrator")
    await jetstream.ensure_streams(nc.jetstream())
    servicer = orchestrator_pb2_grpc.OrchestratorServiceServicer()

    async def close() -> None:
        await nc.drain()

    plan = grpcserver.ServerPlan(
        port=settings.grpc_port,
        metrics_port=settings.metrics_port,
        services=[
            grpcserver.ServiceBinding(
                SERVICE_NAME,
                lambda server: orchestrator_pb2_grpc.add_OrchestratorServiceServicer_to_server(servicer, server),
            )
        ],
        close=close,
        grace_s=settings.shutdown_grace_s,
    )
    await grpcserver.run(plan)
