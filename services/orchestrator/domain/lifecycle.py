"""A deliberation's life as the contract's events: pure translations of stored records and
engine results into wire events, and of events back into record transitions."""

from __future__ import annotations

from typing import Any

from services.orchestrator.domain.model import Candidate, DeliberationResult, ProgressEvent
from services.orchestrator.domain.tracking import DeliberationRecord, State
from services.shared import events


def event_fields(record: DeliberationRecord) -> dict[str, Any]:
    """The fields every deliberation event carries, taken from the record."""
    return {
        "deliberation_id": record.deliberation_id,
        "story_id": record.story_id,
        "plan_id": record.plan_id,
        "plan_version": record.plan_version,
        "role": record.role,
    }


def final_event(record: DeliberationRecord) -> events.DeliberationEvent:
    """The final event of a final record, rebuilt from what the record keeps."""
    if record.state == State.COMPLETED:
        return events.DeliberationCompleted.model_validate(record.result)
    if record.state == State.CANCELLED:
        return events.DeliberationCancelled(**event_fields(record), reason=record.reason)
    return events.DeliberationFailed(**event_fields(record), reason=record.reason)


def transition(record: DeliberationRecord, event: events.DeliberationEvent) -> DeliberationRecord:
    """The record once `event` has happened to it."""
    if isinstance(event, events.DeliberationCompleted):
        return record.moved_to(State.COMPLETED, result=event.model_dump(mode="json"))
    if isinstance(event, events.DeliberationFailed):
        return record.moved_to(State.FAILED, reason=event.reason)
    if isinstance(event, events.DeliberationCancelled):
        return record.moved_to(State.CANCELLED, reason=event.reason)
    if isinstance(event, events.DeliberationQueued):
        return record
    return record.moved_to(State.RUNNING)


def candidate_summary(candidate: Candidate) -> events.CandidateSummary:
    return events.CandidateSummary(
        agent_id=candidate.agent_id,
        rank=candidate.rank,
        score=candidate.final_score,
        proposal=candidate.proposal,
        rubric=candidate.rubric_by_label,
        checks={check.name: check.passed for check in candidate.checks},
        check_details={check.name: check.detail for check in candidate.checks},
        execution_score=candidate.execution_score,
        executions=[events.ExecutionSummary.model_validate(run.model_dump()) for run in candidate.executions],
        reviews=[
            events.ReviewSummary(reviewer=r.reviewer, scores=dict(r.scores), critique=r.critique)
            for r in candidate.reviews
        ],
    )


def completed_event(record: DeliberationRecord, result: DeliberationResult) -> events.DeliberationCompleted:
    return events.DeliberationCompleted(
        **event_fields(record),
        winner=candidate_summary(result.winner),
        candidates=[candidate_summary(c) for c in result.candidates],
        usage=[
            events.StageUsage(
                stage=u.stage, calls=u.calls, prompt_tokens=u.prompt_tokens,
                completion_tokens=u.completion_tokens, duration_ms=u.duration_ms,
            )
            for u in (*result.usage, result.total)
        ],
        duration_ms=result.duration_ms,
        margin=result.margin,
        margin_error=result.margin_error,
        tied=result.tied,
        repaired_answers=result.repaired_answers,
        excluded_answers=len(result.excluded_reviews),
    )


def agent_event(record: DeliberationRecord, progress: ProgressEvent) -> events.AgentResponse | None:
    """One event per agent step; stage boundaries are progress only, not agent responses."""
    if progress.kind not in ("agent_done", "agent_failed"):
        return None
    usage = progress.usage
    fields: dict[str, Any] = {
        "event_id": f"{record.deliberation_id}.{progress.stage}.{progress.round}.{progress.agent_id}.{progress.seq}",
        "deliberation_id": record.deliberation_id,
        "agent_id": progress.agent_id,
        "role": record.role,
        "stage": progress.stage,
        "duration_ms": progress.duration_ms,
        "usage": events.LLMUsage(**usage.model_dump()) if usage else events.LLMUsage(),
    }
    if progress.kind == "agent_done":
        return events.AgentResponseCompleted(**fields, proposal=progress.text)
    return events.AgentResponseFailed(**fields, error=progress.error)
