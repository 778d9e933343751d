"""The Orchestrator's housekeeping: every deliberation ends, and its end is announced.
One read of the open index per cycle serves all the sweeps; each re-checks what it acts on.
Admission runs last, so slots freed by the sweeps go to the queue in the same cycle."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from services.orchestrator.domain.errors import Unavailable
from services.orchestrator.domain.lifecycle import event_fields, final_event
from services.orchestrator.domain.reconciliation import Nodes, Step, decide
from services.orchestrator.domain.tracking import DeliberationRecord, State
from services.orchestrator.handlers import admit, finish
from services.orchestrator.ports import Deps
from services.shared import events
from services.shared.clock import utcnow

log = logging.getLogger(__name__)


async def housekeep(deps: Deps) -> None:
    open_records = await deps.deliberations.records_in_open_index()
    await announce_unannounced(deps, open_records)
    await reap_expired(deps, open_records)
    await reconcile_jobs(deps, open_records)
    await admit(deps)
    await prune_ended_jobs(deps, open_records)


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
    """Submit again the job of a deliberation that never started (its job never came, or died
    with the Ray head before its driver ran); fail one whose job ended, or was lost, without a
    result. While Ray does not answer nothing is known: the sweep waits for the next cycle.
    Ray's node table is read once per pass, and only when some deliberation is admitted."""
    ended = []
    nodes: Nodes | None = None
    for record in (r for r in open_records if r.admitted):
        did = record.deliberation_id
        try:
            nodes = nodes or await deps.jobs.nodes()
            decision = decide(record, await deps.jobs.status(did), utcnow(), nodes)
            if decision.step == Step.RECHECK:
                log.warning("Ray job lost before its council started; asking Ray to end it",
                            extra={"deliberation_id": did, "reason": decision.reason})
                await deps.jobs.stop(did)
            if decision.step == Step.REPLACE:
                await deps.jobs.delete(did)
            if decision.step in (Step.SUBMIT, Step.REPLACE):
                await deps.jobs.submit(did)
        except Unavailable as exc:
            log.warning("Ray job API unavailable; reconciling on a later cycle", extra={"error": str(exc)})
            break
        if decision.step == Step.FAIL:
            # Re-read: the job may have stored its final state since the scan.
            fresh = await deps.deliberations.get(did)
            if fresh and not fresh.terminal:
                await finish(deps, fresh, events.DeliberationFailed(**event_fields(fresh), reason=decision.reason))
                ended.append(did)
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


async def prune_ended_jobs(deps: Deps, open_records: list[DeliberationRecord]) -> list[str]:
    """Delete the runner's jobs that ended longer than the retention ago. Listing every job the
    runner holds is not cheap, so this runs on the replica holding the admission lease, at most
    once a minute (or once per tenth of the retention, if that is shorter). A job whose
    deliberation is still open is left for reconcile_jobs to judge: deleted first, it would read
    as never submitted."""
    retention = deps.job_retention_s
    if not retention or time.monotonic() - deps.jobs_pruned_at < min(retention / 10, 60.0):
        return []
    if not await deps.lease.hold():
        return []
    deps.jobs_pruned_at = time.monotonic()
    still_open = {r.deliberation_id for r in open_records}
    pruned = []
    try:
        for did in await deps.jobs.ended_before(utcnow() - timedelta(seconds=retention)):
            if did not in still_open:
                await deps.jobs.delete(did)
                pruned.append(did)
    except Unavailable as exc:
        log.warning("Ray job API unavailable; pruning ended jobs on a later cycle", extra={"error": str(exc)})
    if pruned:
        log.info("deleted ended Ray jobs past their retention", extra={"count": len(pruned)})
    return pruned
