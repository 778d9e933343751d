"""The Orchestrator's NATS consumers and its housekeeping loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from nats.js.client import JetStreamContext

from services.orchestrator import handlers, queries
from services.orchestrator.entrypoints import metrics
from services.orchestrator.housekeeping import housekeep
from services.orchestrator.ports import Deps
from services.shared import events, jetstream, streams
from services.shared.deadletter import DeadLetters
from services.shared.supervision import Worker, named

log = logging.getLogger(__name__)

PLANS = jetstream.ConsumerSpec(
    durable="orchestrator-plan-approved",
    subject=events.PLAN_APPROVED,
    stream=streams.stream_for(events.PLAN_APPROVED).name,
    batch_size=16,
)
OUTCOMES = jetstream.ConsumerSpec(
    durable="orchestrator-deliberation-outcomes",
    subject=events.DELIBERATION_EVENTS,
    stream=streams.stream_for(events.DELIBERATION_STARTED).name,
    batch_size=64,
)


async def take_outcome(deps: Deps, event: events.DeliberationEvent) -> None:
    # The record read while recording the event gives the time to decision its start.
    metrics.transition(event, await handlers.record_outcome(deps, event))


def workers(
    js: JetStreamContext,
    deps: Deps,
    housekeeping_s: float = 5.0,
    letters: DeadLetters | None = None,
    model_probe_s: float = 15.0,
) -> list[Worker]:
    def one_by_one(spec: jetstream.ConsumerSpec, handle: Callable[[Any], Awaitable[None]]) -> Worker:
        # Dispatch and outcome handlers are idempotent per event; a batch only saves round trips.
        async def batch(events_: list[events.Event]) -> None:
            for event in events_:
                await handle(event)

        return named(spec.durable, lambda stop: jetstream.run_consumer(js, spec, batch, stop, letters))

    async def housekeeping(stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await housekeep(deps)
                metrics.observe(await queries.queue_view(deps), deps.budget)
            except Exception:
                log.exception("housekeeping failed; will retry")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=housekeeping_s)

    async def model_probe(stop: asyncio.Event) -> None:
        # Its own loop: a model server that does not answer costs a probe timeout, which must not
        # delay admission. Asked even while no call waits, so an alert sees a server that is down.
        while not stop.is_set():
            try:
                metrics.model_server(await deps.llm.probe())
            except Exception:
                log.exception("model server probe failed; will retry")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=model_probe_s)

    return [
        one_by_one(PLANS, lambda e: handlers.dispatch_plan(deps, e)),
        one_by_one(OUTCOMES, lambda e: take_outcome(deps, e)),
        named("housekeeping", housekeeping),
        named("model-probe", model_probe),
    ]
