"""The graph of record: Neo4j writes, each use case in one transaction."""

from __future__ import annotations

import uuid
from typing import Any

from neo4j import AsyncDriver, AsyncManagedTransaction

from services.context.adapters import cypher_commands as cc
from services.context.adapters import cypher_events as ce
from services.context.adapters import cypher_params
from services.context.adapters.neo4j_reads import GraphReads
from services.context.adapters.neo4j_schema import ensure_schema
from services.context.adapters.service_metrics import timed_write
from services.context.domain.errors import InvalidArgument, NotFound
from services.context.domain.model import DecisionInput
from services.shared.events import (
    DeliberationCompleted,
    DeliberationEvent,
    PlanApproved,
    StoryTransitioned,
)

Revisions = dict[str, int]


class Neo4jGraph(GraphReads):
    def __init__(self, driver: AsyncDriver, database: str | None = None) -> None:
        super().__init__(driver, database)

    async def ensure_schema(self) -> None:
        await ensure_schema(self.driver, self.database)

    async def close(self) -> None:
        await self.driver.close()

    async def _write(self, work: Any, *args: Any) -> Any:
        async with self.driver.session(database=self.database) as session:
            return await session.execute_write(work, *args)

    # Event batches --------------------------------------------------------
    @timed_write
    async def record_plan_approvals(self, events: list[PlanApproved]) -> Revisions:
        plans = cypher_params.plan_rows(events)

        async def work(tx: AsyncManagedTransaction) -> Revisions:
            await (await tx.run(ce.PLAN_APPROVED, rows=plans, marker=uuid.uuid4().hex)).consume()
            return await _revisions(tx, {p["story_id"] for p in plans})

        return await self._write(work)

    @timed_write
    async def record_transitions(
        self, events: list[StoryTransitioned], requested_by: str = ""
    ) -> tuple[Revisions, dict[str, tuple[str, str]]]:
        """Returns revisions and, per story, (current phase, event id that set it)."""
        trows = cypher_params.transition_rows(events, requested_by)

        async def work(tx: AsyncManagedTransaction) -> tuple[Revisions, dict[str, tuple[str, str]]]:
            await (await tx.run(ce.TRANSITIONS, rows=trows, marker=uuid.uuid4().hex)).consume()
            result = await tx.run(ce.ADVANCE_PHASE, rows=cypher_params.newest_per_story(trows))
            phases = {r["story_id"]: (r["phase"], r["phase_event_id"]) async for r in result}
            return await _revisions(tx, set(phases)), phases

        return await self._write(work)

    @timed_write
    async def record_deliberations(self, events: list[DeliberationEvent]) -> Revisions:
        completed = [e for e in events if isinstance(e, DeliberationCompleted)]
        winners, alternatives = cypher_params.completed_rows(completed)
        statuses = cypher_params.status_rows(events)

        async def work(tx: AsyncManagedTransaction) -> Revisions:
            await (await tx.run(ce.DELIBERATION_STATUS, rows=statuses)).consume()
            if winners:
                await (await tx.run(ce.DELIBERATION_COMPLETED, rows=winners, marker=uuid.uuid4().hex)).consume()
            if alternatives:
                await (await tx.run(ce.ALTERNATIVES, rows=alternatives)).consume()
            return await _revisions(tx, {w["story_id"] for w in winners})

        return await self._write(work)

    # Commands -------------------------------------------------------------
    @timed_write
    async def create_story(self, params: dict[str, Any]) -> bool:
        async def work(tx: AsyncManagedTransaction) -> bool:
            record = await (await tx.run(cc.CREATE_STORY, marker=uuid.uuid4().hex, **params)).single()
            return bool(record and record["created"])

        return await self._write(work)

    @timed_write
    async def create_task(self, params: dict[str, Any]) -> tuple[bool, str, int]:
        """Returns (created, status, story revision)."""

        async def work(tx: AsyncManagedTransaction) -> tuple[bool, str, int]:
            await _story_revision(tx, params["story_id"])
            owner = await (await tx.run(cc.TASK_OWNER, task_id=params["task_id"])).single()
            if owner and owner["story_id"] != params["story_id"] and owner["status"] != "UNKNOWN":
                raise InvalidArgument("task_id", f"task {params['task_id']!r} belongs to story {owner['story_id']!r}")
            record = await (await tx.run(cc.CREATE_TASK, marker=uuid.uuid4().hex, **params)).single()
            assert record is not None
            revision = await _bump(tx, params["story_id"])
            return bool(record["created"]), str(record["status"]), revision

        return await self._write(work)

    @timed_write
    async def update_context(
        self,
        story_id: str,
        decisions: list[DecisionInput],
        milestones: list[dict[str, str]],
        summary: str,
        at: str,
    ) -> int:
        async def work(tx: AsyncManagedTransaction) -> int:
            await _story_revision(tx, story_id)
            affected = sorted({t for d in decisions for t in d.affects})
            if affected:
                found = await (await tx.run(cc.STORY_TASK_IDS, story_id=story_id, task_ids=affected)).single()
                missing = sorted(set(affected) - set(found["found"] if found else []))
                if missing:
                    raise InvalidArgument("decision.affects_task_ids", f"unknown tasks for this story: {missing}")
            if decisions:
                drows = [
                    {
                        "decision_id": d.decision_id,
                        "title": d.title,
                        "rationale": d.rationale,
                        "role": d.role,
                        "affects": list(d.affects),
                        "decided_by": d.decided_by,
                        "at": at,
                    }
                    for d in decisions
                ]
                await (await tx.run(cc.ADD_DECISIONS, story_id=story_id, decisions=drows)).consume()
            if milestones:
                await (await tx.run(cc.ADD_MILESTONES, story_id=story_id, milestones=milestones)).consume()
            if summary:
                await (await tx.run(cc.SET_SUMMARY, story_id=story_id, summary=summary, at=at)).consume()
            return await _bump(tx, story_id)

        return await self._write(work)


async def _revisions(tx: AsyncManagedTransaction, story_ids: set[str]) -> Revisions:
    result = await tx.run(ce.STORY_REVISIONS, story_ids=sorted(story_ids))
    return {r["story_id"]: int(r["revision"] or 0) async for r in result}


async def _story_revision(tx: AsyncManagedTransaction, story_id: str) -> int:
    record = await (await tx.run(cc.STORY_REVISION, story_id=story_id)).single()
    if record is None:
        raise NotFound("story", story_id)
    return int(record["revision"] or 0)


async def _bump(tx: AsyncManagedTransaction, story_id: str) -> int:
    record = await (await tx.run(cc.BUMP_REVISION, story_id=story_id)).single()
    return int(record["revision"]) if record else 0
