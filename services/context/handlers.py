"""Use cases of the Context service: plain functions over their dependencies.

Writes follow one order: commit in Neo4j, invalidate the story's cache entries,
publish `context.updated`, and only then return (the caller acks or answers).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from services.context.adapters.cypher_reads import NODE_KEYS
from services.context.domain.assembly import AssembledContext, assemble
from services.context.domain.errors import InvalidArgument, NotFound
from services.context.domain.model import PHASES, DecisionInput, DecisionItem, Neighbourhood, TaskItem
from services.context.domain.scope import ScopeCheck, ScopePolicy, check_phase, check_role
from services.context.domain.tokens import TokenCounter
from services.context.ports import Cache, Graph, Publish
from services.context.singleflight import SingleFlight
from services.shared.events import (
    CONTEXT_UPDATED,
    ContextUpdated,
    DeliberationCompleted,
    DeliberationEvent,
    InvalidEvent,
    Phase,
    PlanApproved,
    StoryTransitioned,
)

log = logging.getLogger(__name__)
MAX_ID = 200
PUBLISH_WINDOW = 256


@dataclass
class Deps:
    graph: Graph
    cache: Cache
    publish: Publish
    policy: ScopePolicy
    count: TokenCounter
    default_budget: int = 2000
    max_budget: int = 128_000
    flights: SingleFlight[AssembledContext] = field(default_factory=SingleFlight)
    # Bumped on every invalidation, so an in-process computation started before a
    # change is never shared with a reader that arrives after it.
    epochs: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _required(name: str, value: str) -> str:
    if not value or not value.strip():
        raise InvalidArgument(name, "is required")
    if len(value) > MAX_ID:
        raise InvalidArgument(name, f"is longer than {MAX_ID} characters")
    return value


async def _after_commit(deps: Deps, revisions: dict[str, int], changes: dict[str, list[str]]) -> None:
    """Invalidate, then announce. Raises when the announcement fails so that a
    consumer naks and the redelivery (a no-op in the graph) announces again."""
    for story_id in revisions:
        deps.epochs[story_id] += 1
    if revisions and not await deps.cache.invalidate(revisions):
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


# Event batches ----------------------------------------------------------------
async def record_plan_approved_batch(deps: Deps, events: Sequence[PlanApproved]) -> None:
    revisions = await deps.graph.record_plan_approvals(list(events))
    changes: dict[str, list[str]] = defaultdict(list)
    for e in events:
        changes[e.story_id] += [
            f"plan:{e.plan_id}@v{e.plan_version}",
            *(f"task:{t.task_id}" for t in e.tasks),
        ]
    await _after_commit(deps, revisions, changes)


async def record_transition_batch(deps: Deps, events: Sequence[StoryTransitioned]) -> dict[str, tuple[str, str]]:
    revisions, phases = await deps.graph.record_transitions(list(events))
    changes = {story: [f"phase:{phase}"] for story, (phase, _) in phases.items()}
    await _after_commit(deps, revisions, changes)
    return phases


async def record_deliberation_outcome_batch(deps: Deps, events: Sequence[DeliberationEvent]) -> None:
    for e in events:
        if isinstance(e, DeliberationCompleted) and not e.story_id:
            raise InvalidEvent(f"deliberation {e.deliberation_id}: completed without story_id")
    revisions = await deps.graph.record_deliberations(list(events))
    changes: dict[str, list[str]] = defaultdict(list)
    for e in events:
        if isinstance(e, DeliberationCompleted):
            changes[e.story_id].append(f"decision:{e.role.value}:{e.deliberation_id}")
    await _after_commit(deps, revisions, changes)


# Commands ---------------------------------------------------------------------
async def _announce(deps: Deps, revisions: dict[str, int], changes: dict[str, list[str]]) -> None:
    # The graph is the record: a command that committed still succeeds if NATS is away.
    try:
        await _after_commit(deps, revisions, changes)
    except Exception:
        log.exception("publishing ContextUpdated failed", extra={"stories": sorted(revisions)})


async def create_story(
    deps: Deps,
    story_id: str,
    title: str = "",
    description: str = "",
    phase: str = "",
    acceptance_criteria: Iterable[str] = (),
    created_by: str = "",
) -> bool:
    _required("story_id", story_id)
    phase = check_phase(phase or Phase.DESIGN.value)
    created = await deps.graph.create_story(
        {
            "story_id": story_id,
            "title": title,
            "description": description,
            "phase": phase,
            "acceptance_criteria": list(acceptance_criteria),
            "created_by": created_by,
            "at": _now(),
        }
    )
    await _announce(deps, {story_id: 1} if created else {}, {story_id: ["story"]})
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
    _required("story_id", story_id)
    _required("task_id", task_id)
    check_role(role)
    deps_list = sorted(set(depends_on))
    if task_id in deps_list:
        raise InvalidArgument("depends_on", "a task cannot depend on itself")
    for dep in deps_list:
        _required("depends_on", dep)
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
    await _announce(deps, {story_id: revision}, {story_id: [f"task:{task_id}"]})
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
    _required("decision.title", title)
    if role:
        check_role(role)
    # A retried call without an id must not create a second decision.
    key = decision_id or "dec-" + hashlib.sha256(f"{story_id}\0{role}\0{title}".encode()).hexdigest()[:16]
    return DecisionInput(key, title, rationale, role, tuple(sorted(set(affects))), decided_by)


async def update_context(
    deps: Deps,
    story_id: str,
    decisions: Sequence[DecisionInput] = (),
    milestones: Sequence[str] = (),
    summary: str = "",
) -> tuple[int, list[str]]:
    _required("story_id", story_id)
    if not decisions and not milestones and not summary:
        raise InvalidArgument("decisions", "nothing to update: decisions, milestones and summary are all empty")
    at = _now()
    mrows = [
        {"milestone_id": hashlib.sha256(f"{story_id}\0{m}".encode()).hexdigest()[:24], "text": m, "at": at}
        for m in milestones
        if m.strip()
    ]
    revision = await deps.graph.update_context(story_id, list(decisions), mrows, summary, at)
    changes = [f"decision:{d.decision_id}" for d in decisions] + ["milestone"] * bool(mrows)
    changes += ["summary"] * bool(summary)
    await _announce(deps, {story_id: revision}, {story_id: changes})
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
    _required("story_id", story_id)
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
    await _announce(deps, revisions, {story_id: [f"phase:{phase}"]})
    return TransitionResult(phase, by_event == event.event_id, str(revisions.get(story_id, 0)))


# Queries ----------------------------------------------------------------------
@dataclass(frozen=True)
class ContextResult:
    assembled: AssembledContext
    from_cache: bool


def _budget(deps: Deps, budget: int, name: str = "token_budget") -> int:
    if budget < 0 or budget > deps.max_budget:
        raise InvalidArgument(name, f"must be between 0 and {deps.max_budget}")
    return budget or deps.default_budget


async def get_context(
    deps: Deps, story_id: str, role: str, phase: str, task_id: str = "", token_budget: int = 0
) -> ContextResult:
    _required("story_id", story_id)
    check_role(role)
    check_phase(phase)
    budget = _budget(deps, token_budget)
    suffix = f"{role}:{phase}:{budget}:{task_id}"
    cached = await deps.cache.get(story_id, suffix)
    if cached and cached[1] is not None:
        return ContextResult(_decode(cached[1]), True)
    token = cached[0] if cached else None

    async def compute() -> AssembledContext:
        ctx = await deps.graph.load_context(story_id)
        if ctx is None:
            raise NotFound("story", story_id)
        assembled = assemble(ctx, role, phase, deps.policy, budget, deps.count, task_id)
        if token is not None:
            await deps.cache.put(story_id, suffix, token, json.dumps(asdict(assembled)).encode())
        return assembled

    key = (story_id, suffix, token, deps.epochs[story_id])
    return ContextResult(await deps.flights.run(key, compute), False)


def _decode(raw: bytes) -> AssembledContext:
    data: dict[str, Any] = json.loads(raw)
    for name in ("sections", "omitted", "block_tokens"):
        data[name] = tuple(data[name])
    return AssembledContext(**data)


@dataclass(frozen=True)
class ScopeResult:
    check: ScopeCheck
    missing: tuple[str, ...]
    reason: str


def validate_scope(deps: Deps, role: str, phase: str, scopes: Iterable[str]) -> ScopeResult:
    check_role(role)
    check_phase(phase)
    requested = set(scopes)
    check = deps.policy.check(role, phase, requested)
    missing = tuple(sorted(deps.policy.grant(role, phase).scopes - requested))
    reasons = []
    if check.denied:
        reasons.append(f"not allowed for {role} in {phase}: {', '.join(check.denied)}")
    if check.unknown:
        reasons.append(f"unknown scopes: {', '.join(check.unknown)}")
    return ScopeResult(check, missing, "; ".join(reasons) or "all requested scopes are allowed")


@dataclass(frozen=True)
class Rehydrated:
    story_id: str
    phase: str
    assembled: AssembledContext
    tasks: tuple[TaskItem, ...]
    decisions: tuple[DecisionItem, ...]


async def rehydrate_session(deps: Deps, story_id: str, role: str, token_budget: int = 0) -> Rehydrated:
    _required("story_id", story_id)
    check_role(role)
    ctx = await deps.graph.load_context(story_id)
    if ctx is None:
        raise NotFound("story", story_id)
    phase = ctx.story.phase if ctx.story.phase in PHASES else Phase.DESIGN.value
    result = await get_context(deps, story_id, role, phase, token_budget=token_budget)
    tasks = tuple(t for t in ctx.tasks if t.role == role)
    mine = {t.task_id for t in tasks}
    decisions = tuple(d for d in ctx.decisions if set(d.affects) & mine or d.role == role or not (d.role or d.affects))
    return Rehydrated(story_id, phase, result.assembled, tasks, decisions)


async def get_graph_relationships(deps: Deps, node_id: str, node_label: str = "", depth: int = 0) -> Neighbourhood:
    _required("node_id", node_id)
    label = node_label or "Story"
    if label not in NODE_KEYS:
        raise InvalidArgument("node_label", f"unknown label {label!r}; expected one of {', '.join(NODE_KEYS)}")
    if depth < 0 or depth > 3:
        raise InvalidArgument("depth", "must be between 1 and 3")
    found = await deps.graph.neighbourhood(label, node_id, depth or 1)
    if found is None:
        raise NotFound(label, node_id)
    return found
