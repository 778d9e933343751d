"""Durable pull consumers: each fetched batch is one graph transaction, acked after commit.

Parsing, dead-lettering, nak with back-off and MaxDeliver handling are the shared
runner's (services/shared/jetstream.py); this module only routes a batch of
parsed events to the use case that records them.
"""

from __future__ import annotations

from collections.abc import Sequence

from nats.js.client import JetStreamContext

from services.context import ingest
from services.context.ports import Deps
from services.shared.deadletter import DeadLetters
from services.shared.events import (
    DELIBERATION_EVENTS,
    PLAN_APPROVED,
    STORY_TRANSITIONED,
    DeliberationEvent,
    Event,
    PlanApproved,
    StoryTransitioned,
)
from services.shared.jetstream import BatchHandler, ConsumerSpec, run_consumer
from services.shared.streams import stream_for
from services.shared.supervision import Worker, named

DELIBERATIONS = DELIBERATION_EVENTS


def consumer_specs(batch_size: int = 500, prefix: str = "context") -> tuple[ConsumerSpec, ...]:
    return tuple(
        ConsumerSpec(
            durable=f"{prefix}-{name}",
            subject=subject,
            stream=stream_for(subject.replace(">", "x")).name,
            batch_size=batch_size,
        )
        for name, subject in (
            ("plan-approved", PLAN_APPROVED),
            ("story-transitioned", STORY_TRANSITIONED),
            ("deliberations", DELIBERATIONS),
        )
    )


def batch_handler(deps: Deps) -> BatchHandler:
    async def handle(events: list[Event]) -> None:
        plans = [e for e in events if isinstance(e, PlanApproved)]
        transitions = [e for e in events if isinstance(e, StoryTransitioned)]
        outcomes = [e for e in events if isinstance(e, DeliberationEvent)]
        if plans:
            await ingest.record_plan_approved_batch(deps, plans)
        if transitions:
            await ingest.record_transition_batch(deps, transitions)
        if outcomes:
            await ingest.record_deliberation_outcome_batch(deps, outcomes)

    return handle


def consumer_workers(
    js: JetStreamContext,
    deps: Deps,
    specs: Sequence[ConsumerSpec],
    plan_workers: int = 2,
    letters: DeadLetters | None = None,
) -> list[Worker]:
    """One pull loop per consumer, and `plan_workers` loops sharing the plan-approved
    durable: while one batch commits in Neo4j the next is fetched and parsed. Plan
    approvals are order-free (idempotent MERGEs); transitions keep a single loop."""
    handle = batch_handler(deps)

    def worker(spec: ConsumerSpec, copy: int) -> Worker:
        return named(f"{spec.durable}#{copy}", lambda stop: run_consumer(js, spec, handle, stop, letters))

    workers = []
    for spec in specs:
        copies = plan_workers if spec.subject == PLAN_APPROVED else 1
        workers += [worker(spec, i) for i in range(copies)]
    return workers
