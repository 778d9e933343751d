"""Use cases of the Orchestrator, as plain functions over injected dependencies."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta

from services.orchestrator import chair as chair_step
from services.orchestrator import deliberation as engine
from services.orchestrator.adapters.ray_jobs import RayJobs
from services.orchestrator.adapters.state_kv import CouncilStore, DeliberationStore
from services.orchestrator.domain.council import AgentSpec, Council, Role, default_council
from services.orchestrator.domain.errors import ValidationError
from services.orchestrator.domain.llm import LLMPort
from services.orchestrator.domain.model import (
    DeliberationRequest,
    DeliberationResult,
    OrchestrationResult,
)
from services.orchestrator.domain.tracking import DeliberationRecord, State, deliberation_id, now, supersedes
from services.orchestrator.outcomes import Publish, final_event, header, settle, transition
from services.shared import events

log = logging.getLogger(__name__)


class NotFound(LookupError):
    pass


class AlreadyExists(LookupError):
    pass


@dataclass
class Deps:
    llm: LLMPort
    councils: CouncilStore
    deliberations: DeliberationStore
    jobs: RayJobs
    publish: Publish
    deadline_s: float = 600.0
    started_at: float = field(default_factory=time.monotonic)


# Councils -------------------------------------------------------------------
async def ensure_default_councils(deps: Deps) -> list[Council]:
    """Create a default council for every role that has none (idempotent across replicas)."""
    created = [default_council(role) for role in Role]
    return [c for c in created if await deps.councils.create(c)]


async def create_council(deps: Deps, role: Role, num_agents: int, agents: list[AgentSpec]) -> Council:
    council = Council(role=role, agents=tuple(agents)) if agents else default_council(role, num_agents)
    if not await deps.councils.create(council):
        raise AlreadyExists(f"role {role.value} already has a council")
    return council


async def council_of(deps: Deps, role: Role) -> Council:
    council = await deps.councils.get(role)
    if council is None:
        raise NotFound(f"no council for role {role.value}")
    return council


async def delete_council(deps: Deps, role: Role) -> bool:
    if not await deps.councils.delete(role):
        raise NotFound(f"no council for role {role.value}")
    return True


async def register_agent(deps: Deps, role: Role, agent: AgentSpec) -> Council:
    council = (await council_of(deps, role)).with_agent(agent)
    await deps.councils.put(council)
    return council


async def unregister_agent(deps: Deps, role: Role, agent_id: str) -> Council:
    council = (await council_of(deps, role)).without_agent(agent_id)
    if not council.agents:
        raise ValidationError("agent_id", "a council keeps at least one agent; delete the council instead")
    await deps.councils.put(council)
    return council


# Synchronous deliberation ---------------------------------------------------
async def deliberate(
    deps: Deps, request: DeliberationRequest, on_event: engine.OnEvent | None = None
) -> DeliberationResult:
    council = await deps.councils.get(request.role)
    return await engine.deliberate(deps.llm, request, council, on_event=on_event)


async def orchestrate(
    deps: Deps, request: DeliberationRequest, chair: Role = Role.ARCHITECT
) -> OrchestrationResult:
    chair_council = await deps.councils.get(chair) or default_council(chair)
    council = await deps.councils.get(request.role)
    return await chair_step.orchestrate(deps.llm, request, council, chair=chair_council.agents[0])


# Deliberations as Ray jobs --------------------------------------------------
async def start_job(deps: Deps, record: DeliberationRecord) -> DeliberationRecord:
    """Record the deliberation, then submit exactly one Ray job for it."""
    record = record.model_copy(update={"deadline_at": now() + timedelta(seconds=deps.deadline_s)})
    if not await deps.deliberations.create(record):
        stored = await deps.deliberations.get(record.deliberation_id)
        assert stored is not None
        record = stored
    if not record.terminal:
        await deps.jobs.submit(record.deliberation_id)
    return record


async def deliberate_async(deps: Deps, request: DeliberationRequest) -> DeliberationRecord:
    await council_of(deps, request.role)
    record = DeliberationRecord(deliberation_id=request.deliberation_id, role=request.role, request=request)
    return await start_job(deps, record)


async def dispatch_plan(deps: Deps, event: events.PlanApproved) -> None:
    """One deliberation per role of an approved plan. Safe to run again for the same event."""
    for wire_role in event.roles:
        role = wire_role
        did = deliberation_id(event.story_id, event.plan_id, event.plan_version, role)
        request = DeliberationRequest(
            task="\n\n".join(filter(None, [event.title, event.description]))
            or f"Plan {event.plan_id} for story {event.story_id}",
            role=role, constraints=event.acceptance_criteria, deliberation_id=did,
        )
        record = DeliberationRecord(
            deliberation_id=did, role=role, request=request, story_id=event.story_id,
            plan_id=event.plan_id, plan_version=event.plan_version,
        )
        if await deps.councils.get(role) is None:
            await deps.publish(events.DeliberationFailed(**header(record), reason=f"no council for role {role.value}"))
            continue
        active = await deps.deliberations.active(event.story_id, role)
        if active and active.deliberation_id != did:
            if active.plan_version > event.plan_version:
                log.info("stale plan version ignored", extra={"deliberation_id": did})
                continue
            if supersedes(event.plan_version, active):
                await cancel(deps, active.deliberation_id, f"superseded by plan version {event.plan_version}")
        await start_job(deps, record)


async def record_outcome(deps: Deps, event: events.DeliberationEvent) -> None:
    """Move the stored record along as the job reports; terminal states are final. The job
    records its own events before publishing them, so this catches up only after a crash."""
    record = await deps.deliberations.get(event.deliberation_id)
    if record is None or (moved := transition(record, event)) == record:
        return
    if await deps.deliberations.save(moved) and moved.terminal:
        await deps.deliberations.unlist(record.deliberation_id)  # the event is out: we consumed it


async def get_deliberation(deps: Deps, did: str) -> DeliberationRecord:
    record = await deps.deliberations.get(did)
    if record is None:
        raise NotFound(f"no deliberation {did!r}")
    return record


async def cancel(deps: Deps, did: str, reason: str) -> DeliberationRecord:
    record = await get_deliberation(deps, did)
    await _finish(deps, record, events.DeliberationCancelled(**header(record), reason=reason or "cancelled by request"))
    return await get_deliberation(deps, did)


async def housekeep(deps: Deps) -> None:
    """One read of the open index serves all three sweeps; each re-checks what it acts on."""
    listed = await deps.deliberations.listed()
    await announce_unannounced(deps, listed)
    await reap_expired(deps, listed)
    await reconcile_jobs(deps, listed)


async def reap_expired(deps: Deps, listed: list[DeliberationRecord]) -> list[str]:
    """Fail what outlived its deadline, so every deliberation reaches a terminal state."""
    at = now()
    expired = [r for r in listed if r.expired(at)]
    for record in expired:
        reason = f"deadline of {deps.deadline_s:.0f}s exceeded"
        await _finish(deps, record, events.DeliberationFailed(**header(record), reason=reason))
    return [r.deliberation_id for r in expired]


async def reconcile_jobs(deps: Deps, listed: list[DeliberationRecord]) -> list[str]:
    """Fail deliberations whose Ray job ended without reporting (e.g. the driver crashed)."""
    ended = []
    for record in listed:
        young = (now() - record.created_at).total_seconds() < 30
        if record.terminal or (record.state == State.PENDING and young):
            continue
        job = await deps.jobs.status(record.deliberation_id)
        if job is not None and job.is_terminal():
            # A job stores its final state before it exits, so a record still open now was orphaned;
            # re-read it, as the job may have finished since the scan.
            fresh = await deps.deliberations.get(record.deliberation_id)
            if fresh and not fresh.terminal:
                reason = f"Ray job ended as {job.value} without a result"
                await _finish(deps, fresh, events.DeliberationFailed(**header(fresh), reason=reason))
                ended.append(record.deliberation_id)
    return ended


async def announce_unannounced(deps: Deps, listed: list[DeliberationRecord]) -> list[str]:
    """Publish the final event of records stored as final whose publisher died before telling
    anyone. Event ids are deterministic, so one that did get out is dropped as a duplicate."""
    announced = []
    for record in listed:
        if record.terminal:
            await deps.publish(final_event(record))
            await deps.deliberations.unlist(record.deliberation_id)
            announced.append(record.deliberation_id)
    return announced


async def _finish(deps: Deps, record: DeliberationRecord, event: events.DeliberationEvent) -> None:
    if not record.terminal:
        await deps.jobs.stop(record.deliberation_id)
        await settle(deps.deliberations, deps.publish, record, event)


@dataclass
class Status:
    uptime_s: float
    councils: int
    deliberations_by_state: dict[str, int]


async def status(deps: Deps) -> Status:
    by_state = {s.value: 0 for s in State}
    for record in await deps.deliberations.all():
        by_state[record.state.value] += 1
    return Status(time.monotonic() - deps.started_at, len(await deps.councils.all()), by_state)
