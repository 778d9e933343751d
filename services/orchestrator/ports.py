"""What the Orchestrator's handlers need from the world, as protocols. Adapters implement
them; tests/fakes.py holds in-memory versions for fast handler tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from services.orchestrator.domain.admission import Budget
from services.orchestrator.domain.council import Council, Role
from services.orchestrator.domain.llm import LLMPort, ModelServer
from services.orchestrator.domain.reconciliation import JobView, Nodes
from services.orchestrator.domain.sandbox import SandboxPort
from services.orchestrator.domain.tracking import DeliberationRecord
from services.shared import events

Publish = Callable[[events.Event], Awaitable[bool]]

__all__ = [
    "AdmissionLease",
    "ContextReader",
    "CouncilRepository",
    "DeliberationRepository",
    "Deps",
    "JobRunner",
    "LLMPort",
    "ModelServer",
    "Publish",
    "SandboxPort",
]


class CouncilRepository(Protocol):
    async def get(self, role: Role) -> Council | None: ...

    async def create(self, council: Council) -> bool:
        """False when the role has a council already."""
        ...

    async def put(self, council: Council) -> None: ...

    async def delete(self, role: Role) -> bool: ...

    async def all(self) -> list[Council]: ...


class DeliberationRepository(Protocol):
    async def get(self, deliberation_id: str) -> DeliberationRecord | None: ...

    async def create(self, record: DeliberationRecord) -> bool:
        """Store a new record and put it in the open index; False when one with this id exists."""
        ...

    async def save(self, record: DeliberationRecord) -> bool:
        """Store a transition; False when a final state was stored first."""
        ...

    async def remove_from_open_index(self, deliberation_id: str) -> None:
        """Drop the id from the open index once its final event is out."""
        ...

    async def active(self, story_id: str, role: Role) -> DeliberationRecord | None: ...

    async def all(self) -> list[DeliberationRecord]: ...

    async def records_in_open_index(self) -> list[DeliberationRecord]:
        """The records still in the open index."""
        ...


class JobRunner(Protocol):
    """Every method raises domain.errors.Unavailable when the runner does not answer."""

    async def submit(self, deliberation_id: str) -> bool:
        """Start the deliberation's job; False when it exists already."""
        ...

    async def stop(self, deliberation_id: str) -> None: ...

    async def delete(self, deliberation_id: str) -> None:
        """Forget an ended job, so its id can be submitted again."""
        ...

    async def status(self, deliberation_id: str) -> JobView | None:
        """None when the runner knows no job under this id."""
        ...

    async def ended_before(self, cutoff: datetime) -> list[str]:
        """The ids of this service's jobs that ended before `cutoff`."""
        ...

    async def nodes(self) -> Nodes:
        """Which of the runner's nodes are alive, to tell a running job from a lost one."""
        ...

    async def reachable(self) -> bool:
        """Whether the runner answers at all (never raises): a readiness probe."""
        ...

    async def aclose(self) -> None: ...


class AdmissionLease(Protocol):
    async def hold(self) -> bool:
        """Take or keep the lease; True while this process is the one that admits."""
        ...


class ContextReader(Protocol):
    async def plan_context(self, story_id: str, role: Role, plan_id: str, plan_version: int) -> str:
        """The role's context once it shows the approved plan; raises TimeoutError if it never does."""
        ...


@dataclass
class AdmissionRounds:
    """Admission rounds run one at a time, and a round asked for while another already waits
    is left to that one: it reads the queue after the change that asked for it. A burst of final
    states then costs two rounds, each reading every open record, rather than one per state."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    waiting: int = 0


@dataclass
class Deps:
    """What every handler receives; built once in bootstrap.py."""

    llm: ModelServer
    councils: CouncilRepository
    deliberations: DeliberationRepository
    jobs: JobRunner
    context: ContextReader
    publish: Publish
    lease: AdmissionLease
    budget: Budget
    deadline_s: float = 600.0
    queue_deadline_s: float = 3600.0
    started_at: float = field(default_factory=time.monotonic)
    # The plan consumer, the outcome consumer and housekeeping all admit; one round at a time,
    # or two rounds would count the same free slot twice.
    admitting: AdmissionRounds = field(default_factory=AdmissionRounds)
    # How long an ended job stays in the runner before housekeeping deletes it (0: forever),
    # and when it last looked (time.monotonic()).
    job_retention_s: float = 3600.0
    jobs_pruned_at: float = float("-inf")
    # Where candidates' code runs; None leaves deliberations without execution checks.
    sandbox: SandboxPort | None = None
