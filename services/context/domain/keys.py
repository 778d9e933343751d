"""Ids from outside, checked once, and the ids this service derives itself: a retried call
that carries no id must land on the same node, so derived ids are hashes of what identifies it."""

from __future__ import annotations

import hashlib

from services.context.domain.errors import InvalidArgument
from services.shared import ids

MAX_ID = 200


def required(name: str, value: str) -> str:
    if not value or not value.strip():
        raise InvalidArgument(name, "is required")
    if len(value) > MAX_ID:
        raise InvalidArgument(name, f"is longer than {MAX_ID} characters")
    return value


def checked(kind: str, value: str, name: str | None = None, required: bool = True) -> str:
    """The shared rule for this kind of id (services/shared/ids.py), as InvalidArgument."""
    try:
        return ids.check(kind, value, name) if required else ids.optional(kind, value, name)
    except ids.InvalidId as exc:
        raise InvalidArgument(exc.field, exc.message) from None


# GetGraphRelationships keys: most labels by an id, actors by name, audit nodes by event id.
NODE_ID_KINDS = {"Actor": "actor", "PlanApproval": "event_id", "PhaseTransition": "event_id", "Decision": "decision_id"}


def decision_key(story_id: str, role: str, title: str) -> str:
    return "dec-" + hashlib.sha256(f"{story_id}\0{role}\0{title}".encode()).hexdigest()[:16]


def milestone_key(story_id: str, text: str) -> str:
    return hashlib.sha256(f"{story_id}\0{text}".encode()).hexdigest()[:24]
