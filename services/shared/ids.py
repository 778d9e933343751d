"""One rule per kind of id or name that arrives from outside, in one place.

Ids become NATS KV keys, subjects, Ray submission ids and Cypher parameters, so they
are checked at the edge (gRPC fields and event fields) before any of that happens.
An error names the field and shows at most a short prefix of the bad value: a 100,000
character id must not come back whole in a status message or a dead letter.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import AfterValidator

PREVIEW_CHARS = 32
# Neo4j stores 64-bit integers: a larger one in an event the graph keeps would fail its write on
# every delivery, and the event be dead-lettered only once its retries ran out.
INT64_MAX = 2**63 - 1


def printable(text: str) -> str:
    """`text` with any lone surrogate as a backslash escape, so it can be encoded as UTF-8."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def preview(value: object) -> str:
    """A short, printable rendering of an untrusted value for error messages."""
    text = value if isinstance(value, str) else repr(value)
    shown = repr(text[:PREVIEW_CHARS])
    return shown if len(text) <= PREVIEW_CHARS else f"{shown}... ({len(text)} chars)"


class InvalidId(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Rule:
    what: str
    max_len: int
    pattern: re.Pattern[str] | None = None
    # For human names: any printable text, no control or format characters.
    printable: bool = False

    def check(self, field: str, value: str) -> str:
        if not isinstance(value, str):
            raise InvalidId(field, f"must be a string, got {type(value).__name__}")
        if not value or not value.strip():
            raise InvalidId(field, "is required")
        if len(value) > self.max_len:
            raise InvalidId(field, f"is {len(value)} characters; at most {self.max_len} ({preview(value)})")
        if self.pattern is not None and not self.pattern.fullmatch(value):
            raise InvalidId(field, f"must be {self.what} (got {preview(value)})")
        if self.printable and any(unicodedata.category(ch)[0] in "CZ" and ch != " " for ch in value):
            raise InvalidId(field, f"must be {self.what} (got {preview(value)})")
        return value


# Letters, digits, '_' and '-', with single dots inside: valid as a NATS KV key, a
# subject token sequence, a Ray submission id and a file name, with no wildcards.
ID = Rule(
    "1-128 characters of A-Z a-z 0-9 _ - and single inner dots, starting with a letter or digit",
    128,
    re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*"),
)
# Event ids also allow ':' (e.g. "context.updated:<story>:<revision>").
EVENT_ID = Rule(
    "1-200 characters of A-Z a-z 0-9 _ - . : starting with a letter or digit",
    200,
    re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]*"),
)
# Decision ids compose a deliberation id and an agent id ("dec-<deliberation>-<agent>").
DECISION_ID = Rule(ID.what.replace("1-128", "1-300"), 300, ID.pattern)
NAME = Rule("1-128 printable characters (no control characters)", 128, printable=True)

RULES: dict[str, Rule] = {
    "story_id": ID,
    "plan_id": ID,
    "task_id": ID,
    "deliberation_id": ID,
    "agent_id": ID,
    "decision_id": DECISION_ID,
    "node_id": ID,
    "event_id": EVENT_ID,
    "actor": NAME,
}


def check(kind: str, value: str, field: str | None = None) -> str:
    """`value` when it satisfies the rule of `kind`, else InvalidId naming `field` (default: kind)."""
    return RULES[kind].check(field or kind, value)


def optional(kind: str, value: str, field: str | None = None) -> str:
    """Like `check`, but an empty value is allowed (the caller fills a default)."""
    return check(kind, value, field) if value else value


def lone_surrogate(value: Any, path: str = "") -> str | None:
    """The path of the first string (value or key) holding a lone surrogate, else None."""
    if isinstance(value, str):
        return path if any("\ud800" <= ch <= "\udfff" for ch in value) else None
    if isinstance(value, list):
        items: Any = ((str(i), v) for i, v in enumerate(value))
    elif isinstance(value, dict):
        items = value.items()
    else:
        return None
    for key, item in items:
        here = f"{path}.{str(key)[:40]}" if path else str(key)[:40]
        if lone_surrogate(key) is not None:
            # Only the last key of a path can hold one (an earlier one would have ended the walk),
            # so only a path being returned for its key is escaped: parsing every event skips it.
            return printable(here)
        if (found := lone_surrogate(item, here)) is not None:
            return found
    return None


def _validator(kind: str, allow_empty: bool = False):  # type: ignore[no-untyped-def]
    def validate(value: str) -> str:
        return optional(kind, value) if allow_empty else check(kind, value)

    return AfterValidator(validate)


# Pydantic field types for the event schemas (services/shared/events.py).
StoryId = Annotated[str, _validator("story_id")]
PlanId = Annotated[str, _validator("plan_id")]
TaskId = Annotated[str, _validator("task_id")]
DeliberationId = Annotated[str, _validator("deliberation_id")]
AgentId = Annotated[str, _validator("agent_id")]
EventId = Annotated[str, _validator("event_id")]
Actor = Annotated[str, _validator("actor")]
OptionalStoryId = Annotated[str, _validator("story_id", allow_empty=True)]
OptionalPlanId = Annotated[str, _validator("plan_id", allow_empty=True)]
