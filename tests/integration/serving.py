"""An Orchestrator serving gRPC inside the test process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import grpc

from services.gen.fleet.orchestrator.v1 import orchestrator_pb2_grpc as pb_grpc
from services.orchestrator.bootstrap import App, bootstrap
from services.orchestrator.entrypoints.service import register
from services.orchestrator.settings import OrchestratorSettings


@asynccontextmanager
async def serving(settings: OrchestratorSettings) -> AsyncIterator[tuple[App, pb_grpc.OrchestratorServiceStub]]:
    """An Orchestrator wired by `bootstrap`, its gRPC service on a free port of this process."""
    app = await bootstrap(settings)
    server = grpc.aio.server()
    register(app, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield app, pb_grpc.OrchestratorServiceStub(channel)
    finally:
        await server.stop(0)
        await app.close()
