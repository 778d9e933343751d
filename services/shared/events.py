"""The wire contract: every NATS subject and event schema lives here.

Publishers and consumers take subjects and schemas from this module only, so a subject
or an event shape cannot drift between them (tests/unit/test_contract.py enforces it).
services/shared/event_parsing.py turns a message's bytes into one of these events.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_serializer

from services.shared.clock import rfc3339, utcnow
from services.shared.ids import (
    INT64_MAX,
    Actor,
    AgentId,
    DeliberationId,
    EventId,
    OptionalPlanId,
    OptionalStoryId,
    PlanId,
    StoryId,
    TaskId,
)


class Role(StrEnum):
    ARCHITECT = "ARCHITECT"
    DEV = "DEV"
    QA = "QA"
    DEVOPS = "DEVOPS"
    DATA = "DATA"


class Phase(StrEnum):
    DESIGN = "DESIGN"
    BUILD = "BUILD"
    TEST = "TEST"
    DOCS = "DOCS"


# Subjects ------------------------------------------------------------------
PLAN_APPROVED = "planning.plan.approved"
STORY_TRANSITIONED = "planning.story.transitioned"
AGENT_RESPONSE_COMPLETED = "agent.response.completed"
AGENT_RESPONSE_FAILED = "agent.response.failed"
DELIBERATION_QUEUED = "orchestration.deliberation.queued"
DELIBERATION_STARTED = "orchestration.deliberation.started"
DELIBERATION_COMPLETED = "orchestration.deliberation.completed"
DELIBERATION_FAILED = "orchestration.deliberation.failed"
DELIBERATION_CANCELLED = "orchestration.deliberation.cancelled"
DELIBERATION_EVENTS = "orchestration.deliberation.>"
CONTEXT_UPDATED = "context.updated"
DLQ_PREFIX = "dlq."
# What each stream carries (services/shared/streams.py).
PLANNING_SUBJECTS = "planning.>"
ORCHESTRATION_SUBJECTS = "orchestration.>"
AGENT_RESPONSE_SUBJECTS = "agent.response.>"
CONTEXT_SUBJECTS = "context.>"


def dead_letter_subject(subject: str) -> str:
    return DLQ_PREFIX + subject


# Events --------------------------------------------------------------------
class Event(BaseModel):
    """One flat JSON object per message. Unknown extra fields are tolerated."""

    model_config = ConfigDict(extra="ignore", use_enum_values=False)
    subject: ClassVar[str]

    event_id: EventId = Field(default_factory=lambda: uuid.uuid4().hex, min_length=1)
    event_type: str = ""
    occurred_at: datetime = Field(default_factory=utcnow)

    def model_post_init(self, _context: Any) -> None:
        if not self.event_type:
            self.event_type = self.subject

    @field_serializer("occurred_at", "timestamp", check_fields=False)
    def _rfc3339(self, value: datetime) -> str:
        return rfc3339(value)

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()


class PlanTask(BaseModel):
    model_config = ConfigDict(extra="ignore")

    task_id: TaskId
    role: Role
    title: str = ""
    description: str = ""
    depends_on: list[TaskId] = Field(default_factory=list)


class PlanApproved(Event):
    subject: ClassVar[str] = PLAN_APPROVED

    story_id: StoryId
    plan_id: PlanId
    approved_by: Actor
    roles: list[Role] = Field(min_length=1)
    timestamp: datetime = Field(default_factory=utcnow)
    plan_version: int = Field(default=1, ge=1, le=INT64_MAX)
    title: str = ""
    description: str = ""
    acceptance_criteria: list[str] = Field(default_factory=list)
    tasks: list[PlanTask] = Field(default_factory=list)


class StoryTransitioned(Event):
    subject: ClassVar[str] = STORY_TRANSITIONED

    story_id: StoryId
    from_phase: Phase
    to_phase: Phase
    timestamp: datetime = Field(default_factory=utcnow)


class LLMUsage(BaseModel):
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    # Prompt tokens the model server says it served from its prefix cache.
    cached_prompt_tokens: int = 0


class AgentResponse(Event):
    """One agent step of a deliberation; `proposal` on success, `error` on failure."""

    deliberation_id: DeliberationId
    agent_id: AgentId
    role: Role
    stage: str
    duration_ms: float = 0.0
    usage: LLMUsage = Field(default_factory=LLMUsage)
    proposal: str = ""
    error: str = ""


class AgentResponseCompleted(AgentResponse):
    subject: ClassVar[str] = AGENT_RESPONSE_COMPLETED


class AgentResponseFailed(AgentResponse):
    subject: ClassVar[str] = AGENT_RESPONSE_FAILED


class ReviewSummary(BaseModel):
    reviewer: AgentId
    scores: dict[str, float] = Field(default_factory=dict)
    critique: str = ""


class TestResultSummary(BaseModel):
    suite: str
    test: str
    status: str
    ms: float = 0.0
    message: str = ""


class ExecutionSummary(BaseModel):
    """One sandbox run: a candidate's code (or the reference, for QA) against the suites."""

    code_of: str
    suites: list[str] = Field(default_factory=list)
    tests: list[TestResultSummary] = Field(default_factory=list)
    wall_ms: float = 0.0
    cpu_ms: float = 0.0
    killed: str = ""
    output: str = ""


class CandidateSummary(BaseModel):
    # An id, not any string: Context keys a Decision by it (a fuzzed 1 MB one failed that write).
    agent_id: AgentId
    rank: int = Field(ge=0, le=INT64_MAX)
    score: float
    proposal: str
    rubric: dict[str, float] = Field(default_factory=dict)
    checks: dict[str, bool] = Field(default_factory=dict)
    # Why a check passed or failed, e.g. "not run: no sandbox: <reason>".
    check_details: dict[str, str] = Field(default_factory=dict)
    execution_score: float | None = None
    executions: list[ExecutionSummary] = Field(default_factory=list)
    reviews: list[ReviewSummary] = Field(default_factory=list)


class StageUsage(BaseModel):
    stage: str
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    duration_ms: float = 0.0


class DeliberationEvent(Event):
    deliberation_id: DeliberationId
    story_id: OptionalStoryId = ""
    plan_id: OptionalPlanId = ""
    plan_version: int = Field(default=1, ge=0, le=INT64_MAX)
    role: Role

    def model_post_init(self, _context: Any) -> None:
        super().model_post_init(_context)
        # One id per (deliberation, event type): a job that re-publishes is deduplicated.
        if "event_id" not in self.model_fields_set:
            self.event_id = f"{self.deliberation_id}.{self.subject.rsplit('.', 1)[-1]}"


class DeliberationQueued(DeliberationEvent):
    """Held in the Orchestrator's own durable backlog until admission lets its Ray job start."""

    subject: ClassVar[str] = DELIBERATION_QUEUED


class DeliberationStarted(DeliberationEvent):
    subject: ClassVar[str] = DELIBERATION_STARTED


class DeliberationCompleted(DeliberationEvent):
    subject: ClassVar[str] = DELIBERATION_COMPLETED

    winner: CandidateSummary
    candidates: list[CandidateSummary]
    usage: list[StageUsage] = Field(default_factory=list)
    duration_ms: float = 0.0
    # The winner's lead over the runner-up and its standard error (None: no margin to report);
    # `tied`: the lead is within one standard error, so the pick was a coin flip.
    margin: float | None = None
    margin_error: float | None = None
    tied: bool = False
    # Reviews valid only after their one repair, and reviews excluded even so.
    repaired_answers: int = 0
    excluded_answers: int = 0


class DeliberationFailed(DeliberationEvent):
    subject: ClassVar[str] = DELIBERATION_FAILED

    reason: str


class DeliberationCancelled(DeliberationEvent):
    subject: ClassVar[str] = DELIBERATION_CANCELLED

    reason: str


class ContextUpdated(Event):
    subject: ClassVar[str] = CONTEXT_UPDATED

    story_id: StoryId
    version: str
    changes: list[str] = Field(default_factory=list)


class DeadLetter(Event):
    """What `dlq.<subject>` carries: why a message failed and the message itself, byte for byte.

    The original bytes are in exactly one of `payload` (valid UTF-8), `payload_b64` (anything else)
    or `payload_object` (too large to inline: an object in the DEAD_LETTER_PAYLOADS bucket).
    `subject` on the wire is the original subject."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, serialize_by_alias=True)
    subject: ClassVar[str] = DLQ_PREFIX + "*"

    original_subject: str = Field(alias="subject")
    reason: str
    error: str = ""
    source_stream: str = ""
    source_seq: int = 0
    consumer: str = ""
    deliveries: int = 1
    headers: dict[str, str] = Field(default_factory=dict)
    payload: str | None = None
    payload_b64: str | None = None
    payload_object: str | None = None
    payload_bucket: str | None = None
    payload_size: int = 0
    payload_sha256: str = ""


# Every event subject with its schema; a dead letter (dlq.<subject>) is a DeadLetter.
EVENT_TYPES: dict[str, type[Event]] = {
    cls.subject: cls
    for cls in (
        PlanApproved, StoryTransitioned, AgentResponseCompleted, AgentResponseFailed, DeliberationQueued,
        DeliberationStarted, DeliberationCompleted, DeliberationFailed, DeliberationCancelled, ContextUpdated,
    )
}
