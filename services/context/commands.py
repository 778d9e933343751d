"""Commands of the Context service: writes that follow ingest's order (commit, invalidate,
announce), so a reader never sees a context older than its last acknowledged change."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from services.context.domain.errors import InvalidArgument, NotFound
from services.context.domain.keys import checked, decision_key, milestone_key, required
from services.context.domain.model import PHASES, DecisionInput, TaskItem
from services.context.domain.scope import check_phase, check_role
from services.context.ingest import announce
from services.context.ports import Deps
from services.shared.clock import rfc3339, utcnow
from services.shared.events import Phase, StoryTransitioned


async def create_story(
    deps: Deps,
    story_id: str,
    title: str = "",
    description: str = "",
    phase: str = "",
    acceptance_criteria: Iterable[str] = (),
    created_by: str = "",
) -> bool:
    checked("story_id", story_id)
    checked("actor", created_by, "created_by", required=False)
    phase = check_phase(phase or Phase.DESIGN.value)
    created = await deps.graph.create_story(
        {
            "story_id": story_id,
            "title": title,
            "description": description,
            "phase": phase,
            "acceptance_criteria": list(acceptance_criteria),
            "created_by": created_by,
            "at": rfc3339(utcnow()),
        }
    )
    await announce(deps, {story_id: 1} if created else {}, {story_id: ["story"]})
    if not created:
        await deps.cache.invalidate([story_id])
    return created


async def create_task(
    deps: Deps,
    story_id: str,
    task_id: str,
    role: str,
    title: str = "",
    description: str = "",
    depends_on: Iterable[str] = (),
) -> tuple[TaskItem, bool]:
    checked("story_id", story_id)
    checked("task_id", task_id)
    check_role(role)
    deps_list = sorted(set(depends_on))
    if task_id in deps_list:
        raise InvalidArgument("depends_on", "a task cannot depend on itself")
    for dep in deps_list:
        checked("task_id", dep, "depends_on")
    created, status, revision = await deps.graph.create_task(
        {
            "story_id": story_id,
            "task_id": task_id,
            "role": role,
            "title": title,
            "description": description,
            "depends_on": deps_list,
        }
    )
    await announce(deps, {story_id: revision}, {story_id: [f"task:{task_id}"]})
    return TaskItem(task_id, role, title, description, status, tuple(deps_list)), created


def decision_input(
    story_id: str,
    title: str,
    rationale: str = "",
    role: str = "",
    affects: Iterable[str] = (),
    decided_by: str = "",
    decision_id: str = "",
) -> DecisionInput:
    required("decision.title", title)
    checked("decision_id", decision_id, "decision.decision_id", required=False)
    checked("actor", decided_by, "decision.decided_by", required=False)
    for task in affects:
        checked("task_id", task, "decision.affects_task_ids")
    if role:
        check_role(role)
    # A retried call without an id must not create a second decision.
    key = decision_id or decision_key(story_id, role, title)
    return DecisionInput(key, title, rationale, role, tuple(sorted(set(affects))), decided_by)


async def update_context(
    deps: Deps,
    story_id: str,
    decisions: Sequence[DecisionInput] = (),
    milestones: Sequence[str] = (),
    summary: str = "",
) -> tuple[int, list[str]]:
    checked("story_id", story_id)
    if not decisions and not milestones and not summary:
        raise InvalidArgument("decisions", "nothing to update: decisions, milestones and summary are all empty")
    at = rfc3339(utcnow())
    mrows = [
        {"milestone_id": milestone_key(story_id, m), "text": m, "at": at}
        for m in milestones
        if m.strip()
    ]
    revision = await deps.graph.update_context(story_id, list(decisions), mrows, summary, at)
    changes = [f"decision:{d.decision_id}" for d in decisions] + ["milestone"] * bool(mrows)
    changes += ["summary"] * bool(summary)
    await announce(deps, {story_id: revision}, {story_id: changes})
    return revision, sorted(set(changes))


async def add_project_decision(deps: Deps, story_id: str, decision: DecisionInput) -> tuple[str, int]:
    revision, _ = await update_context(deps, story_id, decisions=[decision])
    return decision.decision_id, revision


@dataclass(frozen=True)
class TransitionResult:
    phase: str
    applied: bool
    version: str


async def transition_phase(
    deps: Deps,
    story_id: str,
    from_phase: str,
    to_phase: str,
    requested_by: str = "",
    event_id: str = "",
) -> TransitionResult:
    checked("story_id", story_id)
    checked("actor", requested_by, "requested_by", required=False)
    checked("event_id", event_id, "event_id", required=False)
    if not from_phase:
        raise InvalidArgument("from_phase", "is required")
    if not to_phase:
        raise InvalidArgument("to_phase", "is required")
    if from_phase not in PHASES:
        raise InvalidArgument("from_phase", f"unknown phase {from_phase!r}")
    if to_phase not in PHASES:
        raise InvalidArgument("to_phase", f"unknown phase {to_phase!r}")
    if await deps.graph.load_context(story_id) is None:
        raise NotFound("story", story_id)
    event = StoryTransitioned(
        event_id=event_id or uuid.uuid4().hex,
        story_id=story_id,
        from_phase=Phase(from_phase),
        to_phase=Phase(to_phase),
    )
    revisions, phases = await deps.graph.record_transitions([event], requested_by)
    phase, by_event = phases[story_id]
    await announce(deps, revisions, {story_id: [f"phase:{phase}"]})
    return TransitionResult(phase, by_event == event.event_id, str(revisions.get(story_id, 0)))
