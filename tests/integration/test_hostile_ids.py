"""Hostile ids against the stack's own service processes: every RPC answers INVALID_ARGUMENT
naming the field with at most a short prefix of the value, unknown ids answer a short
NOT_FOUND, event fields that break the id rules are dead-lettered with a reason, and both
services stay SERVING with the same PIDs."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import pytest

from services.gen.fleet.context.v1 import context_pb2 as cpb
from services.gen.fleet.orchestrator.v1 import orchestrator_pb2 as opb
from services.shared import events
from services.stack.api import StackInfo
from tests.e2e.support import Flow, flow, plan
from tests.integration.hostile_support import Letters, all_serving, context_showing, service_pids

HOSTILE = {
    "100k chars": "x" * 100_000,
    "space": "a b",
    "star": "a*",
    "gt": "a.>",
    "dot-dot-slash": "../etc/passwd",
    "unicode": "story-ü-☃",
    "control": "a\x01\x00b",
    "empty": "",
    "dots": "a..b",
}
Call = Callable[[Flow, str], Awaitable[Any]]
RPCS: dict[str, tuple[str, Call]] = {
    "DeliberateAsync": ("deliberation_id", lambda f, v: f.orchestrator.DeliberateAsync(
        opb.DeliberateRequest(deliberation_id=v or "-", task="t", role=opb.DEV), timeout=10)),
    "GetDeliberationResult": ("deliberation_id", lambda f, v: f.orchestrator.GetDeliberationResult(
        opb.GetDeliberationResultRequest(deliberation_id=v), timeout=10)),
    "CancelDeliberation": ("deliberation_id", lambda f, v: f.orchestrator.CancelDeliberation(
        opb.CancelDeliberationRequest(deliberation_id=v), timeout=10)),
    "UnregisterAgent": ("agent_id", lambda f, v: f.orchestrator.UnregisterAgent(
        opb.UnregisterAgentRequest(council_id="DEV", agent_id=v), timeout=10)),
    "GetContext": ("story_id", lambda f, v: f.context.GetContext(
        cpb.GetContextRequest(story_id=v, role=cpb.DEV, phase=cpb.BUILD), timeout=10)),
    "GetContext.task_id": ("task_id", lambda f, v: f.context.GetContext(
        cpb.GetContextRequest(story_id="s1", role=cpb.DEV, phase=cpb.BUILD, task_id=v or "-"), timeout=10)),
    "RehydrateSession": ("story_id", lambda f, v: f.context.RehydrateSession(
        cpb.RehydrateSessionRequest(story_id=v, role=cpb.DEV), timeout=10)),
    "CreateStory": ("story_id", lambda f, v: f.context.CreateStory(
        cpb.CreateStoryRequest(story_id=v, title="t"), timeout=10)),
    "CreateTask": ("task_id", lambda f, v: f.context.CreateTask(
        cpb.CreateTaskRequest(story_id="s1", task_id=v, role=cpb.DEV), timeout=10)),
    "TransitionPhase": ("story_id", lambda f, v: f.context.TransitionPhase(
        cpb.TransitionPhaseRequest(story_id=v, from_phase=cpb.DESIGN, to_phase=cpb.BUILD), timeout=10)),
    "UpdateContext": ("story_id", lambda f, v: f.context.UpdateContext(
        cpb.UpdateContextRequest(story_id=v, summary="s"), timeout=10)),
    "GetGraphRelationships": ("node_id", lambda f, v: f.context.GetGraphRelationships(
        cpb.GetGraphRelationshipsRequest(node_id=v, node_label="Story", depth=1), timeout=10)),
}


@pytest.fixture(scope="module")
def pids(stack: StackInfo) -> dict[str, int | None]:
    before = service_pids()
    assert all(before.values()), before
    return before


@pytest.mark.parametrize("value", list(HOSTILE), ids=list(HOSTILE))
@pytest.mark.parametrize("rpc", list(RPCS))
async def test_hostile_ids_are_invalid_arguments_naming_the_field(
    stack: StackInfo, pids: dict[str, int | None], rpc: str, value: str
) -> None:
    field, call = RPCS[rpc]
    async with flow(stack.env()) as f:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call(f, HOSTILE[value])
    error = caught.value
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, (rpc, value, error.details())
    assert field in (error.details() or ""), error.details()
    assert len(error.details() or "") < 400, "the bad value was echoed back"


async def test_unknown_ids_are_short_not_found(stack: StackInfo) -> None:
    longest = "n" * 128
    async with flow(stack.env()) as f:
        for call in (RPCS["GetDeliberationResult"][1], RPCS["GetContext"][1], RPCS["RehydrateSession"][1]):
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await call(f, longest)
            assert caught.value.code() == grpc.StatusCode.NOT_FOUND
            assert len(caught.value.details() or "") < 200


async def test_event_fields_that_break_the_id_rules_are_dead_lettered(
    stack: StackInfo, pids: dict[str, int | None]
) -> None:
    sid = f"IDS-{uuid.uuid4().hex[:8]}"
    good = json.loads(plan(sid, [events.Role.DEV]).to_bytes())
    cases = {
        "story_id": {**good, "story_id": "a b"},
        "plan_id": {**good, "plan_id": "p.*"},
        "approved_by": {**good, "approved_by": "bad\x01actor"},
        "tasks.0.task_id": {**good, "tasks": [{"task_id": "../x", "role": "DEV"}]},
        "event_id": {**good, "event_id": "x" * 5000},
    }
    async with flow(stack.env()) as f:
        letters = await Letters.start(f.js, events.PLAN_APPROVED)
        for field, body in cases.items():
            ack = await f.js.publish(events.PLAN_APPROVED, json.dumps(body).encode(),
                                     headers={"Nats-Msg-Id": uuid.uuid4().hex})
            stored = await letters.wait_for(ack.seq, {"context-plan-approved", "orchestrator-plan-approved"})
            for letter in stored.values():
                assert field in letter.reason and len(letter.reason) < 1200, letter.reason
                assert json.loads(letter.payload or "") == body
        await f.publish(plan(sid, [events.Role.DEV]))
        await context_showing(f, sid, "DEV", f"DEV work for {sid}")
    assert service_pids() == pids
    assert await all_serving(stack.env()) == {"context": "SERVING", "orchestrator": "SERVING"}


async def test_services_are_still_up_with_the_same_pids(stack: StackInfo, pids: dict[str, int | None]) -> None:
    assert service_pids() == pids
    assert await all_serving(stack.env()) == {"context": "SERVING", "orchestrator": "SERVING"}
