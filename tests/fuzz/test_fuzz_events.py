"""Every consumed event schema, fuzzed onto the real NATS against the stack's services.

Each example ends either processed (acked, no letter) or dead-lettered by every consumer
of its subject with a reason and its exact original bytes; a schema-invalid one is always
dead-lettered; none exhausts its retries. Valid sentinel events published before and after
the batch are recorded exactly once, and both services stay SERVING with the same PIDs.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given
from nats.errors import MaxPayloadError
from nats.js.errors import NotFoundError

from services.gen.fleet.context.v1 import context_pb2 as cpb
from services.shared import event_parsing, events
from services.shared.deadletter import original_bytes
from tests.fuzz.conftest import Live
from tests.fuzz.strategies import encode, mutated
from tests.integration.hostile_support import Letters

RUN = uuid.uuid4().hex[:8]
STORY, PLAN, DELIBERATION = f"FUZZ-{RUN}", f"FUZZ-{RUN}-plan", f"FUZZ-{RUN}-dlb"
PLANNING = ("PLANNING_EVENTS", ["context-plan-approved", "orchestrator-plan-approved"])
OUTCOMES = ("ORCHESTRATION_EVENTS", ["context-deliberations", "orchestrator-deliberation-outcomes"])
WINNER = {"agent_id": "fuzz-1", "rank": 1, "score": 0.9, "proposal": "p"}
BASE = {"deliberation_id": DELIBERATION, "story_id": STORY, "plan_id": PLAN, "role": "DATA"}
# subject -> (template, fields a fuzzed value may never make valid, stream, consumers)
SCHEMAS: dict[str, tuple[dict[str, Any], frozenset[str], tuple[str, list[str]]]] = {
    events.PLAN_APPROVED: (
        {"story_id": STORY, "plan_id": PLAN, "approved_by": "fuzz", "roles": ["DATA"], "plan_version": 1,
         "title": "t", "tasks": [{"task_id": f"{STORY}-t1", "role": "DATA", "depends_on": []}]},
        frozenset({"story_id", "plan_id", "roles", "plan_version"}), PLANNING),
    events.STORY_TRANSITIONED: (
        {"story_id": STORY, "from_phase": "DESIGN", "to_phase": "BUILD"}, frozenset(),
        ("PLANNING_EVENTS", ["context-story-transitioned"])),
    events.DELIBERATION_STARTED: (dict(BASE), frozenset(), OUTCOMES),
    events.DELIBERATION_COMPLETED: ({**BASE, "winner": WINNER, "candidates": [WINNER]}, frozenset(), OUTCOMES),
    events.DELIBERATION_FAILED: ({**BASE, "reason": "r"}, frozenset(), OUTCOMES),
    events.DELIBERATION_CANCELLED: ({**BASE, "reason": "r"}, frozenset(), OUTCOMES),
}


@dataclass
class Sent:
    seq: int
    body: bytes
    valid: bool


async def _publish(live: Live, subject: str, body: bytes) -> Sent | None:
    try:
        ack = await live.js.publish(subject, body, headers={"Nats-Msg-Id": uuid.uuid4().hex})
    except MaxPayloadError:
        return None  # refused by the client before it reached NATS: a clear error at the edge
    try:
        event_parsing.parse_event(subject, body)
        valid = True
    except event_parsing.InvalidEvent:
        valid = False
    return Sent(ack.seq, body, valid)


async def _drained(live: Live, stream: str, consumers: list[str], seq: int, within: float) -> None:
    deadline = time.monotonic() + within
    for durable in consumers:
        while True:
            try:
                info = await live.js.consumer_info(stream, durable)
                if info.delivered.stream_seq >= seq and info.num_ack_pending == 0 and info.num_pending == 0:
                    break
            except NotFoundError:
                pass
            assert time.monotonic() < deadline, f"{durable} did not finish up to seq {seq}"
            await asyncio.sleep(0.2)


async def _sentinel(live: Live, phase_from: str, phase_to: str) -> str:
    event = events.StoryTransitioned(story_id=f"{STORY}-sentinel", from_phase=phase_from, to_phase=phase_to)
    await live.js.publish(event.subject, event.to_bytes(), headers={"Nats-Msg-Id": event.event_id})
    return event.event_id


@pytest.fixture(scope="module", autouse=True)
def sentinels(live: Live) -> Any:
    """A story with a transition before the whole run and one after: each recorded exactly once."""
    live.call(live.context.CreateStory, cpb.CreateStoryRequest(story_id=f"{STORY}-sentinel", title="sentinel"))
    first = live.run(_sentinel(live, "DESIGN", "BUILD"))
    yield
    last = live.run(_sentinel(live, "BUILD", "TEST"))
    live.run(_drained(live, *PLANNING_STREAM_TRANSITIONS, seq=live.run(_last_seq(live)), within=60))
    graph = live.call(live.context.GetGraphRelationships,
                      cpb.GetGraphRelationshipsRequest(node_id=f"{STORY}-sentinel", node_label="Story", depth=1))
    transitions = [n.id for n in graph.nodes if "PhaseTransition" in n.labels]
    assert sorted(transitions) == sorted([first, last]), transitions
    live.assert_unharmed()


PLANNING_STREAM_TRANSITIONS = ("PLANNING_EVENTS", ["context-story-transitioned"])


async def _last_seq(live: Live) -> int:
    return int((await live.js.stream_info("PLANNING_EVENTS")).state.last_seq)


@pytest.mark.parametrize("subject", list(SCHEMAS))
def test_fuzzed_events_are_processed_or_dead_lettered_whole(live: Live, subject: str) -> None:
    template, protected, (stream, consumers) = SCHEMAS[subject]
    letters = live.run(Letters.start(live.js, subject))
    live.run(_publish(live, subject, json.dumps(template).encode()))  # the valid original first
    sent: list[Sent] = []

    @given(event=mutated(template, protected))
    def publish(event: dict[str, Any]) -> None:
        if (done := live.run(_publish(live, subject, encode(event)))) is not None:
            sent.append(done)

    publish()
    assert sent, "no example reached NATS"
    live.run(_drained(live, stream, consumers, max(s.seq for s in sent), within=120 + len(sent) * 0.05))
    stored: dict[tuple[str, int], events.DeadLetter] = {
        (d.consumer, d.source_seq): d for d in live.run(letters.read())
    }
    for s in sent:
        for consumer in consumers:
            letter = stored.get((consumer, s.seq))
            if not s.valid:
                assert letter is not None, f"{consumer} lost invalid seq {s.seq}: {s.body[:200]!r}"
            if letter is not None:
                assert letter.reason and not letter.reason.startswith("exhausted"), letter.reason
                assert live.run(original_bytes(live.js, letter)) == s.body
    live.assert_unharmed()
