"""A message's bytes into the event its subject's schema says, or InvalidEvent naming the
problem (the consumers dead-letter it)."""

from __future__ import annotations

import json

from pydantic import ValidationError

from services.shared.events import EVENT_TYPES, Event
from services.shared.ids import lone_surrogate


class InvalidEvent(ValueError):
    """A message that can never be processed: it belongs in the dead-letter stream."""


def parse_event(subject: str, data: bytes) -> Event:
    model = EVENT_TYPES.get(subject)
    if model is None:
        raise InvalidEvent(f"no event schema for subject {subject!r}")
    try:
        payload = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidEvent(f"invalid JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise InvalidEvent("event must be a JSON object")
    if (where := lone_surrogate(payload)) is not None:
        # JSON may escape one (\ud800); no store downstream can encode it.
        raise InvalidEvent(f"schema violation: {where or '<root>'}: lone surrogate in a string")
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        # Bounded: locations may hold untrusted keys, and a list may fail item by item.
        found = exc.errors()
        errors = "; ".join(
            f"{'.'.join(str(p)[:40] for p in err['loc']) or '<root>'}: {err['msg'][:300]}" for err in found[:5]
        )
        more = f"; and {len(found) - 5} more" if len(found) > 5 else ""
        raise InvalidEvent(f"schema violation: {errors}{more}") from exc
