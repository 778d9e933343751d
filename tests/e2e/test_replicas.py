"""Two replicas of each service on the same durable consumers: a burst of plans, one replica of
each killed with SIGKILL mid-burst, and still every deliberation completes exactly once while
the admission budget holds across the replicas."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import pytest

from services.gen.fleet.orchestrator.v1 import orchestrator_pb2 as opb
from services.gen.fleet.orchestrator.v1 import orchestrator_pb2_grpc as opb_grpc
from services.shared import events
from services.stack.api import StackInfo
from services.stack.config import free_port
from tests.e2e.support import ROLES, Flow, flow, plan, story
from tests.waiting import until

pytestmark = pytest.mark.e2e
PLANS = 3  # 15 deliberations: several budgets deep, so most are still queued at the kill


@pytest.fixture
def second_replicas(stack: StackInfo, tmp_path: Path) -> Iterator[dict[str, tuple[subprocess.Popen[bytes], str]]]:
    """A second Context and a second Orchestrator process beside the stack's own."""
    conclave = str(Path(sys.executable).parent / "conclave")
    started = {}
    for service in ("context", "orchestrator"):
        port = free_port()
        env = {**os.environ, **stack.env(), "GRPC_PORT": str(port), "METRICS_PORT": str(free_port())}
        with open(tmp_path / f"{service}.log", "wb") as log:
            proc = subprocess.Popen([conclave, service, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
        started[service] = (proc, f"127.0.0.1:{port}")
    try:
        yield started
    finally:
        for proc, _ in started.values():
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)


async def serving(addr: str) -> bool:
    async with grpc.aio.insecure_channel(addr) as channel:
        try:
            await opb_grpc.OrchestratorServiceStub(channel).GetStatus(opb.GetStatusRequest(), timeout=2)
        except grpc.aio.AioRpcError:
            return False
    return True


@pytest.fixture
async def e2e(stack: StackInfo) -> AsyncIterator[Flow]:
    async with flow(stack.env()) as f:
        yield f


async def test_replicas_share_the_work_and_survive_losing_one_of_each(
    e2e: Flow, second_replicas: dict[str, tuple[subprocess.Popen[bytes], str]]
) -> None:
    orchestrator, orchestrator_addr = second_replicas["orchestrator"]
    context, _ = second_replicas["context"]
    await until(lambda: serving(orchestrator_addr), 120, "the second orchestrator to serve", interval=0.5)
    budget = (await e2e.orchestrator.GetStatus(opb.GetStatusRequest(), timeout=10)).admission_budget
    admitted_seen: list[int] = []

    async def watch_admission() -> None:
        async with grpc.aio.insecure_channel(orchestrator_addr) as channel:
            stubs = [e2e.orchestrator, opb_grpc.OrchestratorServiceStub(channel)]
            while True:
                for stub in stubs:
                    try:
                        admitted_seen.append((await stub.GetStatus(opb.GetStatusRequest(), timeout=5)).admitted)
                    except grpc.aio.AioRpcError:
                        stubs.remove(stub)  # the replica we killed
                        break
                await asyncio.sleep(0.5)

    watcher = asyncio.create_task(watch_admission())
    try:
        stories = [story() for _ in range(PLANS)]
        for sid in stories:
            await e2e.publish(plan(sid, ROLES))
        # Mid-burst: some deliberations have started, many are still queued.
        await until(lambda: sum(len(e2e.recorder.of(s, events.DeliberationStarted)) for s in stories) >= 2,
                    180, "the burst to get going")
        for proc in (orchestrator, context):
            os.kill(proc.pid, signal.SIGKILL)
        done = {sid: await e2e.recorder.terminal(sid, ROLES, within=600) for sid in stories}
    finally:
        watcher.cancel()
    outcomes = {type(e).__name__ for per_story in done.values() for e in per_story.values()}
    assert outcomes == {"DeliberationCompleted"}, {s: {r: e.reason for r, e in d.items() if hasattr(e, "reason")}
                                                   for s, d in done.items()}
    for sid in stories:
        completed = e2e.recorder.of(sid, events.DeliberationCompleted)
        assert len({e.event_id for e in completed}) == len(ROLES), f"{sid}: one completion per role, exactly"
    # Running intervals (started -> final) never overlap more than the budget allows.
    spans = []
    for sid in stories:
        started = {e.deliberation_id: e.occurred_at for e in e2e.recorder.of(sid, events.DeliberationStarted)}
        spans += [(started[e.deliberation_id], e.occurred_at) for e in done[sid].values()]
    overlap = max(sum(1 for a, b in spans if a <= t < b) for t, _ in spans)
    assert overlap <= budget, f"{overlap} deliberations ran at once with a budget of {budget}"
    assert admitted_seen and max(admitted_seen) <= budget
    assert await e2e.context_showing(stories[-1], "QA", "DEV council decision", within=60)
