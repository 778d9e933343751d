"""Every publisher and consumer must use the subjects and schemas of services.shared.events.

The reference project drifted into two PlanApprovedEvent classes and a publisher
and consumer on different subjects; these tests make that impossible here.
"""

import ast
import json
import re
from pathlib import Path

import pytest

from services.shared import event_parsing, events, streams

ROOT = Path(__file__).resolve().parents[2]
SUBJECT_RE = re.compile(r"^(planning|orchestration|agent\.response|context|dlq)\.")


def _python_sources() -> list[Path]:
    return [p for p in (ROOT / "services").rglob("*.py") if "gen" not in p.relative_to(ROOT).parts[:2]]


def test_subject_literals_live_only_in_events_module() -> None:
    offenders = []
    for path in _python_sources():
        if path == Path(events.__file__):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and SUBJECT_RE.match(node.value):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}")
    assert not offenders, "subjects must come from services.shared.events: " + ", ".join(offenders)


def test_event_classes_are_defined_once() -> None:
    defined: dict[str, list[str]] = {}
    for path in _python_sources():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and node.name in {c.__name__ for c in events.EVENT_TYPES.values()}:
                defined.setdefault(node.name, []).append(str(path.relative_to(ROOT)))
    duplicates = {name: paths for name, paths in defined.items() if len(paths) > 1}
    assert not duplicates, f"event classes defined more than once: {duplicates}"


def test_every_subject_has_one_stream_and_one_schema() -> None:
    for subject, model in events.EVENT_TYPES.items():
        assert model.subject == subject
        assert streams.stream_for(subject).name
    assert streams.stream_for(events.dead_letter_subject(events.PLAN_APPROVED)).name == "DEAD_LETTERS"


def test_round_trip_and_extra_fields_tolerated() -> None:
    event = events.PlanApproved(story_id="S-1", plan_id="P-1", approved_by="ana", roles=[events.Role.DEV])
    payload = event.model_dump(mode="json") | {"unknown_extra": {"x": 1}}
    parsed = event_parsing.parse_event(events.PLAN_APPROVED, __import__("json").dumps(payload).encode())
    assert parsed == event
    assert payload["occurred_at"].endswith("Z")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"{not json", "invalid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"story_id": "S", "plan_id": "P", "approved_by": "a", "roles": ["CHEF"]}', "roles.0"),
        (b'{"story_id": "", "plan_id": "P", "approved_by": "a", "roles": ["DEV"]}', "story_id"),
    ],
)
def test_invalid_events_name_the_problem(data: bytes, reason: str) -> None:
    with pytest.raises(event_parsing.InvalidEvent, match=reason):
        event_parsing.parse_event(events.PLAN_APPROVED, data)


def test_deliberation_event_ids_are_derived_from_deliberation_and_type() -> None:
    started = events.DeliberationStarted(deliberation_id="d-1", role=events.Role.QA)
    failed = events.DeliberationFailed(deliberation_id="d-1", role=events.Role.QA, reason="x")
    assert started.event_id == "d-1.started"
    assert failed.event_id == "d-1.failed"


_WINNER = {"agent_id": "dev-1", "rank": 1, "score": 0.9, "proposal": "p"}
_DLB = {"deliberation_id": "dlb-1", "story_id": "S-1", "plan_id": "P-1", "role": "DEV"}


@pytest.mark.parametrize(
    ("subject", "fields", "reason"),
    [
        # Found by the 10,000-example fuzz run: a 1 MB agent id passed the schema and failed the graph
        # write (it keys a Decision) on every delivery, until its retries were exhausted.
        (events.DELIBERATION_COMPLETED, {"winner": {**_WINNER, "agent_id": "x" * 1_000}, "candidates": [_WINNER]},
         "winner.agent_id"),
        (events.DELIBERATION_COMPLETED, {"winner": _WINNER, "candidates": [{**_WINNER, "agent_id": "a b"}]},
         "candidates.0.agent_id"),
        # Neo4j keeps 64-bit integers; one larger would fail its write on every delivery too.
        (events.DELIBERATION_COMPLETED, {"winner": _WINNER, "candidates": [{**_WINNER, "rank": 2**63}]},
         "candidates.0.rank"),
        (events.DELIBERATION_STARTED, {"plan_version": 2**63}, "plan_version"),
        (events.AGENT_RESPONSE_COMPLETED, {"agent_id": "*", "stage": "generate"}, "agent_id"),
    ],
)
def test_ids_and_integers_the_graph_keeps_are_refused_at_the_edge(
    subject: str, fields: dict[str, object], reason: str
) -> None:
    data = json.dumps({**_DLB, **fields}).encode()
    with pytest.raises(event_parsing.InvalidEvent, match=reason):
        event_parsing.parse_event(subject, data)


def test_a_plan_version_must_fit_the_graph() -> None:
    plan = {"story_id": "S", "plan_id": "P", "approved_by": "a", "roles": ["DEV"]}
    with pytest.raises(event_parsing.InvalidEvent, match="plan_version"):
        event_parsing.parse_event(events.PLAN_APPROVED, json.dumps({**plan, "plan_version": 2**63}).encode())
    assert event_parsing.parse_event(events.PLAN_APPROVED, json.dumps({**plan, "plan_version": 2**63 - 1}).encode())
