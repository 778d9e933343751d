"""Helpers shared by the Context integration tests: a live ContextApp on the stack's
real servers, an in-process gRPC server in front of it, and polling helpers."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

import grpc
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError

from services.context.bootstrap import ContextApp, bootstrap
from services.context.entrypoints.grpc_servicer import ContextServicer
from services.context.settings import ContextSettings
from services.gen.fleet.context.v1 import context_pb2_grpc
from tests.waiting import until


def settings_for(env: dict[str, str], **overrides: Any) -> ContextSettings:
    values: dict[str, Any] = {
        "nats_url": env["NATS_URL"],
        "neo4j_uri": env["NEO4J_URI"],
        "neo4j_user": env["NEO4J_USER"],
        "neo4j_password": env["NEO4J_PASSWORD"],
        "valkey_url": env["VALKEY_URL"],
    }
    values.update(overrides)
    return ContextSettings(**values)


@dataclass
class LiveContext:
    app: ContextApp
    stub: context_pb2_grpc.ContextServiceStub
    js: JetStreamContext
    prefix: str
    stop: asyncio.Event
    tasks: list[asyncio.Task[None]]
    server: grpc.aio.Server
    channel: grpc.aio.Channel

    async def close(self) -> None:
        self.stop.set()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.channel.close()
        await self.server.stop(1)
        for durable in (
            f"{self.prefix}-plan-approved",
            f"{self.prefix}-story-transitioned",
            f"{self.prefix}-deliberations",
        ):
            stream = "ORCHESTRATION_EVENTS" if durable.endswith("deliberations") else "PLANNING_EVENTS"
            try:
                await self.js.delete_consumer(stream, durable)
            except Exception:
                pass
        await self.app.close()


async def start_live(env: dict[str, str], consumers: bool = True, **overrides: Any) -> LiveContext:
    # A durable prefix of our own: this test's consumers see every event, whatever
    # else (the stack's own context service) consumes the same streams.
    prefix = f"ctxtest-{uuid.uuid4().hex[:8]}"
    app = await bootstrap(settings_for(env, **overrides), consumers=consumers, consumer_prefix=prefix)
    stop = asyncio.Event()
    tasks = [asyncio.create_task(w(stop)) for w in app.workers]
    server = grpc.aio.server()
    context_pb2_grpc.add_ContextServiceServicer_to_server(ContextServicer(app.deps), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    return LiveContext(
        app,
        context_pb2_grpc.ContextServiceStub(channel),
        app.nats.jetstream(),
        prefix,
        stop,
        tasks,
        server,
        channel,
    )


async def wait_consumed(live: LiveContext, stream: str, durable: str, seq: int, within: float = 180.0) -> None:
    """Until the consumer has delivered past `seq` and nothing is awaiting ack: every
    message up to `seq` was acked (after commit) or terminated. A test's fresh durable first
    replays what earlier tests left in the stream (the fuzz suite leaves thousands), hence the bound."""

    async def done() -> bool:
        try:
            info = await live.js.consumer_info(stream, f"{live.prefix}-{durable}")
        except NotFoundError:  # the worker creates its durable on its first pull
            return False
        return info.delivered.stream_seq >= seq and info.num_ack_pending == 0

    await until(done, within, f"{durable} to consume past {seq}")


async def graph_counts(live: LiveContext, prefix: str) -> tuple[int, int]:
    """Nodes and relationships that belong to ids starting with `prefix`."""
    # Deliberation nodes are left out: the stack's own Orchestrator consumes the same plans and
    # queues deliberations for them at its own pace, which is not what these counts measure.
    query = """
    MATCH (n) WHERE NOT n:Deliberation
      AND any(k IN ['story_id', 'name', 'deliberation_id', 'task_id'] WHERE n[k] STARTS WITH $p)
    OPTIONAL MATCH (n)-[r]-(m) WHERE NOT m:Deliberation
    RETURN count(DISTINCT n) AS nodes, count(DISTINCT r) AS rels
    """
    records, _, _ = await live.app.graph.driver.execute_query(query, p=prefix)
    return int(records[0]["nodes"]), int(records[0]["rels"])
