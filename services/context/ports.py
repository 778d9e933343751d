"""What the use cases need from the outside world, as structural types."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from services.context.domain.assembly import AssembledContext
from services.context.domain.model import DecisionInput, Neighbourhood, StoryContext
from services.context.domain.scope import ScopePolicy
from services.context.domain.tokens import TokenCounter
from services.context.singleflight import StoryFlights
from services.shared.events import DeliberationEvent, Event, PlanApproved, StoryTransitioned

Revisions = dict[str, int]
Publish = Callable[[Event], Awaitable[Any]]


class Graph(Protocol):
    async def record_plan_approvals(self, events: list[PlanApproved]) -> Revisions: ...

    async def record_transitions(
        self, events: list[StoryTransitioned], requested_by: str = ""
    ) -> tuple[Revisions, dict[str, tuple[str, str]]]: ...

    async def record_deliberations(self, events: list[DeliberationEvent]) -> Revisions: ...

    async def create_story(self, params: dict[str, Any]) -> bool: ...

    async def create_task(self, params: dict[str, Any]) -> tuple[bool, str, int]: ...

    async def update_context(
        self,
        story_id: str,
        decisions: list[DecisionInput],
        milestones: list[dict[str, str]],
        summary: str,
        at: str,
    ) -> int: ...

    async def load_context(self, story_id: str) -> StoryContext | None: ...

    async def neighbourhood(self, label: str, node_id: str, depth: int) -> Neighbourhood | None: ...


class Cache(Protocol):
    async def get(self, story_id: str, suffix: str) -> tuple[str, bytes | None] | None: ...

    async def put(self, story_id: str, suffix: str, token: str, value: bytes) -> None: ...

    async def invalidate(self, story_ids: Iterable[str]) -> bool: ...


@dataclass
class Deps:
    """What every handler receives; built once in bootstrap.py."""

    graph: Graph
    cache: Cache
    publish: Publish
    policy: ScopePolicy
    count: TokenCounter
    # Which vocabulary `count` uses; GetContext says so.
    tokenizer: str = "estimate"
    default_budget: int = 2000
    max_budget: int = 128_000
    flights: StoryFlights[AssembledContext] = field(default_factory=StoryFlights)
