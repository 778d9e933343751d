"""The schema instance generator and the review scoring built on it."""

from __future__ import annotations

import json
from typing import Literal

import jsonschema
import pytest
from pydantic import BaseModel, Field

from services.simulator.content import answer
from services.simulator.quality import assess
from services.simulator.review import ReviewHints, find_proposals
from services.simulator.schema_gen import generate_instance


class Scores(BaseModel):
    correctness: int = Field(ge=1, le=10)
    clarity: int = Field(ge=1, le=10)


class ItemReview(BaseModel):
    label: str
    scores: Scores
    critique: str = Field(min_length=5, max_length=400)


class Review(BaseModel):
    reviews: list[ItemReview] = Field(min_length=1, max_length=8)
    ranking: list[str]
    verdict: Literal["accept", "revise"]
    confidence: float = Field(ge=0, le=1)
    note: str | None = None


SCHEMAS = [
    {"type": "object", "properties": {"n": {"type": "integer", "minimum": 3, "maximum": 5}},
     "required": ["n"]},
    {"type": "object", "properties": {"x": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1}}},
    {"type": "array", "items": {"type": "string", "minLength": 10, "maxLength": 12},
     "minItems": 4, "maxItems": 6},
    {"type": "array", "items": {"enum": ["a", "b", "c"]}, "uniqueItems": True, "minItems": 2, "maxItems": 3},
    {"type": "object", "properties": {"k": {"type": ["string", "null"]}, "b": {"type": "boolean"},
                                      "c": {"const": "fixed"}, "t": {"type": "string", "format": "date-time"},
                                      "u": {"type": "string", "format": "uuid"}}},
    {"allOf": [{"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]},
               {"properties": {"b": {"type": "string"}}, "required": ["b"]}]},
    {"type": "integer", "maximum": -5},
    {"type": "object",
     "properties": {"empty": {"type": "array", "items": {"type": "integer"}, "maxItems": 0}}},
    Review.model_json_schema(),
]


@pytest.mark.parametrize("schema", SCHEMAS)
@pytest.mark.parametrize("seed", [0, 1, 42, 2**40])
def test_generated_instances_validate(schema: dict, seed: int) -> None:
    instance = generate_instance(schema, seed)
    jsonschema.validate(instance, schema)
    assert instance == generate_instance(schema, seed)


def test_different_seeds_give_different_instances() -> None:
    schema = Review.model_json_schema()
    assert len({json.dumps(generate_instance(schema, s)) for s in range(10)}) > 1


def dev_answer(temperature: float) -> str:
    messages = [{"role": "system", "content": "Role: DEV"},
                {"role": "user", "content": "Task: ingest webhooks"}]
    return answer({"model": "m", "temperature": temperature, "messages": messages}).text


def strong_and_weak() -> tuple[str, str]:
    texts = sorted((dev_answer(round(0.05 * i, 2)) for i in range(40)), key=lambda t: assess(t).score)
    return texts[-1], texts[0]


@pytest.mark.parametrize("fmt", [
    "Proposal {label}:\n{body}\n",
    "### Proposal {label}\n{body}\n",
    '<proposal label="{label}">\n{body}\n</proposal>\n',
    "[{label}]\n{body}\n",
    "**Candidate {label}**\n{body}\n",
])
def test_proposals_are_found_under_common_markers(fmt: str) -> None:
    strong, weak = strong_and_weak()
    prompt = "Review the proposals below.\n\n" + fmt.format(label="A", body=weak)
    prompt += fmt.format(label="B", body=strong)
    found = find_proposals(prompt)
    assert list(found) == ["A", "B"]
    assert "```python" in found["A"] and "```python" in found["B"]


def test_review_scores_follow_proposal_quality() -> None:
    strong, weak = strong_and_weak()
    prompt = f"Proposal A:\n{weak}\n\nProposal B:\n{strong}\n\nProposal C:\n{strong}\n"
    schema = Review.model_json_schema()
    for seed in range(20):
        hints = ReviewHints(find_proposals(prompt), seed)
        review = Review.model_validate(generate_instance(schema, seed, hints))
        by_label = {r.label: r for r in review.reviews}
        assert list(by_label) == ["A", "B", "C"]
        assert by_label["A"].scores.correctness < by_label["B"].scores.correctness
        assert by_label["A"].scores.clarity < by_label["C"].scores.clarity
        assert review.ranking[-1] == "A"
        assert "Proposal A" in by_label["A"].critique


def test_structured_request_end_to_end_through_answer() -> None:
    strong, weak = strong_and_weak()
    schema = Review.model_json_schema()
    result = answer({
        "model": "m", "temperature": 0.3,
        "messages": [{"role": "system", "content": "Role: DEV"},
                     {"role": "user", "content": f"Proposal A:\n{strong}\nProposal B:\n{weak}"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "review", "schema": schema}},
    })
    review = Review.model_validate_json(result.text)
    assert [r.label for r in review.reviews] == ["A", "B"]
    assert review.reviews[0].scores.correctness > review.reviews[1].scores.correctness


def test_label_enum_in_schema_is_respected() -> None:
    schema = {"type": "object", "required": ["items"], "properties": {"items": {
        "type": "array", "minItems": 2, "maxItems": 2,
        "items": {"type": "object", "required": ["label", "score"], "properties": {
            "label": {"enum": ["A", "B"]}, "score": {"type": "integer", "minimum": 0, "maximum": 100}}}}}}
    strong, weak = strong_and_weak()
    hints = ReviewHints(find_proposals(f"Proposal A:\n{strong}\nProposal B:\n{weak}"), 3)
    instance = generate_instance(schema, 3, hints)
    jsonschema.validate(instance, schema)
    a, b = instance["items"]
    assert (a["label"], b["label"]) == ("A", "B") and a["score"] > b["score"]
