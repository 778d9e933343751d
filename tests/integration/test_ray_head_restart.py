"""Lose the Ray head mid-burst, lose nothing: a private stack's head is killed with SIGKILL (every
process of it: GCS, raylet, dashboard, job drivers) while two deliberations run, one waits in
Ray for a CPU and two wait in the Orchestrator's queue, then started again. The one that never
started runs under its own id, the two that were running end FAILED saying their job was lost,
the queued ones run, nothing stays RUNNING, and a lost one asked for again completes."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import aiohttp
import grpc
import pytest
from nats.aio.msg import Msg

from services.gen.fleet.orchestrator.v1 import orchestrator_pb2 as opb
from services.gen.fleet.orchestrator.v1 import orchestrator_pb2_grpc as opb_grpc
from services.orchestrator.adapters.ray_jobs import job_client
from services.orchestrator.domain.reconciliation import LOST
from services.shared import event_parsing, events, jetstream
from services.stack import api, process
from services.stack.api import StackConfig
from services.stack.config import free_port
from tests.integration.hostile_support import health
from tests.waiting import until

T = TypeVar("T")
OWN = ["nats", "ray", "simulator"]
BURST = 5
# Two jobs fit Ray's two CPUs; the third admitted waits in Ray, the other two in the queue.
ORCHESTRATOR_ENV = {"ADMISSION_MAX_RUNNING": "3", "RAY_JOB_NUM_CPUS": "1", "LLM_FIRST_TOKEN_TIMEOUT_S": "600"}


@pytest.fixture
def own_stack(tmp_path: Path) -> Iterator[StackConfig]:
    cfg = StackConfig.private(tmp_path / "stack", services=False)
    try:
        api.up(cfg, only=OWN)
        yield cfg
    finally:
        api.down(cfg)


@pytest.fixture
def orchestrator(own_stack: StackConfig, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, **api.stack_env(own_stack), **ORCHESTRATOR_ENV,
           "GRPC_PORT": str(port), "METRICS_PORT": str(free_port())}
    with open(tmp_path / "orchestrator.log", "wb") as log:
        proc = subprocess.Popen([str(Path(sys.executable).parent / "conclave"), "orchestrator", "serve"],
                                env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@pytest.fixture
async def stub(orchestrator: str) -> AsyncIterator[opb_grpc.OrchestratorServiceStub]:
    await until(lambda: _is(orchestrator, "SERVING"), 120, "the orchestrator to serve", 0.5)
    async with grpc.aio.insecure_channel(orchestrator) as channel:
        yield opb_grpc.OrchestratorServiceStub(channel)


async def _is(addr: str, status: str) -> bool:
    return await health(addr) == status


async def sim_knobs(cfg: StackConfig, **knobs: object) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"http://127.0.0.1:{cfg.simulator_port}/admin/faults", json=knobs) as resp:
            assert resp.status == 200, await resp.text()


def kill_ray_head(cfg: StackConfig) -> int:
    """SIGKILL every process of the head's session and their descendants; how many there were."""
    [ray] = [s for s in api.status(cfg).servers if s.name == "ray"]
    assert ray.pid
    members = process.session_members(ray.pid)
    for pid in members:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return len(members)


async def test_a_ray_head_killed_mid_burst_loses_nothing(
    own_stack: StackConfig, orchestrator: str, stub: opb_grpc.OrchestratorServiceStub
) -> None:
    began = time.monotonic()
    seen: list[events.DeliberationEvent] = []
    nc = await jetstream.connect(api.stack_env(own_stack)["NATS_URL"], "head-restart-test")

    async def record(msg: Msg) -> None:
        event = event_parsing.parse_event(msg.subject, msg.data)
        if isinstance(event, events.DeliberationEvent):
            seen.append(event)

    await nc.subscribe(events.DELIBERATION_EVENTS, cb=record)
    try:
        await sim_knobs(own_stack, ttft_ms=600_000)  # the running ones stay running until the head dies
        ids = [f"dlb-headloss-{n}" for n in range(BURST)]
        for did in ids:
            await stub.DeliberateAsync(opb.DeliberateRequest(
                task="Design a rate limiter", role=opb.ARCHITECT, deliberation_id=did), timeout=30)

        async def states() -> dict[str, str]:
            return {did: opb.DeliberationState.Name((await stub.GetDeliberationResult(
                opb.GetDeliberationResultRequest(deliberation_id=did), timeout=10)).state) for did in ids}

        def at_kill(now: dict[str, str]) -> bool:
            return Counter(now.values()) == Counter({"RUNNING": 2, "PENDING": 1, "QUEUED": 2})

        before = await until(lambda: _when(states, at_kill), 120, "two running, one pending in Ray, two queued", 0.5)
        assert await asyncio.to_thread(kill_ray_head, own_stack) >= 4, "GCS, raylet, dashboard, drivers"
        await until(lambda: _is(orchestrator, "NOT_SERVING"), 30, "readiness to drop with Ray gone", 0.5)
        await sim_knobs(own_stack, ttft_ms=0)
        await asyncio.sleep(6)  # a housekeeping cycle against a dead job API
        assert await states() == before, "nothing moves while Ray cannot be asked"

        await asyncio.to_thread(api.up, own_stack, ["ray"])
        await until(lambda: _is(orchestrator, "SERVING"), 60, "readiness back with Ray", 0.5)
        terminal = {"COMPLETED", "FAILED", "CANCELLED"}
        after = await until(lambda: _when(states, lambda s: set(s.values()) <= terminal), 150, "every end", 1)
        records = {did: await stub.GetDeliberationResult(opb.GetDeliberationResultRequest(deliberation_id=did),
                                                         timeout=10) for did in ids}

        running = [did for did in ids if before[did] == "RUNNING"]
        others = [did for did in ids if before[did] != "RUNNING"]
        assert {did: after[did] for did in running} == dict.fromkeys(running, "FAILED")
        assert all(records[did].reason.startswith(f"{LOST}: ") for did in running), [r.reason for r in records.values()]
        assert {did: after[did] for did in others} == dict.fromkeys(others, "COMPLETED")
        kinds = Counter((e.deliberation_id, type(e).__name__) for e in seen)
        for did in others:
            assert (kinds[did, "DeliberationStarted"], kinds[did, "DeliberationCompleted"]) == (1, 1), did
        ray_jobs = Counter(j.submission_id for j in job_client(
            api.stack_env(own_stack)["RAY_ADDRESS"], api.stack_env(own_stack)["RAY_AUTH_TOKEN"]).list_jobs())
        assert not any(ray_jobs[did] for did in running), "a lost run is not run again behind anyone's back"
        assert all(ray_jobs[did] == 1 for did in others)

        rerun = await stub.DeliberateAsync(opb.DeliberateRequest(
            task="Design a rate limiter", role=opb.ARCHITECT, deliberation_id=f"{running[0]}-again"), timeout=30)
        again = await until(lambda: _when(lambda: _state(stub, rerun.deliberation_id), lambda s: s in terminal),
                            120, "the re-run to end", 1)
        assert again == "COMPLETED"
        print(f"\nbefore the kill: {dict(Counter(before.values()))}; after: "
              f"{dict(Counter(f'{before[d]}->{after[d]}' for d in ids))}; {time.monotonic() - began:.0f}s")
    finally:
        await nc.close()


async def _state(stub: opb_grpc.OrchestratorServiceStub, did: str) -> str:
    record = await stub.GetDeliberationResult(opb.GetDeliberationResultRequest(deliberation_id=did), timeout=10)
    return opb.DeliberationState.Name(record.state)


async def _when(read: Callable[[], Awaitable[T]], holds: Callable[[T], bool]) -> T | None:
    value = await read()
    return value if holds(value) else None
