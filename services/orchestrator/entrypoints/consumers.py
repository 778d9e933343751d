"""The Orchestrator's NATS consumers and its housekeeping loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from nats.js.client import JetStreamContext

from services.orchestrator import handlers
from services.shared import events, jetstream
from services.shared.grpcserver import Worker

log = logging.getLogger(__name__)

PLANS = jetstream.ConsumerSpec(
    durable="orchestrator-plan-approved",
    subject=events.PLAN_APPROVED,
    stream=events.stream_for(events.PLAN_APPROVED).name,
    batch_size=16,
)
OUTCOMES = jetstream.ConsumerSpec(
    durable="orchestrator-deliberation-outcomes",
    subject=events.DELIBERATION_EVENTS,
    stream=events.stream_for(events.DELIBERATION_STARTED).name,
    batch_size=64,
)


def workers(js: JetStreamContext, deps: handlers.Deps, housekeeping_s: float = 5.0) -> list[Worker]:
    async def plans(stop: asyncio.Event) -> None:
        async def handle(batch: list[events.Event]) -> None:
            for event in batch:
                assert isinstance(event, events.PlanApproved)
                await handlers.dispatch_plan(deps, event)

        await jetstream.run_consumer(js, PLANS, handle, stop)

    async def outcomes(stop: asyncio.Event) -> None:
        async def handle(batch: list[events.Event]) -> None:
            for event in batch:
                assert isinstance(event, events.DeliberationEvent)
                await handlers.record_outcome(deps, event)

        await jetstream.run_consumer(js, OUTCOMES, handle, stop)

    async def housekeeping(stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await handlers.reap_expired(deps)
                await handlers.reconcile_jobs(deps)
            except Exception:
                log.exception("housekeeping failed; will retry")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=housekeeping_s)

    return [plans, outcomes, housekeeping]
