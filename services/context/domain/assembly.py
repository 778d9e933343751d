"""Assemble a role-scoped prompt (system, context, tools) within a token budget.

Items are produced in priority order; budgeting walks that order and, at the
first item that does not fit, shortens it to the room left and drops the rest,
so whatever is lost is always the lowest-priority material.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from services.context.domain.model import DecisionItem, StoryContext, TaskItem
from services.context.domain.redaction import redact
from services.context.domain.scope import Grant, ScopePolicy
from services.context.domain.tokens import TokenCounter, truncate_to
from services.context.domain.versioning import content_version

# Priority (highest first) doubles as display order.
SECTIONS: tuple[tuple[str, str], ...] = (
    ("story", "Story"),
    ("plan", "Plan"),
    ("role_tasks", "Your tasks"),
    ("role_decisions", "Decisions affecting your tasks"),
    ("upstream_decisions", "Decisions on the work your tasks depend on"),
    ("global_decisions", "Project decisions"),
    ("dependencies", "Dependencies"),
    ("milestones", "Recent milestones"),
    ("summary", "Last summary"),
    ("other_tasks", "Other roles' tasks"),
)
_HEADINGS = dict(SECTIONS)
MIN_SHORTENED_TOKENS = 8
MAX_MILESTONES = 5


@dataclass(frozen=True)
class Item:
    section: str
    text: str


@dataclass(frozen=True)
class AssembledContext:
    system: str
    context: str
    tools: str
    token_count: int
    version: str
    sections: tuple[str, ...]
    dropped_items: int
    truncated: bool
    # Sections that lost at least one item to the budget.
    omitted: tuple[str, ...] = ()
    # Token counts of the system, context and tools blocks.
    block_tokens: tuple[int, int, int] = (0, 0, 0)


def encode(assembled: AssembledContext) -> bytes:
    """The cache's form of an assembled context."""
    return json.dumps(asdict(assembled)).encode()


def decode(raw: bytes) -> AssembledContext:
    data: dict[str, Any] = json.loads(raw)
    for name in ("sections", "omitted", "block_tokens"):
        data[name] = tuple(data[name])
    return AssembledContext(**data)


def assemble(
    ctx: StoryContext,
    role: str,
    phase: str,
    policy: ScopePolicy,
    budget: int,
    count: TokenCounter,
    task_id: str = "",
) -> AssembledContext:
    grant = policy.grant(role, phase)
    system = redact(f"{policy.system_prompt(role)}\nStory {ctx.story.story_id}; role {role}; phase {phase}.")
    tools = f"Tools available to {role} in {phase}: {', '.join(grant.tools) or 'none'}."
    items = [Item(i.section, redact(i.text)) for i in context_items(ctx, role, grant, task_id)]

    room = budget - count(system) - count(tools)
    if room < 0:
        tools = truncate_to(tools, max(0, budget - count(system)), count)
        system = truncate_to(system, budget - count(tools), count)
        selected: list[Item] = []
        truncated = True
    else:
        selected, truncated = _fit(items, room, count)
    context = render(selected)
    while selected and count(system) + count(context) + count(tools) > budget:
        selected.pop()
        truncated = True
        context = render(selected)
    block_tokens = (count(system), count(context), count(tools))
    version = content_version(
        {
            "story_id": ctx.story.story_id,
            "role": role,
            "phase": phase,
            "task_id": task_id,
            "system": system,
            "context": context,
            "tools": tools,
        }
    )
    sections = tuple(dict.fromkeys(i.section for i in selected))
    # The selection is always a prefix of the priority order.
    omitted = tuple(dict.fromkeys(i.section for i in items[len(selected) :]))
    return AssembledContext(
        system,
        context,
        tools,
        sum(block_tokens),
        version,
        sections,
        len(items) - len(selected),
        truncated,
        omitted,
        block_tokens,
    )


def _fit(items: list[Item], room: int, count: TokenCounter) -> tuple[list[Item], bool]:
    selected: list[Item] = []
    started: set[str] = set()
    for item in items:
        head = 0 if item.section in started else count(_heading(item.section))
        cost = head + count(item.text + "\n")
        if cost <= room:
            selected.append(item)
            started.add(item.section)
            room -= cost
            continue
        limit = room - head - 1
        if limit >= MIN_SHORTENED_TOKENS:
            short = truncate_to(item.text, limit, count)
            if short:
                selected.append(Item(item.section, short))
        return selected, True
    return selected, False


def render(items: list[Item]) -> str:
    blocks: list[str] = []
    current = ""
    for item in items:
        if item.section != current:
            blocks.append(_heading(item.section))
            current = item.section
        blocks[-1] += item.text + "\n"
    return "\n".join(b.rstrip("\n") for b in blocks)


def _heading(section: str) -> str:
    return f"## {_HEADINGS[section]}\n"


def context_items(ctx: StoryContext, role: str, grant: Grant, task_id: str = "") -> list[Item]:
    """Every item the grant allows, highest priority first."""
    s = grant.scopes
    items: list[Item] = []
    if "story" in s:
        items.append(Item("story", _story_text(ctx, "story.acceptance_criteria" in s)))
    if "plan" in s and ctx.plan is not None:
        items.append(Item("plan", _plan_text(ctx, "plan.acceptance_criteria" in s)))
    mine = _focus_first([t for t in ctx.tasks if t.role == role], task_id)
    mine_ids = {t.task_id for t in mine}
    if "tasks" in s:
        items += [Item("role_tasks", _task_text(t, t.task_id == task_id)) for t in mine]
    if "decisions" in s:
        affecting = [d for d in ctx.decisions if _affects_role(d, role, mine_ids)]
        affecting = sorted(_newest_first(affecting), key=lambda d: task_id not in d.affects)
        items += [Item("role_decisions", _decision_text(d, s)) for d in affecting]
        upstream_ids = _upstream(ctx, mine_ids)
        upstream = [d for d in ctx.decisions if set(d.affects) & upstream_ids and d not in affecting]
        items += [Item("upstream_decisions", _decision_text(d, s)) for d in _newest_first(upstream)]
        if "decisions.global" in s:
            glob = _newest_first([d for d in ctx.decisions if not d.affects and not d.role])
            items += [Item("global_decisions", _decision_text(d, s)) for d in glob]
    if "dependencies" in s:
        see_all = "tasks.other_roles" in s
        edges = [e for e in ctx.dependency_edges() if see_all or {e.task_id, e.depends_on} & mine_ids]
        items += [Item("dependencies", f"- {e.task_id} depends on {e.depends_on}") for e in edges]
    if "milestones" in s:
        items += [
            Item("milestones", f"- {m.at + ' ' if m.at else ''}{m.kind}: {m.description}")
            for m in ctx.milestones[:MAX_MILESTONES]
        ]
    if "summary" in s and ctx.summary:
        items.append(Item("summary", ctx.summary))
    if "tasks" in s and "tasks.other_roles" in s:
        items += [Item("other_tasks", _task_text(t, False)) for t in ctx.tasks if t.role != role]
    return items


def _story_text(ctx: StoryContext, with_criteria: bool) -> str:
    st = ctx.story
    lines = [f"{st.story_id}: {st.title}".rstrip(": "), f"Current phase: {st.phase}"]
    if st.description:
        lines.append(st.description)
    if with_criteria and st.acceptance_criteria:
        lines += ["Acceptance criteria:", *(f"- {c}" for c in st.acceptance_criteria)]
    return "\n".join(lines)


def _plan_text(ctx: StoryContext, with_criteria: bool) -> str:
    p = ctx.plan
    assert p is not None
    lines = [f"{p.plan_id} v{p.version}: {p.title}".rstrip(": ")]
    if p.approved_by:
        lines.append(f"Approved by {p.approved_by} for roles {', '.join(p.roles) or '-'}")
    if p.description:
        lines.append(p.description)
    if with_criteria and p.acceptance_criteria:
        lines += ["Acceptance criteria:", *(f"- {c}" for c in p.acceptance_criteria)]
    return "\n".join(lines)


def _task_text(t: TaskItem, focus: bool) -> str:
    mark = " (current task)" if focus else ""
    text = f"- [{t.task_id}] {t.role} {t.status}{mark}: {t.title}"
    return f"{text}\n  {t.description}" if t.description else text


def _decision_text(d: DecisionItem, scopes: frozenset[str]) -> str:
    text = f"- [{d.decision_id}] {d.title}"
    if d.score is not None:
        text += f" (score {d.score:.2f})"
    if "decisions.rationale" in scopes and d.rationale:
        text += f"\n  Rationale: {d.rationale}"
    if "decisions.alternatives" in scopes and d.alternatives:
        text += "\n  Alternatives: " + "; ".join(d.alternatives)
    return text


def _focus_first(tasks: list[TaskItem], task_id: str) -> list[TaskItem]:
    return sorted(tasks, key=lambda t: (t.task_id != task_id, t.task_id))


def _affects_role(d: DecisionItem, role: str, role_task_ids: set[str]) -> bool:
    return bool(set(d.affects) & role_task_ids) or (d.role == role and not d.affects)


def _upstream(ctx: StoryContext, task_ids: set[str]) -> set[str]:
    """Tasks the given ones depend on, directly or through others: their decisions shape this work."""
    depends = {t.task_id: t.depends_on for t in ctx.tasks}
    seen: set[str] = set()
    frontier = [d for t in task_ids for d in depends.get(t, ())]
    while frontier:
        task = frontier.pop()
        if task not in seen and task not in task_ids:
            seen.add(task)
            frontier.extend(depends.get(task, ()))
    return seen


def _newest_first(decisions: list[DecisionItem]) -> list[DecisionItem]:
    return sorted(decisions, key=lambda d: (d.made_at, d.decision_id), reverse=True)
