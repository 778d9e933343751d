"""What a weak real model broke: bounded free text, budgets that fit the schema, and a review
that is truncated, empty or off-schema repaired once, then excluded with its reason."""

from __future__ import annotations

import json
from typing import Any

import pytest

from services.orchestrator.chair import orchestrate
from services.orchestrator.deliberation import deliberate
from services.orchestrator.domain.budgets import (
    CHARS_PER_TOKEN,
    answer_tokens,
    synthesis_chars,
    unbounded_text,
    within_ceiling,
)
from services.orchestrator.domain.llm import ChatRequest, ChatResult, Usage
from services.orchestrator.domain.repair import refusal
from services.orchestrator.domain.structured_answers import chair_schema, labels_for, review_schema
from tests.unit.test_deliberation_engine import QUALITY, ScriptedLLM, make_request


@pytest.mark.parametrize("count", [1, 2, 4])
def test_every_free_text_field_of_every_schema_is_bounded(count: int) -> None:
    labels = labels_for(count)
    assert unbounded_text(review_schema(labels)) == []
    assert unbounded_text(chair_schema([str(i + 1) for i in range(count)])) == []
    assert unbounded_text({"type": "object", "properties": {"x": {"type": "string"}}}) == ["$.x"]


def test_the_budget_covers_the_longest_answer_the_schema_admits() -> None:
    labels = labels_for(3)
    schema = review_schema(labels)
    critique = schema["properties"]["reviews"]["properties"]["A"]["properties"]["critique"]["maxLength"]
    longest = {
        "reviews": {
            label: {
                "scores": dict.fromkeys(("correctness", "completeness", "clarity", "risk"), 10),
                "critique": "x" * critique,
            }
            for label in labels
        },
        "ranking": labels,
    }
    # At the worst case of one token per character, plus two tokens (newline, indentation run)
    # per line of the pretty-printed form small models like to write: still within.
    compact, lines = json.dumps(longest), json.dumps(longest, indent=4).count("\n") + 1
    assert len(compact) / CHARS_PER_TOKEN + 2 * lines <= answer_tokens(schema)
    with pytest.raises(ValueError, match="maxLength"):
        answer_tokens({"type": "string"})


def test_an_answer_ceiling_shortens_every_free_text_field_and_the_budget_with_it() -> None:
    labels = ["1", "2"]
    for schema in (review_schema(labels), chair_schema(labels, 900)):
        sent, budget = within_ceiling(schema, answer_tokens(schema), 20)
        assert sent is not None and unbounded_text(sent) == []
        assert budget == answer_tokens(sent) < answer_tokens(schema)
        texts = _string_bounds(sent)
        assert texts and all(max_len <= 20 for _, max_len in texts), texts
        assert all("enum" in sub for sub in _enums(sent)) and _enums(sent) == _enums(schema)  # labels stay whole
    review = review_schema(labels)
    assert within_ceiling(review, 500, 0) == (review, 500)  # no ceiling: the schema as the engine built it
    assert within_ceiling(None, 500, 32) == (None, 32)  # plain text: the ceiling is the budget
    assert within_ceiling(None, 16, 32) == (None, 16)
    one = {"type": "string", "minLength": 5, "maxLength": 50}
    assert within_ceiling(one, 100, 2)[0] == {**one, "maxLength": 5}  # never below what the schema demands


def _string_bounds(schema: dict[str, Any], path: str = "$") -> list[tuple[str, int]]:
    found = [(path, int(schema["maxLength"]))] if schema.get("type") == "string" and "enum" not in schema else []
    for name, sub in schema.get("properties", {}).items():
        found += _string_bounds(sub, f"{path}.{name}")
    return found


def _enums(schema: dict[str, Any]) -> list[dict[str, Any]]:
    found = [schema] if "enum" in schema else []
    for sub in schema.get("properties", {}).values():
        found += _enums(sub)
    return found


def test_a_synthesis_may_be_twice_the_longest_candidate_within_bounds() -> None:
    assert synthesis_chars(10) == 800
    assert synthesis_chars(1000) == 2000
    assert synthesis_chars(10**6) == 4000


def test_refusal_reasons_tell_truncated_and_empty_from_off_schema() -> None:
    assert refusal("  ", "not valid JSON", "stop", 100) == "the answer was empty"
    assert "cut off at max_tokens=100" in refusal('{"reviews": {"A', "not valid JSON", "length", 100)
    assert refusal('{"x": 1}', "reviews: Field required", "stop", 100) == "reviews: Field required"


class WeakModel(ScriptedLLM):
    """Scripted answers, but chosen reviewers answer like a weak model: cut off at max_tokens,
    empty, or valid JSON of the wrong shape."""

    def __init__(self, broken: dict[str, list[str]]) -> None:
        super().__init__(quality=QUALITY)
        self.broken = broken

    async def chat(self, request: ChatRequest) -> ChatResult:
        queue = self.broken.get(request.agent_id, [])
        if request.stage == "review" and queue:
            self.requests.append(request)
            kind = queue.pop(0)
            text = {
                "truncated": '{"reviews": {"A": {"scores": {"correctness": 7',
                "empty": "",
                "off_schema": '{"verdict": "fine"}',
            }[kind]
            finish = "length" if kind == "truncated" else "stop"
            return ChatResult(text=text, usage=Usage(calls=1), finish_reason=finish)
        return await super().chat(request)


@pytest.mark.asyncio
async def test_review_budgets_fit_their_schema() -> None:
    llm = ScriptedLLM(quality=QUALITY)
    await orchestrate(llm, make_request(rounds=0))
    structured = [r for r in llm.requests if r.json_schema is not None]
    assert {r.stage for r in structured} == {"review", "chair"}
    assert all(r.max_tokens == answer_tokens(r.json_schema or {}) for r in structured)


@pytest.mark.asyncio
async def test_weak_reviews_are_repaired_once_then_excluded_and_counted() -> None:
    llm = WeakModel({"dev-1": ["truncated"], "dev-2": ["empty", "off_schema"], "dev-3": []})
    result = await deliberate(llm, make_request(rounds=0))
    assert result.repaired_answers == 1  # dev-1's repair was valid
    [excluded] = result.excluded_reviews
    assert excluded.reviewer == "dev-2" and "invalid after one repair" in excluded.reason
    repair_prompt = [r for r in llm.of("review") if r.agent_id == "dev-1"][1].messages[-1].content
    assert "cut off at max_tokens" in repair_prompt
    assert (
        [r for r in llm.of("review") if r.agent_id == "dev-2"][1]
        .messages[-1]
        .content.startswith("That answer is invalid: the answer was empty")
    )
    assert result.winner.agent_id == "dev-2"  # the other reviews still rank the council


@pytest.mark.asyncio
async def test_a_council_whose_every_review_is_excluded_still_ends_with_a_winner() -> None:
    llm = WeakModel({a: ["empty", "truncated"] for a in ("dev-1", "dev-2", "dev-3")})
    result = await deliberate(llm, make_request(rounds=0))
    assert len(result.excluded_reviews) == 3 and result.repaired_answers == 0
    assert result.winner.agent_id in {"dev-1", "dev-2", "dev-3"}
