"""Lose the Ray head mid-burst, lose nothing: a private stack's head is killed with SIGKILL (every
process of it: GCS, raylet, dashboard, job drivers) while two deliberations run, one waits in
Ray for a CPU and one waits in the Orchestrator's queue, then started again. The head runs with GCS fault
tolerance against the stack's ValKey, so it keeps the lost jobs' records and reads them RUNNING
and PENDING: the one that never started runs under its own id once Ray lets go of it, the two
that were running end FAILED at once saying their driver's node is gone,
the queued one runs, nothing stays RUNNING, and a lost one asked for again completes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import aiohttp
import grpc
import pytest
from nats.aio.msg import Msg

from services.gen.fleet.orchestrator.v1 import orchestrator_pb2 as opb
from services.gen.fleet.orchestrator.v1 import orchestrator_pb2_grpc as opb_grpc
from services.orchestrator.adapters.ray_jobs import RayJobs, job_client
from services.orchestrator.domain.reconciliation import LOST
from services.orchestrator.domain.tracking import JobState
from services.shared import event_parsing, events, jetstream
from services.shared.clock import utcnow
from services.stack import api, process
from services.stack.api import StackConfig
from services.stack.config import free_port
from tests.integration.hostile_support import health
from tests.waiting import until

T = TypeVar("T")
OWN = ["nats", "valkey", "ray", "simulator"]  # ValKey holds the head's GCS tables
TASK = "Design a rate limiter"
# Ray's two CPUs fit two jobs: of a budget of three, the third admitted waits in Ray, never
# started, and the fourth deliberation waits in the Orchestrator's queue.
ORCHESTRATOR_ENV = {"ADMISSION_MAX_RUNNING": "3", "RAY_JOB_NUM_CPUS": "1", "LLM_FIRST_TOKEN_TIMEOUT_S": "600"}
AT_KILL = {"RUNNING": 2, "PENDING": 1, "QUEUED": 1}
TERMINAL = {"COMPLETED", "FAILED", "CANCELLED"}


@dataclass
class Orchestrator:
    addr: str
    log: Path
    stub: opb_grpc.OrchestratorServiceStub

    async def ask(self, did: str) -> None:
        await self.stub.DeliberateAsync(
            opb.DeliberateRequest(task=TASK, role=opb.ARCHITECT, deliberation_id=did), timeout=30)

    async def states(self, ids: list[str]) -> dict[str, str]:
        return {did: opb.DeliberationState.Name((await self.record(did)).state) for did in ids}

    async def record(self, did: str) -> opb.DeliberationRecord:
        return await self.stub.GetDeliberationResult(opb.GetDeliberationResultRequest(deliberation_id=did), timeout=10)

    async def readiness(self, status: str) -> bool:
        return await health(self.addr) == status


@pytest.fixture
def own_stack(tmp_path: Path) -> Iterator[StackConfig]:
    cfg = StackConfig.private(tmp_path / "stack", services=False)
    try:
        api.up(cfg, only=OWN)
        yield cfg
    finally:
        api.down(cfg)


@pytest.fixture
def serve(own_stack: StackConfig, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """`conclave orchestrator serve` on the private stack, as a process: its own housekeeping and probes."""
    port, log = free_port(), tmp_path / "orchestrator.log"
    env = {**os.environ, **api.stack_env(own_stack), **ORCHESTRATOR_ENV,
           "GRPC_PORT": str(port), "METRICS_PORT": str(free_port())}
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(Path(sys.executable).parent / "conclave"), "orchestrator", "serve"],
                                env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield f"127.0.0.1:{port}", log
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@pytest.fixture
async def orchestrator(serve: tuple[str, Path]) -> AsyncIterator[Orchestrator]:
    addr, log = serve
    async with grpc.aio.insecure_channel(addr) as channel:
        orch = Orchestrator(addr, log, opb_grpc.OrchestratorServiceStub(channel))
        await until(lambda: orch.readiness("SERVING"), 120, "the orchestrator to serve", 0.5)
        yield orch


@pytest.fixture
async def seen(own_stack: StackConfig) -> AsyncIterator[list[events.DeliberationEvent]]:
    """Every deliberation event published from now on, as it went out."""
    got: list[events.DeliberationEvent] = []

    async def keep(msg: Msg) -> None:
        event = event_parsing.parse_event(msg.subject, msg.data)
        if isinstance(event, events.DeliberationEvent):
            got.append(event)

    nc = await jetstream.connect(api.stack_env(own_stack)["NATS_URL"], "head-restart-test")
    await nc.subscribe(events.DELIBERATION_EVENTS, cb=keep)
    try:
        yield got
    finally:
        await nc.close()


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
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return len(members)


async def test_a_ray_head_killed_mid_burst_loses_nothing(
    own_stack: StackConfig, orchestrator: Orchestrator, seen: list[events.DeliberationEvent]
) -> None:
    began, began_at = time.monotonic(), utcnow()
    await sim_knobs(own_stack, ttft_ms=600_000)  # a council that started stays running until the head dies
    ids = [f"dlb-headloss-{n}" for n in range(sum(AT_KILL.values()))]
    for did in ids:
        await orchestrator.ask(did)
    before = await until(lambda: _when(lambda: orchestrator.states(ids), lambda s: Counter(s.values()) == AT_KILL),
                         120, f"{AT_KILL} to kill the head under", 0.5)
    assert await asyncio.to_thread(kill_ray_head, own_stack) >= 4, "GCS, raylet, dashboard agent, drivers"
    await sim_knobs(own_stack, ttft_ms=0)
    await until(lambda: orchestrator.readiness("NOT_SERVING"), 30, "readiness to drop with Ray gone", 0.5)
    await until(lambda: "reconciling on a later cycle" in orchestrator.log.read_text(), 30,
                "housekeeping to meet the dead job API")
    assert await orchestrator.states(ids) == before, "nothing moves while Ray cannot be asked"

    # A CPU more for the restarted head, so the re-run need not wait behind the others.
    await asyncio.to_thread(api.up, own_stack.model_copy(update={"ray_num_cpus": 3}), ["ray"])
    await until(lambda: orchestrator.readiness("SERVING"), 60, "readiness back with Ray", 0.5)
    lost = [did for did in ids if before[did] == "RUNNING"]
    await until(lambda: _when(lambda: orchestrator.states(lost), lambda s: set(s.values()) == {"FAILED"}),
                60, "the runs the head took with it to fail", 0.5)
    rerun = f"{lost[0]}-again"

    def ended(now: dict[str, str]) -> bool:
        return set(now.values()) <= TERMINAL

    await orchestrator.ask(rerun)  # asking again is a new deliberation: the failed one keeps its record
    after = await until(lambda: _when(lambda: orchestrator.states([*ids, rerun]), ended),
                        180, "every deliberation to end", 1)

    reasons = {did: (await orchestrator.record(did)).reason for did in lost}
    assert all(reason.startswith(f"{LOST}: its driver's node ") for reason in reasons.values()), reasons
    rest = [did for did in ids if did not in lost]
    assert {did: after[did] for did in [*rest, rerun]} == dict.fromkeys([*rest, rerun], "COMPLETED")
    kinds = Counter((e.deliberation_id, type(e).__name__) for e in seen)
    for did in [*rest, rerun]:
        assert (kinds[did, "DeliberationStarted"], kinds[did, "DeliberationCompleted"]) == (1, 1), did
    env = api.stack_env(own_stack)
    listed = job_client(env["RAY_ADDRESS"], env["RAY_AUTH_TOKEN"]).list_jobs()
    ray_jobs = Counter(job.submission_id for job in listed)
    assert {did: ray_jobs[did] for did in ids} == dict.fromkeys(ids, 1), "one job each, none run behind a lost one"
    assert {job.submission_id: job.status.value for job in listed if job.submission_id in lost} \
        == dict.fromkeys(lost, "FAILED"), "the restarted head kept the lost jobs' records (GCS fault tolerance)"
    # The adapter's other calls, against the same real head: ended jobs are listed by when they ended
    # (the retention sweep's view), and an ended job stops as a no-op and is deleted.
    jobs = RayJobs(env["RAY_ADDRESS"], env["RAY_AUTH_TOKEN"], num_cpus=0.1, num_gpus=0, env={})
    try:
        assert await jobs.reachable()
        assert (job := await jobs.status(rerun)) is not None and job.state == JobState.SUCCEEDED and job.exit_code == 0
        assert job.ended_ms and job.submitted_ms and job.ended_ms >= job.submitted_ms
        ended = set(await jobs.ended_before(utcnow()))
        assert rerun in ended and ended <= set(ids) | {rerun}, ended  # ours, and only ended ones
        assert await jobs.ended_before(began_at) == []
        await jobs.stop(rerun)
        await jobs.delete(rerun)
        assert await jobs.status(rerun) is None
        assert rerun not in await jobs.ended_before(utcnow())
    finally:
        await jobs.aclose()
    nobody = RayJobs("http://127.0.0.1:9", "", num_cpus=0.1, num_gpus=0, env={})  # the discard port: refused
    assert not await nobody.reachable()
    await nobody.aclose()
    print(f"\nat the kill {dict(Counter(before.values()))}; then "
          f"{dict(Counter(f'{before[d]}->{after[d]}' for d in ids))}; re-run {after[rerun]}; "
          f"{time.monotonic() - began:.0f}s")


async def _when(read: Callable[[], Awaitable[T]], holds: Callable[[T], bool]) -> T | None:
    value = await read()
    return value if holds(value) else None
