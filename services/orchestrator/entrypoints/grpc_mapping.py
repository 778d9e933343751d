"""Protobuf <-> domain translation for the Orchestrator's gRPC surface."""

from __future__ import annotations

from datetime import datetime

from services.gen.fleet.orchestrator.v1 import orchestrator_pb2 as pb
from services.orchestrator.domain.council import AgentSpec, Council, Role, validate_endpoint, validate_model
from services.orchestrator.domain.errors import ValidationError
from services.orchestrator.domain.model import (
    DEFAULT_ROUNDS,
    Candidate,
    DeliberationRequest,
    DeliberationResult,
    ProgressEvent,
)
from services.orchestrator.domain.tracking import DeliberationRecord
from services.orchestrator.domain.validation import new_request
from services.shared import events, ids

PROGRESS_KINDS = {
    "stage_started": pb.ProgressEvent.STAGE_STARTED,
    "stage_finished": pb.ProgressEvent.STAGE_FINISHED,
    "agent_done": pb.ProgressEvent.AGENT_DONE,
    "agent_failed": pb.ProgressEvent.AGENT_FAILED,
}


def role_of(value: int, field: str = "role") -> Role:
    if value == pb.ROLE_UNSPECIFIED or value not in pb.Role.values():
        raise ValidationError(field, f"unknown role {value}; expected one of {', '.join(r.value for r in Role)}")
    return Role(pb.Role.Name(value))


def request_of(message: pb.DeliberateRequest, council: Council | None, field: str = "") -> DeliberationRequest:
    """0 means the default for rounds, and the council's size for num_agents."""
    role = role_of(message.role, f"{field}role")
    num_agents = message.num_agents or (len(council.agents) if council else 3)
    constraints = message.constraints
    return new_request(
        task=message.task,
        role=role,
        constraints=[*constraints.acceptance_criteria, *constraints.requirements],
        rounds=message.rounds or DEFAULT_ROUNDS,
        num_agents=num_agents,
        rubric_weights=dict(constraints.rubric_weights) or None,
        context=constraints.context,
        deliberation_id=ids.optional("deliberation_id", message.deliberation_id, f"{field}deliberation_id") or None,
    )


def candidate(c: Candidate) -> pb.Candidate:
    return pb.Candidate(
        agent_id=c.agent_id,
        rank=c.rank,
        score=c.final_score,
        proposal=c.proposal,
        reviews=[pb.Review(reviewer_id=r.reviewer, scores=r.scores, critique=r.critique) for r in c.reviews],
        rubric=c.rubric_by_label,
        checks=[pb.CheckResult(name=k.name, passed=k.passed, detail=k.detail) for k in c.checks],
        rank_score=c.borda_score or 0.0,
        persona=c.persona,
    )


def result(r: DeliberationResult) -> pb.DeliberateResponse:
    return pb.DeliberateResponse(
        deliberation_id=r.deliberation_id,
        role=r.role.value,
        ranked=[candidate(c) for c in r.candidates],
        winner=candidate(r.winner),
        duration_ms=r.duration_ms,
        usage=pb.Usage(
            llm_calls=r.total.calls,
            prompt_tokens=r.total.prompt_tokens,
            completion_tokens=r.total.completion_tokens,
            stages=[
                pb.StageUsage(
                    stage=u.stage, calls=u.calls, prompt_tokens=u.prompt_tokens,
                    completion_tokens=u.completion_tokens, duration_ms=u.duration_ms,
                )
                for u in r.usage
            ],
            repaired_answers=r.repaired_answers,
            excluded_answers=len(r.excluded_reviews),
        ),
        failures=[
            pb.AgentFailure(agent_id=f.agent_id, stage=f.stage, reason=f.reason)
            for f in (*r.failed_agents, *r.degraded_steps)
        ],
        notes=[f"review by {e.reviewer} (round {e.round}) left out: {e.reason}" for e in r.excluded_reviews],
        margin=r.margin,
        margin_error=r.margin_error,
        tied=r.tied,
    )


def progress(event: ProgressEvent) -> pb.ProgressEvent:
    message = event.error or (f"round {event.round}" if event.round else "")
    return pb.ProgressEvent(
        kind=PROGRESS_KINDS[event.kind], stage=event.stage, agent_id=event.agent_id,
        message=message, elapsed_ms=event.elapsed_ms,
    )


def council(c: Council) -> pb.Council:
    return pb.Council(
        council_id=c.role.value,
        role=c.role.value,
        agents=[
            pb.Agent(
                agent_id=a.agent_id, persona=a.persona, temperature=a.temperature, model=a.model, endpoint=a.endpoint
            )
            for a in c.agents
        ],
    )


def agent_of(message: pb.Agent, role: Role, field: str = "agent") -> AgentSpec:
    ids.check("agent_id", message.agent_id, f"{field}.agent_id")
    if not 0.0 <= message.temperature <= 2.0:
        raise ValidationError(f"{field}.temperature", "must be between 0 and 2")
    return AgentSpec(
        agent_id=message.agent_id.strip(), role=role,
        persona=message.persona or "a careful engineer", temperature=message.temperature or 0.7,
        model=validate_model(message.model, f"{field}.model"),
        endpoint=validate_endpoint(message.endpoint, f"{field}.endpoint"),
    )


def council_role(council_id: str, field: str = "council_id") -> Role:
    """A council is identified by its role: one council per role."""
    try:
        return Role(council_id.strip().upper())
    except ValueError:
        raise ValidationError(
            field, f"unknown council {ids.preview(council_id)}; councils are named by role"
        ) from None


def record(r: DeliberationRecord) -> pb.DeliberationRecord:
    message = pb.DeliberationRecord(
        deliberation_id=r.deliberation_id,
        state=r.state.value,
        role=r.role.value,
        story_id=r.story_id,
        plan_id=r.plan_id,
        plan_version=r.plan_version,
        reason=r.reason,
        created_at=r.created_at.isoformat(),
        updated_at=r.updated_at.isoformat(),
    )
    if r.result is not None:
        message.result.CopyFrom(stored_result(r))
    return message


def open_deliberation(r: DeliberationRecord, at: datetime) -> pb.OpenDeliberation:
    running_s = (at - r.admitted_at).total_seconds() if r.admitted_at else 0.0
    return pb.OpenDeliberation(
        deliberation_id=r.deliberation_id, story_id=r.story_id, role=r.role.value, state=r.state.value,
        waited_s=r.waited_s(at), running_s=running_s,
    )


def stored_result(r: DeliberationRecord) -> pb.DeliberateResponse:
    """A completed record keeps the wire event; rebuild the response from it."""
    done = events.DeliberationCompleted.model_validate(r.result)
    ranked = [
        pb.Candidate(
            agent_id=c.agent_id, rank=c.rank, score=c.score, proposal=c.proposal, rubric=c.rubric,
            checks=[pb.CheckResult(name=name, passed=passed) for name, passed in c.checks.items()],
            reviews=[pb.Review(reviewer_id=v.reviewer, scores=v.scores, critique=v.critique) for v in c.reviews],
        )
        for c in done.candidates
    ]
    total = next((u for u in done.usage if u.stage == "total"), events.StageUsage(stage="total"))
    return pb.DeliberateResponse(
        deliberation_id=r.deliberation_id,
        role=r.role.value,
        ranked=ranked,
        winner=ranked[0] if ranked else None,
        duration_ms=done.duration_ms,
        usage=pb.Usage(
            llm_calls=total.calls, prompt_tokens=total.prompt_tokens, completion_tokens=total.completion_tokens,
            stages=[pb.StageUsage(**u.model_dump()) for u in done.usage if u.stage != "total"],
            repaired_answers=done.repaired_answers, excluded_answers=done.excluded_answers,
        ),
        margin=done.margin,
        margin_error=done.margin_error,
        tied=done.tied,
    )
