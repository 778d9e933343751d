"""Composition root of the Context service: the one place that builds adapters."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from nats.aio.client import Client as NATS
from neo4j import AsyncGraphDatabase

from services.context.adapters.neo4j_graph import Neo4jGraph
from services.context.adapters.tokenizer import load_counter
from services.context.adapters.valkey_cache import ValkeyCache
from services.context.domain.scope import ScopePolicy, policy_from_mapping
from services.context.entrypoints.grpc_servicer import ContextServicer
from services.context.entrypoints.nats_consumers import consumer_specs, consumer_workers
from services.context.ports import Deps
from services.context.settings import ContextSettings
from services.gen.fleet.context.v1 import context_pb2, context_pb2_grpc
from services.shared import grpcserver, jetstream
from services.shared.deadletter import DeadLetters
from services.shared.events import Event
from services.shared.supervision import Dependency, Worker

log = logging.getLogger(__name__)
POLICY_PATH = Path(__file__).with_name("scope_policy.yaml")
SERVICE_NAME = context_pb2.DESCRIPTOR.services_by_name["ContextService"].full_name


def load_policy(path: Path = POLICY_PATH) -> ScopePolicy:
    return policy_from_mapping(yaml.safe_load(path.read_text(encoding="utf-8")))


@dataclass
class ContextApp:
    deps: Deps
    graph: Neo4jGraph
    cache: ValkeyCache
    nats: NATS
    workers: list[Worker] = field(default_factory=list)
    dependencies: list[Dependency] = field(default_factory=list)

    def servicer(self) -> ContextServicer:
        return ContextServicer(self.deps)

    async def close(self) -> None:
        await self.nats.drain()
        await self.cache.close()
        await self.graph.close()


async def bootstrap(settings: ContextSettings, consumers: bool = True, consumer_prefix: str = "context") -> ContextApp:
    driver = AsyncGraphDatabase.driver(
        settings.neo4j_uri,
        auth=(settings.neo4j_user, settings.neo4j_password.get_secret_value()),
        notifications_min_severity="OFF",
        max_transaction_retry_time=5.0,
    )
    graph = Neo4jGraph(driver)
    await driver.verify_connectivity()
    await graph.ensure_schema()
    cache = ValkeyCache.from_url(settings.valkey_url, settings.context_cache_ttl_s)
    if not await cache.ping():
        log.warning("valkey unreachable at start; serving from neo4j until it answers")
    nc = await jetstream.connect(settings.nats_url, "conclave-context")
    js = nc.jetstream()
    await jetstream.ensure_streams(
        js, duplicate_window_s=settings.nats_duplicate_window_s, replicas=settings.nats_replicas
    )
    letters = await DeadLetters.open(nc, settings.dead_letter_max_inline_bytes, replicas=settings.nats_replicas)

    async def publish(event: Event) -> bool:
        return await jetstream.publish(js, event)

    counter, tokenizer = load_counter(settings.vllm_model, settings.tokenizer_vocabularies)
    log.info("context tokenizer", extra={"tokenizer": tokenizer, "model": settings.vllm_model})
    deps = Deps(graph=graph, cache=cache, publish=publish, policy=load_policy(), count=counter, tokenizer=tokenizer)
    app = ContextApp(deps, graph, cache, nc)

    async def nats_up() -> bool:
        return bool(nc.is_connected)

    async def neo4j_up() -> bool:
        await driver.verify_connectivity()
        return True

    app.dependencies = [Dependency("nats", nats_up), Dependency("neo4j", neo4j_up)]
    if consumers:
        app.workers = consumer_workers(js, deps, consumer_specs(prefix=consumer_prefix), letters=letters)
    return app


async def serve(settings: ContextSettings) -> None:
    app = await bootstrap(settings)
    servicer = app.servicer()
    plan = grpcserver.ServerPlan(
        port=settings.grpc_port,
        metrics_port=settings.metrics_port,
        services=[
            grpcserver.ServiceBinding(
                SERVICE_NAME,
                lambda server: context_pb2_grpc.add_ContextServiceServicer_to_server(servicer, server),
            )
        ],
        workers=app.workers,
        dependencies=app.dependencies,
        close=app.close,
        grace_s=settings.shutdown_grace_s,
    )
    await grpcserver.run(plan)
