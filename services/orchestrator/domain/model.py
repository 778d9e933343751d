"""What a deliberation takes in and gives back. Plain data: JSON-able for events and Ray."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, Field

from services.orchestrator.domain.council import DEFAULT_NUM_AGENTS, Role
from services.orchestrator.domain.llm import Usage
from services.orchestrator.domain.runs import CodeRun

# Review rubric: every score is 1..10, higher is better ("risk" 10 = lowest risk).
RUBRIC: tuple[str, ...] = ("correctness", "completeness", "clarity", "risk")
DEFAULT_ROUNDS = 1

StageName = Literal["generate", "review", "revise", "check", "aggregate", "chair"]
STAGES: tuple[StageName, ...] = ("generate", "review", "revise", "check", "aggregate", "chair")


class DeliberationRequest(BaseModel):
    task: str
    role: Role
    constraints: list[str] = Field(default_factory=list)
    rounds: int = DEFAULT_ROUNDS
    num_agents: int = DEFAULT_NUM_AGENTS
    # Relative weights per rubric label; None weighs them equally.
    rubric_weights: dict[str, float] | None = None
    # Role context assembled by the Context service; shared by every agent's prompt.
    context: str = ""
    # Code the QA council's tests run against: the story's DEV winner, or the task's reference.
    reference_code: str = ""
    # Seeds the review label shuffles, so a replay of the same id shuffles the same way.
    deliberation_id: str = Field(default_factory=lambda: uuid.uuid4().hex)


class Proposal(BaseModel):
    agent_id: str
    text: str
    # 0 is the first draft; n is the draft after the n-th revision round.
    version: int = 0


class Review(BaseModel):
    """One reviewer's verdict on one proposal, de-anonymised after parsing."""

    reviewer: str
    target: str
    round: int
    label: str
    scores: dict[str, int]
    # 1 = best among the `ranked_of` proposals this reviewer saw; ties allowed.
    rank: int
    ranked_of: int
    critique: str
    # Which of the reviewer's calls in the round this came from: a referee is asked twice.
    call: int = 0


class CheckResult(BaseModel):
    name: str
    passed: bool
    detail: str = ""


class AgentFailure(BaseModel):
    agent_id: str
    stage: StageName
    round: int = 0
    reason: str


class ExcludedReview(BaseModel):
    reviewer: str
    round: int
    reason: str


class StageUsage(BaseModel):
    stage: StageName | Literal["total"]
    calls: int = 0
    failed_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    duration_ms: float = 0.0

    def record(self, usage: Usage | None) -> None:
        self.calls += 1
        if usage is None:
            self.failed_calls += 1
            return
        self.prompt_tokens += usage.prompt_tokens
        self.completion_tokens += usage.completion_tokens


def total_usage(stages: list[StageUsage]) -> StageUsage:
    return StageUsage(
        stage="total",
        calls=sum(s.calls for s in stages),
        failed_calls=sum(s.failed_calls for s in stages),
        prompt_tokens=sum(s.prompt_tokens for s in stages),
        completion_tokens=sum(s.completion_tokens for s in stages),
        duration_ms=sum(s.duration_ms for s in stages),
    )


class Candidate(BaseModel):
    agent_id: str
    persona: str = ""
    proposal: str
    version: int = 0
    reviews: list[Review] = Field(default_factory=list)
    # Components in 0..1; None when nothing fed them (e.g. a council of one).
    borda_score: float | None = None
    mean_rank: float | None = None
    rubric_score: float | None = None
    rubric_by_label: dict[str, float] = Field(default_factory=dict)
    checks: list[CheckResult] = Field(default_factory=list)
    check_score: float | None = None
    # Dual execution agreement in 0..1 (DEV), and the sandbox runs behind it and the checks.
    execution_score: float | None = None
    executions: list[CodeRun] = Field(default_factory=list)
    final_score: float = 0.0
    rank: int = 0


class DeliberationResult(BaseModel):
    deliberation_id: str
    role: Role
    rounds: int
    num_agents: int
    candidates: list[Candidate]
    winner: Candidate
    # The winner's lead in strength over the runner-up and its standard error; None when the
    # method gives none (one candidate, the first method, or the checks decided). `tied`: the
    # lead is within one standard error, so the pick is close to a coin flip.
    margin: float | None = None
    margin_error: float | None = None
    tied: bool = False
    failed_agents: list[AgentFailure] = Field(default_factory=list)
    # Non-fatal step failures: a revision that failed keeps the agent's previous draft.
    degraded_steps: list[AgentFailure] = Field(default_factory=list)
    excluded_reviews: list[ExcludedReview] = Field(default_factory=list)
    # Structured answers that were valid only after their one repair (excluded ones are
    # counted by excluded_reviews).
    repaired_answers: int = 0
    usage: list[StageUsage] = Field(default_factory=list)
    total: StageUsage
    duration_ms: float = 0.0


EventKind = Literal["stage_started", "stage_finished", "agent_done", "agent_failed"]


class ProgressEvent(BaseModel):
    deliberation_id: str
    seq: int
    kind: EventKind
    stage: StageName
    role: Role
    round: int = 0
    agent_id: str = ""
    duration_ms: float = 0.0
    elapsed_ms: float = 0.0
    usage: Usage | None = None
    # The proposal (generate/revise), the raw review JSON, or a stage summary.
    text: str = ""
    error: str = ""


class ChairDecision(BaseModel):
    mode: Literal["select", "synthesize", "fallback"]
    chair_agent_id: str
    # Set when the chair selected a candidate or the fallback took the top one.
    selected_agent_id: str | None = None
    text: str
    rationale: str = ""
    fallback_reason: str = ""
    # Why the engine overrode part of the chair's answer (e.g. a synthesis that broke checks).
    note: str = ""
    # The deterministic checks of `text`.
    checks: list[CheckResult] = Field(default_factory=list)
    usage: StageUsage


class OrchestrationResult(BaseModel):
    deliberation: DeliberationResult
    decision: ChairDecision
