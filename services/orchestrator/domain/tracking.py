"""The life of one deliberation, from dispatch to a terminal state. Pure rules."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from services.orchestrator.domain.council import Role
from services.orchestrator.domain.model import DeliberationRequest
from services.shared.clock import utcnow


class State(StrEnum):
    # In the Orchestrator's durable backlog; no Ray job yet.
    QUEUED = "QUEUED"
    # Admitted: its Ray job is submitted and not started yet.
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


TERMINAL = frozenset({State.COMPLETED, State.FAILED, State.CANCELLED})


class JobState(StrEnum):
    """The state of a deliberation's job as its runner reports it (Ray's names)."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    STOPPED = "STOPPED"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"

    @property
    def ended(self) -> bool:
        return self in (JobState.STOPPED, JobState.SUCCEEDED, JobState.FAILED)


def deliberation_id(story_id: str, plan_id: str, plan_version: int, role: Role) -> str:
    """Deterministic, so a redelivered plan.approved maps to the same Ray submission."""
    digest = hashlib.sha256(f"{story_id}\x1f{plan_id}\x1f{plan_version}\x1f{role.value}".encode()).hexdigest()
    return f"dlb-{role.value.lower()}-{digest[:20]}"


class DeliberationRecord(BaseModel):
    deliberation_id: str
    role: Role
    state: State = State.PENDING
    story_id: str = ""
    plan_id: str = ""
    plan_version: int = 1
    # What the Ray job deliberates on; for a plan, the task and context are filled in by the job.
    request: DeliberationRequest
    reason: str = ""
    # The DeliberationResult as JSON once COMPLETED.
    result: dict[str, Any] | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    # Two clocks: the queue's bound runs from creation, the deliberation's from admission.
    queue_deadline_at: datetime | None = None
    admitted_at: datetime | None = None
    deadline_at: datetime | None = None
    # W3C trace context of the dispatch, so the Ray job's spans join the plan's trace.
    trace: dict[str, str] = Field(default_factory=dict)

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL

    def moved_to(self, state: State, *, reason: str = "", result: dict[str, Any] | None = None) -> DeliberationRecord:
        """The record after a transition; a terminal state never changes again."""
        if self.terminal:
            return self
        if state in (State.QUEUED, State.PENDING) or (state == State.RUNNING and self.state == State.RUNNING):
            return self
        return self.model_copy(
            update={"state": state, "reason": reason or self.reason, "result": result, "updated_at": utcnow()}
        )

    @property
    def admitted(self) -> bool:
        """Holds one of the admission budget's slots: its Ray job may run."""
        return self.state in (State.PENDING, State.RUNNING)

    def admit(self, at: datetime, run_for: timedelta) -> DeliberationRecord:
        """Out of the queue with a slot; the deliberation's own deadline starts now."""
        if self.state != State.QUEUED:
            return self
        return self.model_copy(
            update={"state": State.PENDING, "admitted_at": at, "deadline_at": at + run_for, "updated_at": at}
        )

    def expired(self, at: datetime) -> bool:
        if self.state == State.QUEUED:
            return self.queue_deadline_at is not None and at >= self.queue_deadline_at
        return not self.terminal and self.deadline_at is not None and at >= self.deadline_at

    def waited_s(self, at: datetime) -> float:
        """Seconds in the queue: until admission, or until `at` while still queued."""
        return ((self.admitted_at or at) - self.created_at).total_seconds()


def supersedes(new_version: int, active: DeliberationRecord) -> bool:
    return not active.terminal and new_version > active.plan_version
