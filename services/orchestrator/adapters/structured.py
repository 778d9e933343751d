"""Helpers for structured output: a schema servers accept in strict mode, and parsing.

Validation and the one repair attempt are the deliberation engine's policy;
these only remove the boilerplate around them.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)
_FENCED = re.compile(r"^\s*```(?:json)?\s*\n(.*?)\n?```\s*$", re.DOTALL)


def strict_json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema with every object closed and every property required.

    OpenAI-style strict mode insists on both; vLLM accepts either way, so one
    schema serves both servers.
    """
    schema = copy.deepcopy(model.model_json_schema())

    def close(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node:
                node["additionalProperties"] = False
                node["required"] = list(node["properties"])
            for value in node.values():
                close(value)
        elif isinstance(node, list):
            for value in node:
                close(value)

    close(schema)
    return schema


def parse_structured(text: str, model: type[M]) -> tuple[M | None, str | None]:
    """(instance, None) when `text` is valid; (None, reason) otherwise."""
    match = _FENCED.match(text)
    raw = match.group(1) if match else text
    try:
        return model.model_validate(json.loads(raw)), None
    except json.JSONDecodeError as err:
        return None, f"invalid JSON: {err.msg} at char {err.pos}"
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "<root>"
        return None, f"schema mismatch at {where}: {first['msg']} ({err.error_count()} errors)"
