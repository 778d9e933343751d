"""Queries of the Orchestrator: councils, deliberations, the queue and the service's status.
They read through the ports and change nothing."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

from services.orchestrator.domain.admission import Budget
from services.orchestrator.domain.council import Council, Role
from services.orchestrator.domain.errors import NotFound
from services.orchestrator.domain.llm import LLMStatus
from services.orchestrator.domain.tracking import DeliberationRecord, State
from services.orchestrator.ports import Deps
from services.shared.clock import utcnow


async def find_council(deps: Deps, role: Role) -> Council | None:
    return await deps.councils.get(role)


async def list_councils(deps: Deps, role: Role | None = None) -> list[Council]:
    return [c for c in await deps.councils.all() if role is None or c.role == role]


async def council_of(deps: Deps, role: Role) -> Council:
    council = await deps.councils.get(role)
    if council is None:
        raise NotFound(f"no council for role {role.value}")
    return council


async def get_deliberation(deps: Deps, did: str) -> DeliberationRecord:
    record = await deps.deliberations.get(did)
    if record is None:
        raise NotFound(f"no deliberation {did!r}")
    return record


@dataclass
class Status:
    uptime_s: float
    councils: int
    deliberations_by_state: dict[str, int]
    model_server: LLMStatus
    budget: Budget
    queue: QueueView


async def status(deps: Deps) -> Status:
    by_state = {s.value: 0 for s in State}
    for record in await deps.deliberations.all():
        by_state[record.state.value] += 1
    councils = len(await deps.councils.all())
    return Status(time.monotonic() - deps.started_at, councils, by_state, await deps.llm.probe(), deps.budget,
                  await queue_view(deps))


@dataclass(frozen=True)
class QueueView:
    # Queued and admitted deliberations, longest waiting first.
    open: list[DeliberationRecord]
    at: datetime

    @property
    def queued(self) -> list[DeliberationRecord]:
        return [r for r in self.open if r.state == State.QUEUED]

    @property
    def admitted(self) -> list[DeliberationRecord]:
        return [r for r in self.open if r.admitted]

    @property
    def oldest_wait_s(self) -> float:
        return max((r.waited_s(self.at) for r in self.queued), default=0.0)


async def queue_view(deps: Deps) -> QueueView:
    at = utcnow()
    open_ = [r for r in await deps.deliberations.records_in_open_index() if r.state == State.QUEUED or r.admitted]
    return QueueView(sorted(open_, key=lambda r: r.created_at), at)
