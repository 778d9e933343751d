"""The JetStream streams: which stream carries which subjects, and for how long.

Stream configuration, not a schema: the subjects come from services.shared.events, and
services/shared/jetstream.py creates the streams from this table.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from services.shared import events


class StreamSpec(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    subjects: tuple[str, ...]
    max_age_s: float
    # Window in which a repeated Nats-Msg-Id is dropped.
    duplicate_window_s: float = 120.0


DAY = 86_400.0
STREAMS: tuple[StreamSpec, ...] = (
    StreamSpec(name="PLANNING_EVENTS", subjects=(events.PLANNING_SUBJECTS,), max_age_s=30 * DAY),
    StreamSpec(name="ORCHESTRATION_EVENTS", subjects=(events.ORCHESTRATION_SUBJECTS,), max_age_s=30 * DAY),
    StreamSpec(name="AGENT_RESPONSES", subjects=(events.AGENT_RESPONSE_SUBJECTS,), max_age_s=3 * DAY),
    StreamSpec(name="CONTEXT_EVENTS", subjects=(events.CONTEXT_SUBJECTS,), max_age_s=30 * DAY),
    StreamSpec(name="DEAD_LETTERS", subjects=(events.dead_letter_subject(">"),), max_age_s=30 * DAY),
)


def stream_for(subject: str) -> StreamSpec:
    for spec in STREAMS:
        prefix = spec.subjects[0].removesuffix(">")
        if subject.startswith(prefix):
            return spec
    raise KeyError(f"no stream carries subject {subject!r}")
