"""Use cases of the Orchestrator, as plain functions over injected dependencies (ports.py)."""

from __future__ import annotations

import logging
from datetime import timedelta

from services.orchestrator import chair as chair_step
from services.orchestrator import deliberation as engine
from services.orchestrator import queries
from services.orchestrator.domain.admission import to_admit
from services.orchestrator.domain.council import DEFAULT_NUM_AGENTS, AgentSpec, Council, Role, default_council
from services.orchestrator.domain.errors import AlreadyExists, CouncilFailed, NotFound, Unavailable, ValidationError
from services.orchestrator.domain.lifecycle import agent_event, completed_event, event_fields, transition
from services.orchestrator.domain.model import (
    DeliberationRequest,
    DeliberationResult,
    OrchestrationResult,
    ProgressEvent,
)
from services.orchestrator.domain.tracking import DeliberationRecord, State, deliberation_id, supersedes
from services.orchestrator.execution.reference import dev_winner_code
from services.orchestrator.ports import Deps
from services.orchestrator.session import OnEvent
from services.shared import events, tracing
from services.shared.clock import utcnow

log = logging.getLogger(__name__)


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


async def delete_council(deps: Deps, role: Role) -> bool:
    if not await deps.councils.delete(role):
        raise NotFound(f"no council for role {role.value}")
    return True


async def register_agent(deps: Deps, role: Role, agent: AgentSpec) -> Council:
    council = (await queries.council_of(deps, role)).with_agent(agent)
    await deps.councils.put(council)
    return council


async def unregister_agent(deps: Deps, role: Role, agent_id: str) -> Council:
    council = (await queries.council_of(deps, role)).without_agent(agent_id)
    if not council.agents:
        raise ValidationError("agent_id", "a council keeps at least one agent; delete the council instead")
    await deps.councils.put(council)
    return council


# Synchronous deliberation ---------------------------------------------------
async def deliberate(
    deps: Deps, request: DeliberationRequest, on_event: OnEvent | None = None
) -> DeliberationResult:
    council = await deps.councils.get(request.role)
    return await engine.deliberate(deps.llm, request, council, on_event=on_event, sandbox=deps.sandbox)


async def orchestrate(
    deps: Deps, request: DeliberationRequest, chair: Role = Role.ARCHITECT
) -> OrchestrationResult:
    chair_council = await deps.councils.get(chair) or default_council(chair)
    council = await deps.councils.get(request.role)
    return await chair_step.orchestrate(
        deps.llm, request, council, chair=chair_council.agents[0], sandbox=deps.sandbox
    )


# Deliberations as Ray jobs --------------------------------------------------
async def enqueue(deps: Deps, record: DeliberationRecord) -> DeliberationRecord:
    """Record the deliberation in the backlog and announce it as queued. A duplicate finds the
    stored record: one still queued is announced again, in case the first try stored it but failed
    to publish (the event id is the same, so JetStream drops a repeat); one already admitted gets
    its (idempotent) job submission again, in case the process that admitted it died before submitting."""
    record = record.model_copy(update={
        "state": State.QUEUED, "queue_deadline_at": utcnow() + timedelta(seconds=deps.queue_deadline_s),
        "trace": tracing.inject(),
    })
    if await deps.deliberations.create(record):
        await deps.publish(events.DeliberationQueued(**event_fields(record)))
        return record
    stored = await deps.deliberations.get(record.deliberation_id)
    assert stored is not None
    if stored.state == State.QUEUED:
        await deps.publish(events.DeliberationQueued(**event_fields(stored)))
    elif stored.admitted:
        await submit_or_defer(deps, stored.deliberation_id)
    return stored


async def submit_or_defer(deps: Deps, did: str) -> bool:
    """Submit the job of an admitted deliberation; False when Ray does not answer: the record
    stays PENDING and housekeeping submits it once Ray is back (reconciliation.decide)."""
    try:
        await deps.jobs.submit(did)
    except Unavailable as exc:
        log.warning("Ray job API unavailable; the job will be submitted once it answers",
                    extra={"deliberation_id": did, "error": str(exc)})
        return False
    return True


async def admit(deps: Deps) -> list[str]:
    """Give free slots of the admission budget to queued deliberations, fairly across stories.
    Only the replica holding the admission lease admits, so the budget holds across replicas."""
    rounds = deps.admitting
    if rounds.waiting:
        return []  # the round already waiting starts after this change and will see it
    rounds.waiting += 1
    try:
        await rounds.lock.acquire()
    finally:
        rounds.waiting -= 1
    try:
        if not await deps.lease.hold():
            return []
        chosen = to_admit(await deps.deliberations.records_in_open_index(), deps.budget.max_running)
        admitted = []
        at = utcnow()
        for record in chosen:
            if await deps.deliberations.save(record.admit(at, timedelta(seconds=deps.deadline_s))):
                admitted.append(record.deliberation_id)
                if not await submit_or_defer(deps, record.deliberation_id):
                    break  # admit no more into a Ray that does not answer
        return admitted
    finally:
        rounds.lock.release()


async def deliberate_async(deps: Deps, request: DeliberationRequest) -> DeliberationRecord:
    await queries.council_of(deps, request.role)
    record = await enqueue(deps, DeliberationRecord(
        deliberation_id=request.deliberation_id, role=request.role, request=request,
    ))
    await admit(deps)
    return await queries.get_deliberation(deps, record.deliberation_id)


async def dispatch_plan(deps: Deps, event: events.PlanApproved) -> None:
    """One deliberation per role of an approved plan. Safe to run again for the same event."""
    with tracing.tracer.start_as_current_span("orchestrator.dispatch", attributes={
        "story_id": event.story_id, "plan_id": event.plan_id, "plan_version": event.plan_version,
    }):
        await _dispatch_roles(deps, event)
        await admit(deps)


async def _dispatch_roles(deps: Deps, event: events.PlanApproved) -> None:
    for role in event.roles:
        did = deliberation_id(event.story_id, event.plan_id, event.plan_version, role)
        council = await deps.councils.get(role)
        request = DeliberationRequest(
            task="\n\n".join(filter(None, [event.title, event.description]))
            or f"Plan {event.plan_id} for story {event.story_id}",
            role=role, constraints=event.acceptance_criteria, deliberation_id=did,
            # The whole council sits, whatever its size: a 2-agent council must not fail a default of 3.
            num_agents=len(council.agents) if council else DEFAULT_NUM_AGENTS,
        )
        record = DeliberationRecord(
            deliberation_id=did, role=role, request=request, story_id=event.story_id,
            plan_id=event.plan_id, plan_version=event.plan_version,
        )
        if council is None:
            reason = f"no council for role {role.value}"
            await deps.publish(events.DeliberationFailed(**event_fields(record), reason=reason))
            continue
        active = await deps.deliberations.active(event.story_id, role)
        if active and active.deliberation_id != did:
            if active.plan_version > event.plan_version:
                log.info("stale plan version ignored", extra={"deliberation_id": did})
                continue
            if supersedes(event.plan_version, active):
                await cancel(deps, active.deliberation_id, f"superseded by plan version {event.plan_version}")
        await enqueue(deps, record)


async def record_outcome(deps: Deps, event: events.DeliberationEvent) -> DeliberationRecord | None:
    """Move the stored record along as the job reports; terminal states are final. The job
    records its own events before publishing them, so this catches up only after a crash.
    Returns the record as it was read (None for an unknown deliberation)."""
    record = await deps.deliberations.get(event.deliberation_id)
    if record is None or (moved := transition(record, event)) == record:
        return record
    if await deps.deliberations.save(moved) and moved.terminal:
        await deps.deliberations.remove_from_open_index(record.deliberation_id)  # the event is out: we consumed it
    if moved.terminal:
        await admit(deps)  # its slot is free
    return record


async def cancel(deps: Deps, did: str, reason: str) -> DeliberationRecord:
    record = await queries.get_deliberation(deps, did)
    cancelled = events.DeliberationCancelled(**event_fields(record), reason=reason or "cancelled by request")
    await finish(deps, record, cancelled)
    return await queries.get_deliberation(deps, did)


async def finish(deps: Deps, record: DeliberationRecord, event: events.DeliberationEvent) -> None:
    """End an open deliberation from outside its job: stop the job (a queued one has none),
    then record and announce."""
    if not record.terminal:
        if record.state != State.QUEUED:
            try:
                await deps.jobs.stop(record.deliberation_id)
            except Unavailable as exc:
                # Ends anyway, so a deadline or a cancel holds while Ray is down; a driver that
                # outlives it finds the record final and stores nothing.
                log.warning("Ray job API unavailable; the job was not stopped",
                            extra={"deliberation_id": record.deliberation_id, "error": str(exc)})
        await store_then_announce(deps, record, event)


async def store_then_announce(deps: Deps, record: DeliberationRecord, event: events.DeliberationEvent) -> bool:
    """Store the transition, then announce it, so whoever sees the event finds the record
    already moved. False, and nothing announced, when another final state was stored first:
    a deliberation has one final state and one final event. A final record leaves the open
    index only once its event is out; housekeeping re-announces it if this process dies first."""
    moved = transition(record, event)
    if not await deps.deliberations.save(moved):
        return False
    await deps.publish(event)
    if moved.terminal:
        await deps.deliberations.remove_from_open_index(record.deliberation_id)
    return True


# Inside the Ray job ---------------------------------------------------------
async def run_deliberation_job(deps: Deps, did: str) -> State | None:
    """The whole life of one deliberation's job: started, the council, then completed or failed.
    Returns the final state this job stored, or None when it stored none (e.g. a deliberation
    cancelled before its job came up never starts)."""
    record = await deps.deliberations.get(did)
    if record is None:
        raise NotFound(f"no deliberation {did!r}")
    attributes = {"deliberation_id": did, "story_id": record.story_id, "role": record.role.value}
    with tracing.tracer.start_as_current_span(
        "deliberation.job", context=tracing.extract(record.trace), attributes=attributes
    ):
        return await _run_job(deps, record)


async def _run_job(deps: Deps, record: DeliberationRecord) -> State | None:
    did = record.deliberation_id
    # Only a PENDING record starts: a RUNNING one was started by an earlier job of this id that
    # died (housekeeping fails it as lost), and a deliberation runs its council at most once.
    if record.state != State.PENDING:
        return None
    if not await store_then_announce(deps, record, events.DeliberationStarted(**event_fields(record))):
        return None
    try:
        result = await _deliberate_record(deps, record)
    except Exception as exc:  # whatever stops the council, the deliberation ends with the reason
        expected = isinstance(exc, CouncilFailed | ValidationError | TimeoutError)
        reason = str(exc) if expected else f"{type(exc).__name__}: {exc}"
        if not expected:
            log.exception("deliberation job failed", extra={"deliberation_id": did})
        failed = events.DeliberationFailed(**event_fields(record), reason=reason)
        return State.FAILED if await store_then_announce(deps, record, failed) else None
    completed = await store_then_announce(deps, record, completed_event(record, result))
    return State.COMPLETED if completed else None


async def _deliberate_record(deps: Deps, record: DeliberationRecord) -> DeliberationResult:
    request = record.request
    if record.story_id:
        context = await deps.context.plan_context(record.story_id, record.role, record.plan_id, record.plan_version)
        request = request.model_copy(update={"context": context})
    if not request.reference_code:
        request = request.model_copy(update={"reference_code": await dev_winner_code(deps.deliberations.get, record)})

    async def report(progress: ProgressEvent) -> None:
        event = agent_event(record, progress)
        if event is not None:
            await deps.publish(event)

    council = await deps.councils.get(record.role)
    return await engine.deliberate(deps.llm, request, council, on_event=report, sandbox=deps.sandbox)
