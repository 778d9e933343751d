"""Input rules for a deliberation, as pure functions that name the field they reject."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from pydantic import ValidationError as PydanticValidationError

from services.orchestrator.domain.council import (
    DEFAULT_NUM_AGENTS,
    MAX_AGENTS,
    MIN_AGENTS,
    Role,
    parse_role,
)
from services.orchestrator.domain.errors import ValidationError
from services.orchestrator.domain.model import DEFAULT_ROUNDS, RUBRIC, DeliberationRequest

MIN_ROUNDS = 0
MAX_ROUNDS = 3
# Every prompt of the council repeats the task, so its size multiplies by the call count.
MAX_TASK_CHARS = 32_000
MAX_CONSTRAINTS = 50
MAX_CONSTRAINT_CHARS = 2_000
MAX_CONTEXT_CHARS = 64_000


def new_request(
    *,
    task: str,
    role: str | Role,
    constraints: Iterable[str] = (),
    rounds: int = DEFAULT_ROUNDS,
    num_agents: int = DEFAULT_NUM_AGENTS,
    rubric_weights: Mapping[str, float] | None = None,
    context: str = "",
    deliberation_id: str | None = None,
) -> DeliberationRequest:
    """Build a request from untrusted values (e.g. a gRPC message)."""
    fields: dict[str, object] = {
        "task": task,
        "role": parse_role(role),
        "constraints": [c.strip() for c in constraints if c.strip()],
        "rounds": rounds,
        "num_agents": num_agents,
        "rubric_weights": dict(rubric_weights) if rubric_weights else None,
        "context": context,
    }
    if deliberation_id:
        fields["deliberation_id"] = deliberation_id
    try:
        request = DeliberationRequest.model_validate(fields)
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "request"
        raise ValidationError(field, first["msg"]) from None
    return validate_request(request)


def validate_request(request: DeliberationRequest) -> DeliberationRequest:
    if not request.task.strip():
        raise ValidationError("task", "must not be empty")
    if len(request.task) > MAX_TASK_CHARS:
        raise ValidationError("task", f"{len(request.task)} chars exceeds the limit of {MAX_TASK_CHARS}")
    if not MIN_AGENTS <= request.num_agents <= MAX_AGENTS:
        raise ValidationError("num_agents", f"{request.num_agents} is outside {MIN_AGENTS}..{MAX_AGENTS}")
    if not MIN_ROUNDS <= request.rounds <= MAX_ROUNDS:
        raise ValidationError("rounds", f"{request.rounds} is outside {MIN_ROUNDS}..{MAX_ROUNDS}")
    if len(request.constraints) > MAX_CONSTRAINTS:
        raise ValidationError("constraints", f"at most {MAX_CONSTRAINTS} constraints")
    for i, constraint in enumerate(request.constraints):
        if len(constraint) > MAX_CONSTRAINT_CHARS:
            raise ValidationError(f"constraints[{i}]", f"{len(constraint)} chars exceeds {MAX_CONSTRAINT_CHARS}")
    if len(request.context) > MAX_CONTEXT_CHARS:
        raise ValidationError("context", f"{len(request.context)} chars exceeds {MAX_CONTEXT_CHARS}")
    if not request.deliberation_id.strip():
        raise ValidationError("deliberation_id", "must not be empty")
    if request.rubric_weights is not None:
        validate_rubric_weights(request.rubric_weights)
    return request


def validate_rubric_weights(weights: Mapping[str, float]) -> None:
    for label, weight in weights.items():
        if label not in RUBRIC:
            raise ValidationError(f"rubric_weights.{label}", f"unknown label; expected one of {', '.join(RUBRIC)}")
        if not math.isfinite(weight) or weight < 0:
            raise ValidationError(f"rubric_weights.{label}", "must be a finite number >= 0")
    if not any(w > 0 for w in weights.values()):
        raise ValidationError("rubric_weights", "at least one weight must be positive")


def rubric_weights_of(request: DeliberationRequest) -> dict[str, float]:
    """Normalised weights over the whole rubric; labels left out weigh zero."""
    raw = request.rubric_weights or {label: 1.0 for label in RUBRIC}
    total = sum(raw.get(label, 0.0) for label in RUBRIC)
    return {label: raw.get(label, 0.0) / total for label in RUBRIC}
