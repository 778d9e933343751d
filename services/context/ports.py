"""What the use cases need from the outside world, as structural types."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol

from services.context.domain.model import DecisionInput, Neighbourhood, StoryContext
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
