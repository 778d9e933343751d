"""Read side: a story's context in one round trip, mapped onto the pure model."""

from __future__ import annotations

from typing import Any

from neo4j import AsyncDriver, RoutingControl

from services.context.adapters.cypher_reads import LOAD_CONTEXT, NODE_KEYS, neighbourhood
from services.context.domain.model import (
    DecisionItem,
    GraphEdge,
    GraphNode,
    Milestone,
    Neighbourhood,
    PlanHeader,
    StoryContext,
    StoryHeader,
    TaskItem,
)

MAX_PATHS = 1000
_HIDDEN = {"tx"}


class GraphReads:
    def __init__(self, driver: AsyncDriver, database: str | None = None) -> None:
        self.driver = driver
        self.database = database

    async def _read(self, query: str, **params: Any) -> list[Any]:
        records, _, _ = await self.driver.execute_query(
            query, params, routing_=RoutingControl.READ, database_=self.database
        )
        return list(records)

    async def load_context(self, story_id: str) -> StoryContext | None:
        records = await self._read(LOAD_CONTEXT, story_id=story_id)
        return to_story_context(records[0]) if records else None

    async def neighbourhood(self, label: str, node_id: str, depth: int) -> Neighbourhood | None:
        records = await self._read(neighbourhood(label, depth), node_id=node_id, limit=MAX_PATHS)
        if not records:
            return None
        ids = {n["eid"]: _node_id(n["labels"], n["props"]) for n in records[0]["nodes"]}
        nodes = tuple(
            GraphNode(
                ids[n["eid"]],
                tuple(n["labels"]),
                {k: _text(v) for k, v in sorted(n["props"].items()) if k not in _HIDDEN},
            )
            for n in records[0]["nodes"]
        )
        edges = tuple(GraphEdge(ids[r["start"]], ids[r["end"]], r["type"]) for r in records[0]["rels"])
        return Neighbourhood(nodes, edges)


def _node_id(labels: list[str], props: dict[str, Any]) -> str:
    for label in labels:
        if label == "PlanVersion":
            return f"{props.get('plan_id')}@v{props.get('version')}"
        if label in NODE_KEYS:
            return str(props.get(NODE_KEYS[label], ""))
    return ""


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def to_story_context(record: Any) -> StoryContext:
    s = record["story"]
    plans = sorted(record["plans"], key=lambda p: p["version"] or 0)
    plan = None
    if plans:
        p = plans[-1]
        plan = PlanHeader(
            p["plan_id"],
            int(p["version"] or 1),
            p["title"] or "",
            p["description"] or "",
            p["approved_by"] or "",
            tuple(p["roles"] or ()),
            tuple(p["acceptance_criteria"] or ()),
        )
    tasks = tuple(
        TaskItem(
            t["task_id"],
            t["role"] or "",
            t["title"] or "",
            t["description"] or "",
            t["status"] or "TODO",
            tuple(sorted(t["deps"])),
        )
        for t in sorted(record["tasks"], key=lambda t: t["task_id"])
    )
    decisions = tuple(
        DecisionItem(
            d["decision_id"],
            d["title"] or "",
            d["rationale"] or "",
            d["role"] or "",
            tuple(sorted(d["affects"])),
            d["score"],
            d["made_at"] or "",
            tuple(
                f"{a['agent_id']} (rank {a['rank']}, score {float(a['score'] or 0):.2f})"
                for a in sorted(d["alternatives"], key=lambda a: a["rank"] or 0)
            ),
        )
        for d in sorted(record["decisions"], key=lambda d: d["decision_id"])
    )
    return StoryContext(
        story=StoryHeader(
            s["story_id"],
            s["title"] or "",
            s["description"] or "",
            s["phase"] or "DESIGN",
            tuple(s["acceptance_criteria"] or ()),
        ),
        plan=plan,
        tasks=tasks,
        decisions=decisions,
        milestones=_milestones(record),
        summary=s["summary"] or "",
        revision=int(s["revision"] or 0),
    )


def _milestones(record: Any) -> tuple[Milestone, ...]:
    items = [Milestone("PHASE", f"{t['from_phase']} -> {t['to_phase']}", t["at"] or "") for t in record["transitions"]]
    items += [
        Milestone(
            "PLAN_APPROVED",
            f"{a['plan_id']} v{a['plan_version']} approved by {a['approved_by']}",
            a["at"] or "",
        )
        for a in record["approvals"]
    ]
    items += [Milestone("MILESTONE", m["text"] or "", m["at"] or "") for m in record["milestones"]]
    return tuple(sorted(items, key=lambda m: (m.at, m.kind, m.description), reverse=True))
