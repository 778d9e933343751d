"""Event -> Cypher parameter rows. Plain data mapping, kept apart from the driver."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from services.shared.clock import rfc3339
from services.shared.events import (
    DELIBERATION_CANCELLED,
    DELIBERATION_COMPLETED,
    DELIBERATION_FAILED,
    DELIBERATION_QUEUED,
    DELIBERATION_STARTED,
    CandidateSummary,
    DeliberationCompleted,
    DeliberationEvent,
    PlanApproved,
    StoryTransitioned,
)

STATUS = {
    DELIBERATION_QUEUED: "QUEUED",
    DELIBERATION_STARTED: "RUNNING",
    DELIBERATION_COMPLETED: "COMPLETED",
    DELIBERATION_FAILED: "FAILED",
    DELIBERATION_CANCELLED: "CANCELLED",
}


def micros(ts: datetime) -> int:
    ts = ts if ts.tzinfo else ts.replace(tzinfo=UTC)
    return int(ts.timestamp() * 1_000_000)


def plan_rows(events: list[PlanApproved]) -> list[dict[str, Any]]:
    return [
        {
            "event_id": e.event_id,
            "story_id": e.story_id,
            "plan_id": e.plan_id,
            "plan_version": e.plan_version,
            "approved_by": e.approved_by,
            "roles": [r.value for r in e.roles],
            "title": e.title,
            "description": e.description,
            "acceptance_criteria": list(e.acceptance_criteria),
            "at": rfc3339(e.timestamp),
            "tasks": [
                {
                    "task_id": t.task_id,
                    "role": t.role.value,
                    "title": t.title,
                    "description": t.description,
                    "depends_on": list(t.depends_on),
                }
                for t in e.tasks
            ],
        }
        for e in events
    ]


def transition_rows(events: list[StoryTransitioned], requested_by: str = "") -> list[dict[str, Any]]:
    rows = [
        {
            "event_id": e.event_id,
            "story_id": e.story_id,
            "from_phase": e.from_phase.value,
            "to_phase": e.to_phase.value,
            "at": rfc3339(e.timestamp),
            "seq": micros(e.timestamp),
            "requested_by": requested_by,
        }
        for e in events
    ]
    return sorted(rows, key=lambda r: (r["seq"], r["event_id"]))


def newest_per_story(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    newest: dict[str, dict[str, Any]] = {}
    for row in rows:  # sorted oldest first, so the last one wins
        newest[row["story_id"]] = row
    return list(newest.values())


def status_rows(events: list[DeliberationEvent]) -> list[dict[str, Any]]:
    return [
        {
            "deliberation_id": e.deliberation_id,
            "story_id": e.story_id,
            "plan_id": e.plan_id,
            "plan_version": e.plan_version,
            "role": e.role.value,
            "status": STATUS[e.subject],
            "reason": str(getattr(e, "reason", "")),
            "at": rfc3339(e.occurred_at),
        }
        for e in events
    ]


def decision_id(deliberation_id: str, agent_id: str = "") -> str:
    return f"dec-{deliberation_id}" + (f"-{agent_id}" if agent_id else "")


def completed_rows(events: list[DeliberationCompleted]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    winners, alternatives = [], []
    for e in events:
        w = e.winner
        winners.append(
            {
                "deliberation_id": e.deliberation_id,
                "story_id": e.story_id,
                "plan_id": e.plan_id,
                "plan_version": e.plan_version,
                "role": e.role.value,
                "decision_id": decision_id(e.deliberation_id),
                "title": f"{e.role.value} council decision: {headline(w.proposal) or w.agent_id}",
                "rationale": w.proposal[:800],
                "score": w.score,
                "agent_id": w.agent_id,
                "proposal": w.proposal,
                "reviews_json": json.dumps([r.model_dump() for r in w.reviews], ensure_ascii=False),
                "checks_json": checks_json(w),
                "usage_json": json.dumps([u.model_dump() for u in e.usage]),
                "duration_ms": e.duration_ms,
                "at": rfc3339(e.occurred_at),
            }
        )
        alternatives += [
            {
                "deliberation_id": e.deliberation_id,
                "winner_id": decision_id(e.deliberation_id),
                "decision_id": decision_id(e.deliberation_id, c.agent_id),
                "story_id": e.story_id,
                "role": e.role.value,
                "title": headline(c.proposal),
                "score": c.score,
                "rank": c.rank,
                "agent_id": c.agent_id,
                "proposal": c.proposal,
                "reviews_json": json.dumps([r.model_dump() for r in c.reviews], ensure_ascii=False),
                "checks_json": checks_json(c),
                "at": rfc3339(e.occurred_at),
            }
            for c in e.candidates
            if c.agent_id != w.agent_id
        ]
    return winners, alternatives


def checks_json(candidate: CandidateSummary) -> str:
    """The checks and the sandbox runs (per-test results, truncated output) behind them."""
    return json.dumps(
        {
            "checks": candidate.checks,
            "details": candidate.check_details,
            "execution_score": candidate.execution_score,
            "executions": [run.model_dump() for run in candidate.executions],
        },
        ensure_ascii=False,
    )


def headline(text: str, limit: int = 120) -> str:
    """The proposal's first markdown heading, else its first line."""
    lines = text.splitlines()
    for line in [*(x for x in lines if x.lstrip().startswith("#")), *lines]:
        line = line.strip().lstrip("#").strip()
        if line:
            return line[:limit]
    return ""
