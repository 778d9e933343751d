"""Deliberation life-cycle rules and the translation of results to wire events and protobuf."""

from datetime import timedelta

from services.gen.fleet.orchestrator.v1 import orchestrator_pb2 as pb
from services.orchestrator.domain.lifecycle import completed_event, transition
from services.orchestrator.domain.model import (
    Candidate,
    DeliberationRequest,
    DeliberationResult,
    ExcludedReview,
    StageUsage,
)
from services.orchestrator.domain.tracking import DeliberationRecord, State, deliberation_id, supersedes
from services.orchestrator.entrypoints import grpc_mapping
from services.shared.clock import utcnow as now
from services.shared.events import DeliberationCancelled, DeliberationCompleted, DeliberationStarted, Role


def record(**fields: object) -> DeliberationRecord:
    base = {"deliberation_id": "d-1", "role": Role.DEV, "request": DeliberationRequest(task="t", role=Role.DEV)}
    return DeliberationRecord.model_validate(base | fields)


def test_deliberation_id_is_deterministic_and_distinct_per_input() -> None:
    a = deliberation_id("S-1", "P-1", 1, Role.DEV)
    assert a == deliberation_id("S-1", "P-1", 1, Role.DEV)
    others = {deliberation_id("S-1", "P-1", 2, Role.DEV), deliberation_id("S-1", "P-1", 1, Role.QA),
              deliberation_id("S-2", "P-1", 1, Role.DEV), deliberation_id("S-1", "P-2", 1, Role.DEV)}
    assert a not in others and len(others) == 4
    assert a.startswith("dlb-dev-")


def test_terminal_states_are_final() -> None:
    done = record().moved_to(State.RUNNING).moved_to(State.COMPLETED, result={"x": 1})
    assert done.state == State.COMPLETED
    assert done.moved_to(State.CANCELLED, reason="late").state == State.COMPLETED
    assert record().moved_to(State.FAILED, reason="boom").reason == "boom"


def test_expiry_and_superseding() -> None:
    r = record(deadline_at=now() - timedelta(seconds=1), plan_version=2)
    assert r.expired(now())
    assert not r.moved_to(State.FAILED).expired(now())
    assert supersedes(3, r) and not supersedes(2, r) and not supersedes(1, r)


def test_events_move_records_and_a_final_state_stays() -> None:
    header = {"deliberation_id": "d-1", "story_id": "S", "plan_id": "P", "role": Role.DEV}
    running = transition(record(), DeliberationStarted(**header))
    assert running.state == State.RUNNING
    cancelled = transition(running, DeliberationCancelled(**header, reason="superseded by plan version 2"))
    assert (cancelled.state, cancelled.reason) == (State.CANCELLED, "superseded by plan version 2")
    assert transition(cancelled, DeliberationStarted(**header)) == cancelled
    assert DeliberationCancelled(**header, reason="r").event_id == "d-1.cancelled"


def _result() -> DeliberationResult:
    winner = Candidate(agent_id="dev-2", proposal="print(1)", final_score=0.9, rank=1, rubric_by_label={"clarity": 8})
    second = Candidate(agent_id="dev-1", proposal="print(2)", final_score=0.4, rank=2)
    usage = [StageUsage(stage="generate", calls=2, prompt_tokens=100, completion_tokens=50, duration_ms=10)]
    total = StageUsage(stage="total", calls=2, prompt_tokens=100, completion_tokens=50, duration_ms=10)
    left_out = [ExcludedReview(reviewer="dev-1", round=1, reason="invalid after one repair")]
    return DeliberationResult(deliberation_id="d-1", role=Role.DEV, rounds=1, num_agents=2,
                              candidates=[winner, second], winner=winner, usage=usage, total=total,
                              repaired_answers=2, excluded_reviews=left_out)


def test_completed_event_round_trips_into_the_stored_grpc_record() -> None:
    event = completed_event(record(), _result())
    assert event.winner.agent_id == "dev-2"
    assert [c.rank for c in event.candidates] == [1, 2]
    stored = record().moved_to(State.COMPLETED, result=DeliberationCompleted.model_validate_json(
        event.model_dump_json()).model_dump(mode="json"))
    message = grpc_mapping.record(stored)
    assert message.state == pb.COMPLETED
    assert message.result.winner.agent_id == "dev-2"
    assert message.result.usage.llm_calls == 2
    assert [c.agent_id for c in message.result.ranked] == ["dev-2", "dev-1"]
    # What a weak model did to its answers survives the trip through the event.
    assert (message.result.usage.repaired_answers, message.result.usage.excluded_answers) == (2, 1)


def test_request_mapping_applies_defaults_and_names_bad_fields() -> None:
    import pytest

    from services.orchestrator.domain.errors import ValidationError

    ok = grpc_mapping.request_of(pb.DeliberateRequest(task="x", role=pb.QA), None)
    assert (ok.role, ok.rounds, ok.num_agents) == (Role.QA, 1, 3)
    with pytest.raises(ValidationError) as bad_role:
        grpc_mapping.request_of(pb.DeliberateRequest(task="x"), None)
    assert bad_role.value.field == "role"
    with pytest.raises(ValidationError) as bad_size:
        grpc_mapping.request_of(pb.DeliberateRequest(task="x", role=pb.DEV, num_agents=99), None)
    assert bad_size.value.field == "num_agents"
    with pytest.raises(ValidationError) as empty:
        grpc_mapping.request_of(pb.DeliberateRequest(task="  ", role=pb.DEV), None)
    assert empty.value.field == "task"
