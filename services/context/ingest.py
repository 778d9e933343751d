"""Events into the graph, a batch at a time, and the one order every write follows:
commit in Neo4j, invalidate the story's cache entries, publish `context.updated`, and only
then return (the caller acks or answers)."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Sequence

from services.context.ports import Deps
from services.shared.event_parsing import InvalidEvent
from services.shared.events import (
    CONTEXT_UPDATED,
    ContextUpdated,
    DeliberationCompleted,
    DeliberationEvent,
    PlanApproved,
    StoryTransitioned,
)
from services.shared.tracing import tracer

log = logging.getLogger(__name__)
PUBLISH_WINDOW = 256


async def after_commit(deps: Deps, revisions: dict[str, int], changes: dict[str, list[str]]) -> None:
    """Invalidate, then announce. Raises when the announcement fails so that a
    consumer naks and the redelivery (a no-op in the graph) announces again."""
    deps.flights.changed(revisions)
    with tracer.start_as_current_span("ingest.cache_invalidate", attributes={"stories": len(revisions)}):
        invalidated = not revisions or await deps.cache.invalidate(revisions)
    if not invalidated:
        log.warning("cache invalidation deferred until valkey is back", extra={"stories": len(revisions)})
    updates = [
        ContextUpdated(
            event_id=f"{CONTEXT_UPDATED}:{story_id}:{revision}",
            story_id=story_id,
            version=str(revision),
            changes=sorted(set(changes.get(story_id, []))),
        )
        for story_id, revision in sorted(revisions.items())
    ]
    # Pipelined: a batch of hundreds of stories must not wait for one ack at a time.
    for start in range(0, len(updates), PUBLISH_WINDOW):
        await asyncio.gather(*(deps.publish(u) for u in updates[start : start + PUBLISH_WINDOW]))



async def record_plan_approved_batch(deps: Deps, events: Sequence[PlanApproved]) -> None:
    with tracer.start_as_current_span("ingest.plan_write", attributes={
        "plans": len(events), **({"story_id": events[0].story_id} if len(events) == 1 else {}),
    }):
        revisions = await deps.graph.record_plan_approvals(list(events))
    changes: dict[str, list[str]] = defaultdict(list)
    for e in events:
        changes[e.story_id] += [
            f"plan:{e.plan_id}@v{e.plan_version}",
            *(f"task:{t.task_id}" for t in e.tasks),
        ]
    await after_commit(deps, revisions, changes)


async def record_transition_batch(deps: Deps, events: Sequence[StoryTransitioned]) -> dict[str, tuple[str, str]]:
    revisions, phases = await deps.graph.record_transitions(list(events))
    changes = {story: [f"phase:{phase}"] for story, (phase, _) in phases.items()}
    await after_commit(deps, revisions, changes)
    return phases


async def record_deliberation_outcome_batch(deps: Deps, events: Sequence[DeliberationEvent]) -> None:
    for e in events:
        if isinstance(e, DeliberationCompleted) and not e.story_id:
            raise InvalidEvent(f"deliberation {e.deliberation_id}: completed without story_id")
    decided = [e.deliberation_id for e in events if isinstance(e, DeliberationCompleted)]
    with tracer.start_as_current_span("ingest.decision_write", attributes={
        "deliberations": len(events), "decisions": len(decided),
        **({"deliberation_id": decided[0]} if len(decided) == 1 else {}),
    }):
        revisions = await deps.graph.record_deliberations(list(events))
    changes: dict[str, list[str]] = defaultdict(list)
    for e in events:
        if isinstance(e, DeliberationCompleted):
            changes[e.story_id].append(f"decision:{e.role.value}:{e.deliberation_id}")
    await after_commit(deps, revisions, changes)



async def announce(deps: Deps, revisions: dict[str, int], changes: dict[str, list[str]]) -> None:
    # The graph is the record: a command that committed still succeeds if NATS is away.
    try:
        await after_commit(deps, revisions, changes)
    except Exception:
        log.exception("publishing ContextUpdated failed", extra={"stories": sorted(revisions)})
