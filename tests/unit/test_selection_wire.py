"""The margin of a win and whether the top two were tied reach every caller: the Deliberate
response, the completed event, the record rebuilt from it, and `conclave show`."""

from __future__ import annotations

from services.gen.fleet.orchestrator.v1 import orchestrator_pb2 as pb
from services.orchestrator.domain.lifecycle import completed_event
from services.orchestrator.domain.tracking import State
from services.orchestrator.entrypoints import grpc_mapping
from services.orchestrator.entrypoints.cli import verdict_line
from services.shared.events import DeliberationCompleted
from tests.unit.test_orchestrator_tracking import _result, record


def test_a_tied_result_carries_its_margin_to_the_response_the_event_and_the_record() -> None:
    result = _result().model_copy(update={"margin": 0.12, "margin_error": 0.4, "tied": True})
    response = grpc_mapping.result(result)
    assert response.HasField("margin") and response.margin == 0.12 and response.tied
    event = completed_event(record(), result)
    assert (event.margin, event.margin_error, event.tied) == (0.12, 0.4, True)
    wire = DeliberationCompleted.model_validate_json(event.model_dump_json()).model_dump(mode="json")
    stored = grpc_mapping.record(record().moved_to(State.COMPLETED, result=wire))
    assert stored.result.margin == 0.12 and stored.result.margin_error == 0.4 and stored.result.tied
    assert "TIED" in verdict_line(stored.result)


def test_no_margin_stays_unset_rather_than_zero() -> None:
    response = grpc_mapping.result(_result())
    assert not response.HasField("margin") and not response.tied
    assert "none to report" in verdict_line(response)
    clear = grpc_mapping.result(_result().model_copy(update={"margin": 1.5, "margin_error": 0.3}))
    assert "clear win" in verdict_line(clear)
    assert pb.DeliberateResponse.FromString(clear.SerializeToString()).margin == 1.5
