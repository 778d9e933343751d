"""The pure core of deliberation: input rules, councils, prompts and structured answers."""

from __future__ import annotations

import json

import pytest

from services.orchestrator.domain.council import (
    MAX_AGENTS,
    AgentSpec,
    Role,
    council_for_role,
    default_chair,
    default_council,
    parse_role,
)
from services.orchestrator.domain.errors import ValidationError
from services.orchestrator.domain.model import RUBRIC, DeliberationRequest
from services.orchestrator.domain.prompts import generate_messages, review_messages, system_prompt
from services.orchestrator.domain.structured_answers import (
    InvalidAnswer,
    chair_schema,
    labels_for,
    parse_chair,
    parse_review,
    review_schema,
)
from services.orchestrator.domain.validation import (
    MAX_TASK_CHARS,
    new_request,
    rubric_weights_of,
    validate_request,
)


def field_of(**kw: object) -> str:
    args: dict[str, object] = {"task": "do it", "role": "DEV", **kw}
    with pytest.raises(ValidationError) as bad:
        new_request(**args)  # type: ignore[arg-type]
    return bad.value.field


def test_a_valid_request_gets_defaults_and_cleaned_constraints() -> None:
    request = new_request(task="do it", role="dev", constraints=["  fast ", "", "safe"])
    assert request.role is Role.DEV
    assert (request.rounds, request.num_agents) == (1, 3)
    assert request.constraints == ["fast", "safe"]
    assert request.deliberation_id
    assert new_request(task="x", role=Role.QA, deliberation_id="d-1").deliberation_id == "d-1"


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"role": "WIZARD"}, "role"),
        ({"role": ""}, "role"),
        ({"task": "   "}, "task"),
        ({"task": "x" * (MAX_TASK_CHARS + 1)}, "task"),
        ({"num_agents": 0}, "num_agents"),
        ({"num_agents": MAX_AGENTS + 1}, "num_agents"),
        ({"rounds": -1}, "rounds"),
        ({"rounds": 4}, "rounds"),
        ({"constraints": ["x" * 2001]}, "constraints[0]"),
        ({"constraints": ["c"] * 51}, "constraints"),
        ({"context": "x" * 64_001}, "context"),
        ({"rubric_weights": {"beauty": 1.0}}, "rubric_weights.beauty"),
        ({"rubric_weights": {"clarity": -1.0}}, "rubric_weights.clarity"),
        ({"rubric_weights": {"clarity": float("nan")}}, "rubric_weights.clarity"),
        ({"rubric_weights": {"clarity": 0.0}}, "rubric_weights"),
        ({"rounds": "many"}, "rounds"),
    ],
)
def test_bad_input_names_the_field(kw: dict[str, object], field: str) -> None:
    assert field_of(**kw) == field


def test_the_error_message_names_the_field_too() -> None:
    with pytest.raises(ValidationError, match=r"^role: unknown role 'WIZARD'; expected one of ARCHITECT"):
        parse_role("WIZARD")


def test_validate_request_guards_directly_built_requests() -> None:
    with pytest.raises(ValidationError, match="rounds"):
        validate_request(DeliberationRequest(task="t", role=Role.DEV, rounds=9))


def test_rubric_weights_are_normalised_over_the_whole_rubric() -> None:
    equal = rubric_weights_of(new_request(task="t", role="DEV"))
    assert equal == {label: 0.25 for label in RUBRIC}
    skewed = rubric_weights_of(
        new_request(task="t", role="DEV", rubric_weights={"correctness": 3, "risk": 1})
    )
    assert skewed == {"correctness": 0.75, "completeness": 0.0, "clarity": 0.0, "risk": 0.25}


def test_default_councils_are_diverse_in_temperature_and_persona() -> None:
    for role in Role:
        council = default_council(role)
        assert [a.agent_id for a in council.agents] == [f"{role.value.lower()}-{i}" for i in (1, 2, 3)]
        assert len({a.persona for a in council.agents}) == 3
        assert [a.temperature for a in council.agents] == [0.3, 0.6, 0.9]
        assert all(a.role is role for a in council.agents)
    assert [a.temperature for a in default_council(Role.DEV, 1).agents] == [0.6]
    assert len({a.temperature for a in default_council(Role.DEV, 7).agents}) == 7


def test_agents_join_and_leave_a_council_by_the_rules() -> None:
    council = default_council(Role.QA, 2).model_copy(update={"council_id": "c-1"})
    extra = AgentSpec(agent_id="qa-x", role=Role.QA, persona="a fuzzer", temperature=1.0)
    grown = council.with_agent(extra)
    assert grown.council_id == "c-1" and grown.agents[-1] == extra
    assert grown.without_agent("qa-x") == council
    with pytest.raises(ValidationError, match=r"agent\.role"):
        council.with_agent(extra.model_copy(update={"role": Role.DEV}))
    with pytest.raises(ValidationError, match=r"agent\.agent_id"):
        grown.with_agent(extra)
    with pytest.raises(ValidationError, match="agent_id"):
        council.without_agent("nobody")
    with pytest.raises(ValidationError, match="agents"):
        default_council(Role.QA, MAX_AGENTS).with_agent(extra)


def test_council_for_role_takes_the_first_k_of_a_stored_council_or_a_default_one() -> None:
    stored = default_council(Role.DATA, 5)
    assert [a.agent_id for a in council_for_role(stored, Role.DATA, 2).agents] == ["data-1", "data-2"]
    assert len(council_for_role(None, Role.DATA, 4).agents) == 4
    with pytest.raises(ValidationError, match="num_agents"):
        council_for_role(stored, Role.DATA, 6)
    with pytest.raises(ValidationError, match="role"):
        council_for_role(stored, Role.DEV, 2)


def test_the_chair_is_an_architect_by_default() -> None:
    assert default_chair().role is Role.ARCHITECT
    assert default_chair(Role.DEVOPS).agent_id == "devops-chair"


def test_prompts_put_the_role_line_in_the_system_message_and_the_persona_last() -> None:
    request = new_request(task="Ship it", role="DEVOPS", constraints=["no root"], context="Cluster: k3s")
    agent = default_council(Role.DEVOPS).agents[0]
    system, user = generate_messages(request, agent)
    assert "Role: DEVOPS" in system.content.splitlines()
    assert system.content == system_prompt(Role.DEVOPS)
    order = [
        user.content.index(s) for s in ("Cluster: k3s", "Ship it", "- no root", "## Your step", agent.persona)
    ]
    assert order == sorted(order)
    review = review_messages(request, agent, [("A", "first"), ("B", "second")])[1].content
    assert (
        review.index(agent.persona)
        < review.index('<proposal label="A">\nfirst\n</proposal>')
        < review.index('<proposal label="B">')
    )


def good_review(labels: list[str]) -> dict[str, object]:
    return {
        "reviews": {label: {"scores": dict.fromkeys(RUBRIC, 7), "critique": "fine"} for label in labels},
        "ranking": list(reversed(labels)),
    }


def test_the_review_schema_is_plain_closed_json_schema_keyed_by_label() -> None:
    schema = review_schema(labels_for(3))
    assert schema["required"] == ["reviews", "ranking"] and schema["additionalProperties"] is False
    reviews = schema["properties"]["reviews"]
    assert reviews["required"] == ["A", "B", "C"] and reviews["additionalProperties"] is False
    assert reviews["properties"]["B"]["properties"]["scores"]["required"] == list(RUBRIC)
    assert schema["properties"]["ranking"] == {
        "type": "array",
        "items": {"type": "string", "maxLength": 2},
        "minItems": 3,
        "maxItems": 3,
    }
    json.dumps(schema)


def test_a_valid_review_parses_and_a_fenced_one_too() -> None:
    labels = ["A", "B"]
    text = json.dumps(good_review(labels))
    answer = parse_review(text, labels)
    assert (answer.rank_of("B"), answer.rank_of("A")) == (1, 2)
    assert parse_review(f"```json\n{text}\n```", labels).reviews["A"].critique == "fine"
    lower = {**good_review(labels), "ranking": [" b", "a"]}
    assert parse_review(json.dumps(lower), labels).ranking == ["B", "A"]


def with_entry(review: dict, label: str, **change: object) -> dict:
    reviews = dict(review["reviews"])
    reviews[label] = {**reviews[label], **change}
    return {**review, "reviews": reviews}


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r: "{not json", "not valid JSON"),
        (lambda r: [], "valid dictionary"),
        (lambda r: {**r, "reviews": {"A": r["reviews"]["A"]}}, "missing ['B']"),
        (lambda r: {**r, "reviews": {**r["reviews"], "C": r["reviews"]["A"]}}, "unexpected ['C']"),
        (lambda r: {**r, "ranking": ["A", "A"]}, "each of ['A', 'B'] exactly once"),
        (lambda r: {**r, "ranking": ["A"]}, "exactly once"),
        (lambda r: {**r, "ranking": ["A", "Z"]}, "exactly once"),
        (lambda r: {"reviews": r["reviews"]}, "ranking: Field required"),
        (lambda r: with_entry(r, "A", scores={"correctness": 7}), "reviews.A.scores must have exactly"),
        (lambda r: with_entry(r, "A", scores=dict.fromkeys(RUBRIC, 11)), "outside 1..10"),
        (lambda r: with_entry(r, "A", critique=""), "reviews.A.critique"),
        (lambda r: with_entry(r, "A", mood="happy"), "reviews.A.mood"),
    ],
)
def test_invalid_reviews_say_what_is_wrong(mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    labels = ["A", "B"]
    broken = mutate(good_review(labels))
    text = broken if isinstance(broken, str) else json.dumps(broken)
    with pytest.raises(InvalidAnswer) as invalid:
        parse_review(text, labels)
    assert message in str(invalid.value)


def test_chair_answers_are_validated() -> None:
    labels = ["1", "2"]
    assert chair_schema(labels)["properties"]["choice"]["enum"] == labels
    ok = {"decision": "select", "choice": "2", "synthesis": "", "rationale": "r"}
    assert parse_chair(json.dumps(ok), labels).choice == "2"
    for bad in (
        {**ok, "choice": "9"},
        {**ok, "decision": "merge"},
        {**ok, "decision": "synthesize"},
        {"choice": "1"},
    ):
        with pytest.raises(InvalidAnswer):
            parse_chair(json.dumps(bad), labels)
