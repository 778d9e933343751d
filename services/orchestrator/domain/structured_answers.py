"""Structured answers (peer reviews, the chair's decision): JSON schemas and their validation."""

from __future__ import annotations

import json
import re
import string
from typing import Any

from pydantic import BaseModel, Field
from pydantic import ValidationError as PydanticValidationError

from services.orchestrator.domain.budgets import CRITIQUE_MAX_CHARS, RATIONALE_MAX_CHARS, SYNTHESIS_MAX_CHARS
from services.orchestrator.domain.model import RUBRIC

MIN_SCORE = 1
MAX_SCORE = 10


class InvalidAnswer(ValueError):
    """A structured answer that does not match what was asked; the message goes back to the model."""


class LabelReview(BaseModel, extra="forbid"):
    scores: dict[str, int]
    critique: str = Field(min_length=1)


class ReviewAnswer(BaseModel, extra="forbid"):
    reviews: dict[str, LabelReview]
    # Labels best first; a permutation of the labels shown.
    ranking: list[str]

    def rank_of(self, label: str) -> int:
        return self.ranking.index(label) + 1


def labels_for(count: int) -> list[str]:
    return list(string.ascii_uppercase[:count])


def review_schema(labels: list[str], rubric: tuple[str, ...] = RUBRIC) -> dict[str, Any]:
    """One entry per label, so each proposal is reviewed exactly once by construction, and a
    ranking best first. The ranking's items carry no enum on purpose: an enum invites
    generators to repeat labels, while a plain list of strings is checked here instead."""
    score = {"type": "integer", "minimum": MIN_SCORE, "maximum": MAX_SCORE}
    entry = {
        "type": "object",
        "properties": {
            "scores": {
                "type": "object",
                "properties": {label: score for label in rubric},
                "required": list(rubric),
                "additionalProperties": False,
            },
            "critique": {"type": "string", "minLength": 1, "maxLength": CRITIQUE_MAX_CHARS},
        },
        "required": ["scores", "critique"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {
            "reviews": {
                "type": "object",
                "properties": {label: entry for label in labels},
                "required": list(labels),
                "additionalProperties": False,
            },
            "ranking": {
                "type": "array",
                "items": {"type": "string", "maxLength": 2},
                "minItems": len(labels),
                "maxItems": len(labels),
            },
        },
        "required": ["reviews", "ranking"],
        "additionalProperties": False,
    }


_FENCE = re.compile(r"^\s*```(?:json)?\s*\n(.*?)\n\s*```\s*$", re.DOTALL)


def load_json(text: str) -> Any:
    # Models sometimes wrap JSON in a fence even under structured output; that is not worth a repair.
    match = _FENCE.match(text)
    body = match.group(1) if match else text
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        raise InvalidAnswer(f"not valid JSON: {exc}") from None


def parse_review(text: str, labels: list[str], rubric: tuple[str, ...] = RUBRIC) -> ReviewAnswer:
    try:
        answer = ReviewAnswer.model_validate(load_json(text))
    except PydanticValidationError as exc:
        raise InvalidAnswer(_first_error(exc)) from None
    missing = [label for label in labels if label not in answer.reviews]
    extra = [key for key in answer.reviews if key not in labels]
    if missing or extra:
        raise InvalidAnswer(f"reviews must have exactly the labels {labels}; missing {missing}, unexpected {extra}")
    for label, entry in answer.reviews.items():
        if set(entry.scores) != set(rubric):
            raise InvalidAnswer(f"reviews.{label}.scores must have exactly {list(rubric)}")
        bad = [k for k, v in entry.scores.items() if not MIN_SCORE <= v <= MAX_SCORE]
        if bad:
            raise InvalidAnswer(f"reviews.{label}.scores {bad} outside {MIN_SCORE}..{MAX_SCORE}")
    ranking = [label.strip().upper() for label in answer.ranking]
    if sorted(ranking) != sorted(labels):
        raise InvalidAnswer(f"ranking must list each of {labels} exactly once, best first; got {answer.ranking}")
    return answer.model_copy(update={"ranking": ranking})


def _first_error(exc: PydanticValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"{where}: {first['msg']}" if where else first["msg"]


class ChairAnswer(BaseModel, extra="forbid"):
    decision: str
    choice: str
    synthesis: str
    rationale: str


def chair_schema(labels: list[str], synthesis_max_chars: int = SYNTHESIS_MAX_CHARS) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "decision": {"type": "string", "enum": ["select", "synthesize"]},
            "choice": {"type": "string", "enum": list(labels)},
            "synthesis": {"type": "string", "maxLength": synthesis_max_chars},
            "rationale": {"type": "string", "maxLength": RATIONALE_MAX_CHARS},
        },
        "required": ["decision", "choice", "synthesis", "rationale"],
        "additionalProperties": False,
    }


def parse_chair(text: str, labels: list[str]) -> ChairAnswer:
    data = load_json(text)
    try:
        answer = ChairAnswer.model_validate(data)
    except PydanticValidationError as exc:
        raise InvalidAnswer(_first_error(exc)) from None
    if answer.decision not in ("select", "synthesize"):
        raise InvalidAnswer(f"decision must be 'select' or 'synthesize', got {answer.decision!r}")
    if answer.choice not in labels:
        raise InvalidAnswer(f"choice must be one of {labels}, got {answer.choice!r}")
    if answer.decision == "synthesize" and not answer.synthesis.strip():
        raise InvalidAnswer("synthesis must hold the full synthesized proposal")
    return answer
