"""The graph-independent shape of one story's context, as the read side loads it."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.shared.events import Phase, Role

ROLES: tuple[str, ...] = tuple(r.value for r in Role)
PHASES: tuple[str, ...] = tuple(p.value for p in Phase)

# Natural key of each label GetGraphRelationships may start from.
NODE_KEYS: dict[str, str] = {
    "Story": "story_id",
    "Task": "task_id",
    "Decision": "decision_id",
    "PlanVersion": "plan_id",
    "Deliberation": "deliberation_id",
    "Actor": "name",
    "PlanApproval": "event_id",
    "PhaseTransition": "event_id",
    "Milestone": "milestone_id",
}


@dataclass(frozen=True)
class StoryHeader:
    story_id: str
    title: str = ""
    description: str = ""
    phase: str = Phase.DESIGN.value
    acceptance_criteria: tuple[str, ...] = ()


@dataclass(frozen=True)
class PlanHeader:
    plan_id: str
    version: int = 1
    title: str = ""
    description: str = ""
    approved_by: str = ""
    roles: tuple[str, ...] = ()
    acceptance_criteria: tuple[str, ...] = ()


@dataclass(frozen=True)
class TaskItem:
    task_id: str
    role: str
    title: str = ""
    description: str = ""
    status: str = "TODO"
    depends_on: tuple[str, ...] = ()


@dataclass(frozen=True)
class DecisionItem:
    decision_id: str
    title: str
    rationale: str = ""
    role: str = ""
    # Task ids this decision affects; empty means it is a global (project) decision.
    affects: tuple[str, ...] = ()
    score: float | None = None
    made_at: str = ""
    # One-line summaries of the candidates that lost, best first.
    alternatives: tuple[str, ...] = ()


@dataclass(frozen=True)
class Milestone:
    kind: str
    description: str
    at: str = ""


@dataclass(frozen=True)
class DependencyEdge:
    task_id: str
    depends_on: str


@dataclass(frozen=True)
class StoryContext:
    story: StoryHeader
    plan: PlanHeader | None = None
    tasks: tuple[TaskItem, ...] = ()
    decisions: tuple[DecisionItem, ...] = ()
    milestones: tuple[Milestone, ...] = ()
    summary: str = ""
    revision: int = 0
    dependencies: tuple[DependencyEdge, ...] = field(default=())

    def dependency_edges(self) -> tuple[DependencyEdge, ...]:
        if self.dependencies:
            return self.dependencies
        return tuple(DependencyEdge(t.task_id, dep) for t in self.tasks for dep in t.depends_on)


@dataclass(frozen=True)
class GraphNode:
    id: str
    labels: tuple[str, ...]
    properties: dict[str, str]


@dataclass(frozen=True)
class GraphEdge:
    from_id: str
    to_id: str
    type: str


@dataclass(frozen=True)
class Neighbourhood:
    nodes: tuple[GraphNode, ...]
    edges: tuple[GraphEdge, ...]


@dataclass(frozen=True)
class DecisionInput:
    decision_id: str
    title: str
    rationale: str = ""
    role: str = ""
    affects: tuple[str, ...] = ()
    decided_by: str = ""
