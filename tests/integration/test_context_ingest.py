"""Events on the real NATS -> graph on the real Neo4j -> GetContext over real gRPC."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from nats.js.api import ConsumerConfig, DeliverPolicy

from services.gen.fleet.context.v1 import context_pb2 as pb
from services.shared.events import (
    CandidateSummary,
    DeadLetter,
    DeliberationCompleted,
    Event,
    PlanApproved,
    PlanTask,
    ReviewSummary,
    StoryTransitioned,
)
from services.stack.api import StackInfo
from tests.integration.context_support import LiveContext, graph_counts, start_live, wait_consumed
from tests.waiting import until


@pytest.fixture(scope="module")
async def live(stack: StackInfo) -> AsyncIterator[LiveContext]:
    ctx = await start_live(stack.env())
    yield ctx
    await ctx.close()


def plan_event(story_id: str, **extra: object) -> PlanApproved:
    values: dict[str, object] = dict(
        story_id=story_id,
        plan_id=f"{story_id}-plan",
        approved_by=f"{story_id}-alice",
        roles=["DEV", "QA"],
        title="Checkout",
        description="Let users pay",
        tasks=[
            PlanTask(task_id=f"{story_id}-t1", role="DEV", title="Schema"),
            PlanTask(task_id=f"{story_id}-t2", role="DEV", title="API", depends_on=[f"{story_id}-t1"]),
            PlanTask(task_id=f"{story_id}-t3", role="QA", title="E2E tests", depends_on=[f"{story_id}-t2"]),
        ],
    )
    values.update(extra)
    return PlanApproved(**values)  # type: ignore[arg-type]


async def publish(live: LiveContext, event: Event) -> int:
    ack = await live.js.publish(event.subject, event.to_bytes(), headers={"Nats-Msg-Id": event.event_id})
    return int(ack.seq)


async def get(
    live: LiveContext, story_id: str, role: int = pb.DEV, phase: int = pb.BUILD
) -> pb.GetContextResponse:
    return await live.stub.GetContext(
        pb.GetContextRequest(story_id=story_id, role=role, phase=phase, token_budget=4000)
    )


def sid() -> str:
    return f"it-{uuid.uuid4().hex[:10]}"


async def test_plan_approved_event_lands_in_graph_and_context(live: LiveContext) -> None:
    story = sid()
    seq = await publish(live, plan_event(story))
    await wait_consumed(live, "PLANNING_EVENTS", "plan-approved", seq)
    reply = await get(live, story)
    context = next(b.content for b in reply.blocks if b.kind == "context")
    assert "Checkout" in context and f"[{story}-t1]" in context and f"[{story}-t2]" in context
    assert f"[{story}-t3]" not in context, "a QA task leaked into the DEV context"
    assert f"{story}-t2 depends on {story}-t1" in context
    assert reply.token_count <= 4000 and len(reply.version) == 64


async def test_duplicates_and_redeliveries_change_no_counts(live: LiveContext) -> None:
    story = sid()
    event = plan_event(story)
    seq = await publish(live, event)
    await wait_consumed(live, "PLANNING_EVENTS", "plan-approved", seq)
    before = await graph_counts(live, story)
    assert before[0] >= 7  # story, plan, 3 tasks, approval, actor

    # Same Nats-Msg-Id: JetStream drops it. A new message id with the same event_id
    # reaches the consumer, as a redelivery would; so does re-running the batch.
    await publish(live, event)
    seq = (
        await live.js.publish(event.subject, event.to_bytes(), headers={"Nats-Msg-Id": uuid.uuid4().hex})
    ).seq
    await wait_consumed(live, "PLANNING_EVENTS", "plan-approved", seq)
    from services.context.ingest import record_plan_approved_batch

    await record_plan_approved_batch(live.app.deps, [event, event])
    assert await graph_counts(live, story) == before


async def dead_letters(live: LiveContext, subject: str, since: int) -> list[DeadLetter]:
    # From `since` on: the stream may hold any number of older letters (the fuzz suite leaves many).
    config = ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=since + 1)
    sub = await live.js.pull_subscribe(f"dlq.{subject}", stream="DEAD_LETTERS", config=config)
    letters = []
    try:
        for msg in await sub.fetch(100, timeout=2):
            await msg.ack()
            if msg.metadata.sequence.stream > since:
                letters.append(DeadLetter.model_validate_json(msg.data))
    finally:
        await sub.unsubscribe()
    return letters


async def test_malformed_events_are_dead_lettered_and_consumer_keeps_going(live: LiveContext) -> None:
    story = sid()
    info = await live.js.stream_info("DEAD_LETTERS")
    since = info.state.last_seq
    good = plan_event(story)
    bad_role = json.loads(good.to_bytes())
    bad_role.update(event_id=uuid.uuid4().hex, roles=["JANITOR"])
    missing = json.loads(good.to_bytes())
    missing.update(event_id=uuid.uuid4().hex)
    del missing["story_id"]
    payloads = [b"{not json", json.dumps(missing).encode(), json.dumps(bad_role).encode()]
    for body in payloads:
        await live.js.publish("planning.plan.approved", body, headers={"Nats-Msg-Id": uuid.uuid4().hex})
    seq = await publish(live, good)
    await wait_consumed(live, "PLANNING_EVENTS", "plan-approved", seq)
    reply = await get(live, story)
    assert reply.version

    async def three_letters() -> list[DeadLetter]:
        found = [
            d
            for d in await dead_letters(live, "planning.plan.approved", since)
            if d.payload in {p.decode() for p in payloads}
        ]
        return found if len(found) >= 3 else []

    letters = await until(three_letters, 10, "three dead letters")
    reasons = {d.payload: d.reason for d in letters}
    assert "invalid JSON" in reasons["{not json"]
    assert "story_id" in reasons[json.dumps(missing)]
    assert "roles" in reasons[json.dumps(bad_role)]
    assert all(d.original_subject == "planning.plan.approved" for d in letters)


async def test_acked_transition_and_decision_show_in_the_next_read(live: LiveContext) -> None:
    story = sid()
    seq = await publish(live, plan_event(story))
    await wait_consumed(live, "PLANNING_EVENTS", "plan-approved", seq)
    first = await get(live, story)
    assert (await get(live, story)).from_cache, "second identical read should come from valkey"
    assert "Current phase: DESIGN" in first.blocks[1].content

    seq = await publish(live, StoryTransitioned(story_id=story, from_phase="DESIGN", to_phase="BUILD"))
    await wait_consumed(live, "PLANNING_EVENTS", "story-transitioned", seq)
    after = await get(live, story)  # no polling: an acked change is visible at once
    assert "Current phase: BUILD" in after.blocks[1].content and after.version != first.version

    done = DeliberationCompleted(
        deliberation_id=f"{story}-delib",
        story_id=story,
        plan_id=f"{story}-plan",
        role="DEV",
        winner=CandidateSummary(
            agent_id="agent-1",
            rank=1,
            score=0.91,
            proposal="Use an outbox table\nbecause",
            reviews=[ReviewSummary(reviewer="agent-2", critique="solid")],
        ),
        candidates=[
            CandidateSummary(agent_id="agent-1", rank=1, score=0.91, proposal="Use an outbox table"),
            CandidateSummary(agent_id="agent-2", rank=2, score=0.55, proposal="Dual writes"),
        ],
    )
    seq = await publish(live, done)
    await wait_consumed(live, "ORCHESTRATION_EVENTS", "deliberations", seq)
    decided = await get(live, story)
    assert not decided.from_cache
    context = decided.blocks[1].content
    assert "Use an outbox table" in context and "(score 0.91)" in context
    assert context.index("Decisions affecting your tasks") < context.index("Use an outbox table")


async def test_older_transition_never_overtakes_a_newer_one(live: LiveContext) -> None:
    story = sid()
    seq = await publish(live, plan_event(story))
    now = datetime.now(UTC)
    newer = StoryTransitioned(story_id=story, from_phase="BUILD", to_phase="TEST", timestamp=now)
    older = StoryTransitioned(
        story_id=story, from_phase="DESIGN", to_phase="BUILD", timestamp=now - timedelta(minutes=5)
    )
    await publish(live, newer)
    seq = await publish(live, older)
    await wait_consumed(live, "PLANNING_EVENTS", "story-transitioned", seq)
    reply = await get(live, story, phase=pb.TEST)
    assert "Current phase: TEST" in reply.blocks[1].content
    records, _, _ = await live.app.graph.driver.execute_query(
        "MATCH (:Story {story_id: $s})-[:TRANSITIONED]->(t) RETURN count(t) AS n", s=story
    )
    assert records[0]["n"] == 2, "both transitions are kept as audit nodes"
