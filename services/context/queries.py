"""Queries of the Context service: role-scoped contexts (cache-aside, single-flight), scope
checks, session rehydration and graph neighbourhoods."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from services.context.domain.assembly import AssembledContext, assemble, decode, encode
from services.context.domain.errors import InvalidArgument, NotFound
from services.context.domain.keys import NODE_ID_KINDS, checked
from services.context.domain.model import NODE_KEYS, PHASES, DecisionItem, Neighbourhood, TaskItem
from services.context.domain.scope import ScopeCheck, check_phase, check_role
from services.context.ports import Deps
from services.shared import ids
from services.shared.events import Phase


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
    checked("story_id", story_id)
    checked("task_id", task_id, required=False)
    check_role(role)
    check_phase(phase)
    budget = _budget(deps, token_budget)
    suffix = f"{role}:{phase}:{budget}:{task_id}"
    cached = await deps.cache.get(story_id, suffix)
    if cached and cached[1] is not None:
        return ContextResult(decode(cached[1]), True)
    token = cached[0] if cached else None

    async def compute() -> AssembledContext:
        ctx = await deps.graph.load_context(story_id)
        if ctx is None:
            raise NotFound("story", story_id)
        assembled = assemble(ctx, role, phase, deps.policy, budget, deps.count, task_id)
        if token is not None:
            await deps.cache.put(story_id, suffix, token, encode(assembled))
        return assembled

    return ContextResult(await deps.flights.run(story_id, (suffix, token), compute), False)


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
    checked("story_id", story_id)
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
    label = node_label or "Story"
    if label not in NODE_KEYS:
        raise InvalidArgument(
            "node_label", f"unknown label {ids.preview(label)}; expected one of {', '.join(NODE_KEYS)}"
        )
    checked(NODE_ID_KINDS.get(label, "node_id"), node_id, "node_id")
    if depth < 0 or depth > 3:
        raise InvalidArgument("depth", "must be between 1 and 3")
    found = await deps.graph.neighbourhood(label, node_id, depth or 1)
    if found is None:
        raise NotFound(label, node_id)
    return found
