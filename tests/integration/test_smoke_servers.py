"""One smoke test per real server of the local stack, each through its real client."""

from __future__ import annotations

import uuid

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from services.shared import jetstream
from services.shared.events import PLAN_APPROVED, PlanApproved, Role
from tests.waiting import until, until_sync


async def test_jetstream_dedupes_by_msg_id_and_durable_pull_acks(stack) -> None:
    nc = await jetstream.connect(stack.env()["NATS_URL"], "smoke")
    js = nc.jetstream()
    try:
        await jetstream.ensure_streams(js)
        await jetstream.ensure_streams(js)  # idempotent
        story = f"SMOKE-{uuid.uuid4().hex[:8]}"
        event = PlanApproved(story_id=story, plan_id="P", approved_by="smoke", roles=[Role.DEV])
        assert await jetstream.publish(js, event) is True
        assert await jetstream.publish(js, event) is False  # same Nats-Msg-Id: dropped
        durable = f"smoke-{uuid.uuid4().hex[:8]}"
        sub = await js.pull_subscribe(PLAN_APPROVED, durable=durable, stream="PLANNING_EVENTS")
        seen = []
        for _ in range(50):
            try:
                msgs = await sub.fetch(100, timeout=1)
            except TimeoutError:
                break
            for msg in msgs:
                await msg.ack()
                if story.encode() in msg.data:
                    seen.append(msg)
        assert len(seen) == 1
        info = await js.consumer_info("PLANNING_EVENTS", durable)
        assert info.num_ack_pending == 0
        await js.delete_consumer("PLANNING_EVENTS", durable)
    finally:
        await nc.close()


async def test_neo4j_merge_under_uniqueness_constraint(stack) -> None:
    from neo4j import AsyncGraphDatabase
    from neo4j.exceptions import ConstraintError

    env = stack.env()
    driver = AsyncGraphDatabase.driver(env["NEO4J_URI"], auth=(env["NEO4J_USER"], env["NEO4J_PASSWORD"]))
    key = f"smoke-{uuid.uuid4().hex}"
    try:
        await driver.execute_query(
            "CREATE CONSTRAINT smoke_key IF NOT EXISTS FOR (n:Smoke) REQUIRE n.key IS UNIQUE"
        )
        for _ in range(2):
            await driver.execute_query("MERGE (n:Smoke {key: $key}) SET n.seen = coalesce(n.seen, 0) + 1", key=key)
        records, _, _ = await driver.execute_query("MATCH (n:Smoke {key: $key}) RETURN n.seen AS seen", key=key)
        assert [r["seen"] for r in records] == [2]
        with pytest.raises(ConstraintError):
            await driver.execute_query("CREATE (:Smoke {key: $key})", key=key)
        await driver.execute_query("MATCH (n:Smoke {key: $key}) DELETE n", key=key)
    finally:
        await driver.close()


async def test_valkey_set_get_with_ttl(stack) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(stack.env()["VALKEY_URL"])
    key = f"smoke:{uuid.uuid4().hex}"
    try:
        assert await client.set(key, "v", px=300)
        assert await client.get(key) == b"v"
        assert 0 < await client.pttl(key) <= 300

        async def expired() -> bool:
            return await client.get(key) is None

        await until(expired, 5, f"{key} to expire after its 300 ms TTL")
    finally:
        await client.aclose()


def test_ray_job_runs_project_code(stack) -> None:
    from ray.job_submission import JobStatus

    from services.orchestrator.adapters.ray_jobs import job_client

    env = stack.env()
    client = job_client(env["RAY_ADDRESS"], env["RAY_AUTH_TOKEN"])
    job_id = client.submit_job(
        entrypoint="python -c 'from services.shared.events import Role; print(\"roles:\", *Role)'",
        submission_id=f"smoke-{uuid.uuid4().hex[:8]}",
        entrypoint_num_cpus=0.1,
    )
    ended = {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.STOPPED}
    status = until_sync(lambda: (s := client.get_job_status(job_id)) in ended and s, 180, f"Ray job {job_id} to end",
                        interval=0.5)
    logs = client.get_job_logs(job_id)
    assert status == JobStatus.SUCCEEDED, logs
    assert "roles: ARCHITECT DEV QA DEVOPS DATA" in logs


async def test_simulator_chat_completion_through_openai(stack) -> None:
    from openai import AsyncOpenAI

    env = stack.env()
    client = AsyncOpenAI(base_url=env["VLLM_URL"], api_key="unused")
    try:
        models = await client.models.list()
        assert [m.id for m in models.data] == [env["VLLM_MODEL"]]
        reply = await client.chat.completions.create(
            model=env["VLLM_MODEL"],
            messages=[{"role": "system", "content": "Role: DEV"}, {"role": "user", "content": "Add a health check"}],
        )
        assert reply.choices[0].message.content
        assert reply.usage is not None and reply.usage.prompt_tokens > 0
    finally:
        await client.close()


@pytest.mark.parametrize(
    ("addr_key", "service"),
    [
        ("CONTEXT_ADDR", "fleet.context.v1.ContextService"),
        ("ORCHESTRATOR_ADDR", "fleet.orchestrator.v1.OrchestratorService"),
    ],
)
async def test_service_health_and_reflection(stack, addr_key: str, service: str) -> None:
    async with grpc.aio.insecure_channel(stack.env()[addr_key]) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for name in ("", service):
            reply = await health.Check(health_pb2.HealthCheckRequest(service=name), timeout=5)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        responses = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
        names = {s.name async for r in responses for s in r.list_services_response.service}
        assert {service, "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"} <= names
