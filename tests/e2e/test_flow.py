"""End to end: plan.approved -> per-role Ray jobs -> councils -> results over NATS ->
decisions in the graph -> the next agent's context. Real NATS, Neo4j, ValKey and Ray,
both services as separate processes, and the model simulator."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import AsyncIterator
from typing import Any

import pytest
from ray.job_submission import JobStatus, JobSubmissionClient

from services.gen.fleet.orchestrator.v1 import orchestrator_pb2 as opb
from services.orchestrator.adapters.ray_jobs import job_client
from services.orchestrator.domain.tracking import deliberation_id
from services.shared import events
from services.stack import api
from services.stack.api import StackConfig, StackInfo
from tests.e2e.support import ROLES, Flow, flow, plan, story
from tests.waiting import until

pytestmark = pytest.mark.e2e


@pytest.fixture
async def e2e(stack: StackInfo) -> AsyncIterator[Flow]:
    async with flow(stack.env()) as f:
        yield f


async def test_full_flow_for_all_five_roles_closes_the_loop(e2e: Flow) -> None:
    sid = story()
    await e2e.publish(plan(sid, ROLES))
    done = await e2e.recorder.terminal(sid, ROLES)
    assert {role: type(e).__name__ for role, e in done.items()} == {r.value: "DeliberationCompleted" for r in ROLES}
    for role, event in done.items():
        record = await e2e.record(event.deliberation_id)
        assert record.state == opb.COMPLETED, (role, record.reason)
        assert record.result.winner.agent_id == event.winner.agent_id
        assert [c.rank for c in record.result.ranked] == [1, 2, 3]
        steps = e2e.recorder.agent_steps[event.deliberation_id]
        assert {s.stage for s in steps} >= {"generate", "review", "revise"}
        assert all(s.role.value == role for s in steps)
    # The loop: the DEV council's decision is in QA's context from now on.
    await e2e.context_showing(sid, "QA", "DEV council decision")


async def test_duplicated_event_starts_one_job_and_records_one_decision_per_role(e2e: Flow) -> None:
    sid = story()
    roles = [events.Role.DEV, events.Role.QA]
    first = plan(sid, roles)
    await e2e.publish(first)
    # The same plan again under a new event id: JetStream cannot drop it, the ids must.
    await e2e.publish(first.model_copy(update={"event_id": first.event_id + "-again"}))
    await e2e.recorder.terminal(sid, roles)
    # Once the Orchestrator's consumer has acked both copies, no second job can be submitted.
    await until(lambda: e2e.plans_consumed(), 30, "the orchestrator to ack both copies of the plan")
    client = job_client(e2e.env["RAY_ADDRESS"], e2e.env["RAY_AUTH_TOKEN"])
    jobs = await asyncio.to_thread(client.list_jobs)
    for role in roles:
        did = deliberation_id(sid, first.plan_id, 1, role)
        assert [j.submission_id for j in jobs].count(did) == 1
        completed = [e for e in e2e.recorder.of(sid, events.DeliberationCompleted) if e.deliberation_id == did]
        assert len({e.event_id for e in completed}) == 1
        # The stack's job launchers hand their jobs to its forkserver rather than import the engine.
        timings = await until(lambda d=did: job_timings(client, d), 60, f"the timings line of {did}'s job")
        assert '"start": "warm"' in timings
    text = await e2e.context_showing(sid, "QA", "DEV council decision")
    assert text.count("DEV council decision") == 1


async def job_timings(client: JobSubmissionClient, submission_id: str) -> str:
    """The job's "job timings" log line, which its driver writes last; "" until then."""
    logs = await asyncio.to_thread(client.get_job_logs, submission_id)
    return next((line for line in logs.splitlines() if '"job timings"' in line), "")


async def test_orchestrator_killed_mid_deliberation_still_delivers(e2e: Flow, stack: StackInfo) -> None:
    cfg = StackConfig()
    before = await e2e.sim_knobs(ttft_ms=800)
    try:
        sid = story()
        roles = [events.Role.DEV]
        await e2e.publish(plan(sid, roles))
        await e2e.recorder.until(lambda: e2e.recorder.of(sid, events.DeliberationStarted), 120, "started")
        orchestrator = next(s for s in api.status(cfg).servers if s.name == "orchestrator")
        assert orchestrator.pid is not None
        os.kill(orchestrator.pid, signal.SIGKILL)
        await asyncio.to_thread(api.up, cfg, ["orchestrator"])
        done = await e2e.recorder.terminal(sid, roles)
        assert isinstance(done["DEV"], events.DeliberationCompleted)
        # The restarted orchestrator's durable consumer picks the outcome up where it left off.
        async def completed() -> opb.DeliberationRecord | None:
            record = await e2e.record(done["DEV"].deliberation_id)
            return record if record.state == opb.COMPLETED else None

        record = await until(completed, 30, "the restarted orchestrator to hold the record as COMPLETED", 0.2)
        assert record.result.winner.agent_id == done["DEV"].winner.agent_id
        await e2e.context_showing(sid, "DEV", "DEV council decision")
    finally:
        await e2e.sim_knobs(**before)


async def test_newer_plan_version_cancels_the_running_deliberation(e2e: Flow) -> None:
    before = await e2e.sim_knobs(ttft_ms=1500)
    try:
        sid = story()
        roles = [events.Role.ARCHITECT]
        await e2e.publish(plan(sid, roles, version=1))
        await e2e.recorder.until(lambda: e2e.recorder.of(sid, events.DeliberationStarted), 120, "v1 started")
        await e2e.publish(plan(sid, roles, version=2))
        cancelled: list[Any] = []
        await e2e.recorder.until(
            lambda: cancelled.extend(e2e.recorder.of(sid, events.DeliberationCancelled)) or cancelled, 60, "cancel"
        )
        old = cancelled[0]
        assert old.plan_version == 1 and "superseded by plan version 2" in old.reason
        await e2e.sim_knobs(**before)
        await e2e.recorder.until(
            lambda: any(e.plan_version == 2 for e in e2e.recorder.of(sid, events.DeliberationCompleted)), 180, "v2"
        )
        assert (await e2e.record(old.deliberation_id)).state == opb.CANCELLED
        # Ray stops a job asynchronously: SIGTERM to the driver, then its status follows.
        client = job_client(e2e.env["RAY_ADDRESS"], e2e.env["RAY_AUTH_TOKEN"])
        async def job_ended() -> JobStatus | None:
            status = await asyncio.to_thread(client.get_job_status, old.deliberation_id)
            return status if status.is_terminal() else None

        status = await until(job_ended, 30, "Ray to report the superseded job as ended", 0.2)
        assert status in {JobStatus.STOPPED, JobStatus.FAILED}
        assert not e2e.recorder.of(sid, events.DeliberationCompleted)[0].plan_version == 1
    finally:
        await e2e.sim_knobs(**before)


async def test_poison_plan_goes_to_the_dead_letter_stream_and_the_next_one_flows(e2e: Flow) -> None:
    dlq_subject = events.dead_letter_subject(events.PLAN_APPROVED)
    letters: asyncio.Queue[Any] = asyncio.Queue()
    sub = await e2e.nc.subscribe(dlq_subject, cb=letters.put)
    try:
        poison = b'{"story_id": "x", "roles": ["CHEF"], "plan_id": '
        await e2e.js.publish(events.PLAN_APPROVED, poison, headers={"Nats-Msg-Id": story()})
        letter = events.DeadLetter.model_validate_json((await asyncio.wait_for(letters.get(), 30)).data)
        assert letter.original_subject == events.PLAN_APPROVED
        assert "invalid JSON" in letter.reason and letter.payload == poison.decode()
        sid = story()
        await e2e.publish(plan(sid, [events.Role.DEVOPS]))
        done = await e2e.recorder.terminal(sid, [events.Role.DEVOPS])
        assert isinstance(done["DEVOPS"], events.DeliberationCompleted)
        assert json.loads(letter.model_dump_json())["reason"]
    finally:
        await sub.unsubscribe()
