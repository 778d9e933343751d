"""The Orchestrator's housekeeping: every deliberation ends, and its end is announced.
One read of the open index per cycle serves all the sweeps; each re-checks what it acts on.
Admission runs last, so slots freed by the sweeps go to the queue in the same cycle."""

from __future__ import annotations

from services.orchestrator.domain.lifecycle import event_fields, final_event
from services.orchestrator.domain.tracking import DeliberationRecord, State
from services.orchestrator.handlers import admit, finish
from services.orchestrator.ports import Deps
from services.shared import events
from services.shared.clock import utcnow


async def housekeep(deps: Deps) -> None:
    open_records = await deps.deliberations.records_in_open_index()
    await announce_unannounced(deps, open_records)
    await reap_expired(deps, open_records)
    await reconcile_jobs(deps, open_records)
    await admit(deps)


async def reap_expired(deps: Deps, open_records: list[DeliberationRecord]) -> list[str]:
    """Fail what outlived its clock, so every deliberation reaches a terminal state: the queue's
    bound for one never admitted, the deliberation's own deadline (from admission) for the rest."""
    at = utcnow()
    expired = [r for r in open_records if r.expired(at)]
    for record in expired:
        if record.state == State.QUEUED:
            reason = (f"never admitted: waited {record.waited_s(at):.0f}s in the queue, longer than its bound "
                      f"of {deps.queue_deadline_s:.0f}s")
        else:
            reason = f"deadline of {deps.deadline_s:.0f}s exceeded"
        await finish(deps, record, events.DeliberationFailed(**event_fields(record), reason=reason))
    return [r.deliberation_id for r in expired]


async def reconcile_jobs(deps: Deps, open_records: list[DeliberationRecord]) -> list[str]:
    """Fail deliberations whose Ray job ended without reporting (e.g. the driver crashed), and
    submit again the job of one admitted by a process that died before submitting it."""
    ended = []
    for record in open_records:
        young = (utcnow() - (record.admitted_at or record.created_at)).total_seconds() < 30
        if not record.admitted or (record.state == State.PENDING and young):
            continue
        job = await deps.jobs.status(record.deliberation_id)
        if job is None and record.state == State.PENDING:
            await deps.jobs.submit(record.deliberation_id)
            continue
        if job is not None and job.ended:
            # A job stores its final state before it exits, so a record still open now was orphaned;
            # re-read it, as the job may have finished since the scan.
            fresh = await deps.deliberations.get(record.deliberation_id)
            if fresh and not fresh.terminal:
                reason = f"Ray job ended as {job.value} without a result"
                await finish(deps, fresh, events.DeliberationFailed(**event_fields(fresh), reason=reason))
                ended.append(record.deliberation_id)
    return ended


async def announce_unannounced(deps: Deps, open_records: list[DeliberationRecord]) -> list[str]:
    """Publish the final event of records stored as final whose publisher died before telling
    anyone. Event ids are deterministic, so one that did get out is dropped as a duplicate."""
    announced = []
    for record in open_records:
        if record.terminal:
            await deps.publish(final_event(record))
            await deps.deliberations.remove_from_open_index(record.deliberation_id)
            announced.append(record.deliberation_id)
    return announced
