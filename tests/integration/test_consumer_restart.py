"""A consumer loop killed by a fault (its durable consumer deleted under it) restarts inside
the same process within seconds; readiness reports NOT_SERVING while it is down and SERVING
once it is back; liveness stays SERVING throughout."""

from __future__ import annotations

import asyncio
import time
import urllib.request
import uuid
from collections.abc import Callable

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from nats.js.errors import NotFoundError

from services.orchestrator.domain.tracking import deliberation_id
from services.shared import events
from services.stack.api import StackConfig, StackInfo
from tests.e2e.support import flow, plan
from tests.integration.hostile_support import context_showing, health, nats_client, recorded, service_pids

SERVING, NOT_SERVING = health_pb2.HealthCheckResponse.SERVING, health_pb2.HealthCheckResponse.NOT_SERVING
CASES = {
    "context": ("PLANNING_EVENTS", "context-story-transitioned", "context-story-transitioned#0"),
    "orchestrator": ("PLANNING_EVENTS", "orchestrator-plan-approved", "orchestrator-plan-approved"),
}


def restarts(metrics_port: int, worker: str) -> float:
    text = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).read().decode()
    for line in text.splitlines():
        if line.startswith(f'conclave_worker_restarts_total{{worker="{worker}"}}'):
            return float(line.split()[-1])
    return 0.0


async def statuses(addr: str, seen: list[int], stop: asyncio.Event) -> None:
    async with grpc.aio.insecure_channel(addr) as channel:
        call = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(service=""))
        async for reply in call:
            seen.append(reply.status)
            if stop.is_set():
                call.cancel()
                return


@pytest.mark.parametrize("service", list(CASES))
async def test_a_killed_consumer_loop_restarts_and_readiness_follows(stack: StackInfo, service: str) -> None:
    env, cfg = stack.env(), StackConfig()
    stream, durable, worker = CASES[service]
    addr = env[f"{service.upper()}_ADDR"]
    metrics = cfg.context_metrics_port if service == "context" else cfg.orchestrator_metrics_port
    pids = service_pids()
    before = await asyncio.to_thread(restarts, metrics, worker)
    seen: list[int] = []
    stop = asyncio.Event()
    watcher = asyncio.create_task(statuses(addr, seen, stop))
    try:
        await _until(lambda: seen == [SERVING], "the watch to start")
        async with nats_client(env) as nc:
            js = nc.jetstream()
            await js.delete_consumer(stream, durable)
            killed = time.monotonic()
            await _until(lambda: NOT_SERVING in seen, "readiness to drop")
            await _until(lambda: seen[-1] == SERVING and NOT_SERVING in seen, "readiness to come back")
            back_in = time.monotonic() - killed
            # The restarted loop recreates its durable as it subscribes again.
            deadline = time.monotonic() + 10
            while True:
                try:
                    info = await js.consumer_info(stream, durable)
                    break
                except NotFoundError:
                    assert time.monotonic() < deadline, f"{durable} was not recreated"
                    await asyncio.sleep(0.1)
            assert info.config.durable_name == durable
        assert back_in < 10, f"loop came back after {back_in:.1f}s"
        assert await health(addr, "liveness") == "SERVING"
        assert await asyncio.to_thread(restarts, metrics, worker) > before
        assert service_pids() == pids, "the process restarted instead of the loop"
    finally:
        stop.set()
        watcher.cancel()
    # And the restarted loop consumes.
    sid = f"RST-{uuid.uuid4().hex[:8]}"
    async with flow(env) as f:
        await f.publish(plan(sid, [events.Role.DEV]))
        if service == "context":
            await context_showing(f, sid, "DEV", "Current phase: DESIGN")
            await f.publish(events.StoryTransitioned(story_id=sid, from_phase="DESIGN", to_phase="BUILD"))
            await context_showing(f, sid, "DEV", "Current phase: BUILD")
        else:
            await recorded(f, deliberation_id(sid, f"{sid}-plan", 1, events.Role.DEV))


async def _until(check: Callable[[], bool], what: str, within: float = 15) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)
