"""Helpers for the end-to-end tests: both services run as separate processes of the
local stack; the tests talk to them only over NATS and gRPC, as a user would."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import grpc
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.client import JetStreamContext

from services.gen.fleet.context.v1 import context_pb2 as cpb
from services.gen.fleet.context.v1 import context_pb2_grpc as cpb_grpc
from services.gen.fleet.orchestrator.v1 import orchestrator_pb2 as opb
from services.gen.fleet.orchestrator.v1 import orchestrator_pb2_grpc as opb_grpc
from services.orchestrator.entrypoints.consumers import PLANS
from services.shared import event_parsing, events, jetstream
from tests.waiting import until

ROLES = [events.Role.ARCHITECT, events.Role.DEV, events.Role.QA, events.Role.DEVOPS, events.Role.DATA]


def plan(story_id: str, roles: list[events.Role], version: int = 1, **extra: Any) -> events.PlanApproved:
    tasks = [
        events.PlanTask(task_id=f"{story_id}-{r.value.lower()}", role=r, title=f"{r.value} work for {story_id}",
                        depends_on=[f"{story_id}-dev"] if r == events.Role.QA and events.Role.DEV in roles else [])
        for r in roles
    ]
    return events.PlanApproved(
        story_id=story_id, plan_id=f"{story_id}-plan", plan_version=version, approved_by="e2e", roles=roles,
        title=f"Add idempotent payment webhooks ({story_id})", description="Handle provider retries safely.",
        acceptance_criteria=["a replayed webhook changes nothing"], tasks=tasks, **extra,
    )


def story() -> str:
    return f"E2E-{uuid.uuid4().hex[:8]}"


@dataclass
class Recorder:
    """Every deliberation and agent event seen on NATS since the test started."""

    by_story: dict[str, list[events.DeliberationEvent]] = field(default_factory=lambda: defaultdict(list))
    agent_steps: dict[str, list[events.AgentResponse]] = field(default_factory=lambda: defaultdict(list))
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def on_message(self, msg: Msg) -> None:
        event = event_parsing.parse_event(msg.subject, msg.data)
        if isinstance(event, events.DeliberationEvent):
            self.by_story[event.story_id].append(event)
        elif isinstance(event, events.AgentResponse):
            self.agent_steps[event.deliberation_id].append(event)
        self.changed.set()

    def of(self, story_id: str, kind: type[events.DeliberationEvent]) -> list[Any]:
        return [e for e in self.by_story[story_id] if isinstance(e, kind)]

    async def until(self, predicate: Any, within: float, what: str) -> None:
        deadline = time.monotonic() + within
        while not predicate():
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"timed out after {within:.0f}s waiting for {what}"
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), timeout=min(remaining, 1.0))
            except TimeoutError:
                pass

    async def terminal(self, story_id: str, roles: list[events.Role], within: float = 240) -> dict[str, Any]:
        kinds = (events.DeliberationCompleted, events.DeliberationFailed, events.DeliberationCancelled)

        def done() -> dict[str, Any]:
            return {e.role.value: e for e in self.by_story[story_id] if isinstance(e, kinds)}

        await self.until(lambda: {r.value for r in roles} <= set(done()), within, f"{roles} of {story_id}")
        return done()


@dataclass
class Flow:
    nc: NATS
    js: JetStreamContext
    orchestrator: opb_grpc.OrchestratorServiceStub
    context: cpb_grpc.ContextServiceStub
    recorder: Recorder
    env: dict[str, str]

    async def publish(self, event: events.Event, subject: str | None = None) -> None:
        await jetstream.publish(self.js, event, subject)

    async def plans_consumed(self) -> bool:
        """Every plan.approved published so far is acked by the Orchestrator's durable consumer."""
        info = await self.js.consumer_info(PLANS.stream, PLANS.durable)
        return info.num_pending == 0 and info.num_ack_pending == 0

    async def record(self, deliberation_id: str) -> opb.DeliberationRecord:
        return await self.orchestrator.GetDeliberationResult(
            opb.GetDeliberationResultRequest(deliberation_id=deliberation_id), timeout=10
        )

    async def context_for(self, story_id: str, role: str) -> str:
        reply = await self.context.GetContext(
            cpb.GetContextRequest(story_id=story_id, role=role, phase="BUILD", token_budget=6000), timeout=10
        )
        return "\n".join(b.content for b in reply.blocks)

    async def context_showing(self, story_id: str, role: str, text: str, within: float = 20) -> str:
        """The role's context once it shows `text`: the Context service records results asynchronously."""

        async def showing() -> str | None:
            context = await self.context_for(story_id, role)
            return context if text in context else None

        return await until(showing, within, f"{role} context of {story_id} to show {text!r}", interval=0.25)

    async def sim_knobs(self, **knobs: Any) -> dict[str, Any]:
        base = self.env["VLLM_URL"].removesuffix("/v1")
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/admin/faults") as resp:
                before = dict(await resp.json())
            async with http.post(f"{base}/admin/faults", json=knobs) as resp:
                assert resp.status == 200, await resp.text()
        return before


@asynccontextmanager
async def flow(env: dict[str, str]) -> AsyncIterator[Flow]:
    nc = await jetstream.connect(env["NATS_URL"], "e2e")
    recorder = Recorder()
    for subject in (events.DELIBERATION_EVENTS, events.AGENT_RESPONSE_COMPLETED, events.AGENT_RESPONSE_FAILED):
        await nc.subscribe(subject, cb=recorder.on_message)
    async with grpc.aio.insecure_channel(env["ORCHESTRATOR_ADDR"]) as och, \
            grpc.aio.insecure_channel(env["CONTEXT_ADDR"]) as cch:
        try:
            yield Flow(nc, nc.jetstream(), opb_grpc.OrchestratorServiceStub(och),
                       cpb_grpc.ContextServiceStub(cch), recorder, env)
        finally:
            await nc.close()
