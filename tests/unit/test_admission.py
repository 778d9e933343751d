"""Admission: the budget's derivation, fair order across stories, the queue's own clock, and
the backlog held by the Orchestrator rather than by Ray (handlers over the fakes)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from services.orchestrator import handlers, housekeeping, queries
from services.orchestrator.domain.admission import budget, to_admit
from services.orchestrator.domain.council import Role
from services.orchestrator.domain.model import DeliberationRequest
from services.orchestrator.domain.tracking import DeliberationRecord, State
from services.shared import events
from services.shared.clock import utcnow
from tests.fakes import FakeDeliberations, FakeJobs, FakeLease, Published, orchestrator_deps

T0 = utcnow()


def queued(story: str, n: int, *, state: State = State.QUEUED) -> DeliberationRecord:
    return DeliberationRecord(
        deliberation_id=f"{story}-{n}", role=Role.DEV, story_id=story, state=state,
        request=DeliberationRequest(task="t", role=Role.DEV), created_at=T0 + timedelta(seconds=n),
    )


def test_the_default_budget_fits_councils_of_three_into_the_model_server() -> None:
    b = budget(16)
    assert (b.max_running, b.per_job_in_flight) == (5, 3)
    assert b.max_running * b.per_job_in_flight <= 16
    assert budget(16, 8).per_job_in_flight == 2 and budget(2, 8).per_job_in_flight == 1


def test_one_huge_story_does_not_starve_the_others() -> None:
    big = [queued("A", n) for n in range(10)]
    late = queued("B", 50)
    chosen = to_admit([*big, late], max_running=3)
    assert [r.deliberation_id for r in chosen] == ["A-0", "B-50", "A-1"]


def test_stories_already_running_wait_behind_those_that_are_not() -> None:
    running = [queued("A", 0, state=State.RUNNING), queued("A", 1, state=State.PENDING)]
    chosen = to_admit([*running, queued("A", 2), queued("B", 3)], max_running=3)
    assert [r.deliberation_id for r in chosen] == ["B-3"]


def test_no_free_slot_admits_nothing() -> None:
    full = [queued("A", n, state=State.RUNNING) for n in range(3)]
    assert to_admit([*full, queued("B", 9)], max_running=3) == []


def plan(story: str) -> events.PlanApproved:
    return events.PlanApproved(story_id=story, plan_id="P", approved_by="a", roles=list(Role))


async def test_the_backlog_stays_with_the_orchestrator_and_a_final_state_frees_a_slot() -> None:
    d = orchestrator_deps(*Role, max_running=4)
    assert isinstance(d.jobs, FakeJobs)
    for story in ("S1", "S2"):
        await handlers.dispatch_plan(d, plan(story))
    assert len(d.jobs.submitted) == 4, "Ray holds no more jobs than the budget"
    states = [r.state for r in await d.deliberations.all()]
    assert states.count(State.QUEUED) == 6 and states.count(State.PENDING) == 4
    # First approved, first served: S1 was alone in the queue when the slots were free.
    assert {(await queries.get_deliberation(d, did)).story_id for did in d.jobs.submitted} == {"S1"}
    first = await queries.get_deliberation(d, d.jobs.submitted[0])
    await handlers.record_outcome(d, events.DeliberationCompleted(
        deliberation_id=first.deliberation_id, story_id=first.story_id, plan_id="P", role=first.role,
        winner=(w := events.CandidateSummary(agent_id="a", rank=1, score=1.0, proposal="p")), candidates=[w],
    ))
    # The freed slot goes to S2, which has nothing running, not to S1's fifth role.
    assert len(d.jobs.submitted) == 5
    assert (await queries.get_deliberation(d, d.jobs.submitted[-1])).story_id == "S2"


async def test_a_replica_without_the_lease_queues_but_does_not_admit() -> None:
    d = orchestrator_deps(Role.DEV)
    d.lease = FakeLease(held=False)
    await handlers.dispatch_plan(d, events.PlanApproved(story_id="S", plan_id="P", approved_by="a", roles=[Role.DEV]))
    assert isinstance(d.jobs, FakeJobs) and d.jobs.submitted == []
    assert [r.state for r in await d.deliberations.all()] == [State.QUEUED]


async def test_cancelling_a_queued_deliberation_never_touches_ray() -> None:
    d = orchestrator_deps(*Role, max_running=1)
    await handlers.dispatch_plan(d, plan("S1"))
    waiting = next(r for r in await d.deliberations.all() if r.state == State.QUEUED)
    assert (await handlers.cancel(d, waiting.deliberation_id, "not needed")).state == State.CANCELLED
    assert isinstance(d.jobs, FakeJobs) and d.jobs.stopped == []


async def test_the_queue_and_the_run_have_separate_clocks() -> None:
    d = orchestrator_deps(Role.DEV, Role.QA, max_running=1)
    d.queue_deadline_s = 0.0
    await handlers.dispatch_plan(d, events.PlanApproved(
        story_id="S", plan_id="P", approved_by="a", roles=[Role.DEV, Role.QA],
    ))
    admitted = next(r for r in await d.deliberations.all() if r.state == State.PENDING)
    assert admitted.admitted_at is not None and admitted.deadline_at is not None
    assert admitted.deadline_at - admitted.admitted_at == timedelta(seconds=d.deadline_s)
    expired = await housekeeping.reap_expired(d, await d.deliberations.records_in_open_index())
    others = [r.deliberation_id for r in await d.deliberations.all() if r.deliberation_id != admitted.deliberation_id]
    assert expired == others
    assert isinstance(d.publish, Published)
    [failed] = d.publish.of(events.DeliberationFailed)
    assert failed.reason.startswith("never admitted: waited") and "in the queue" in failed.reason


class SlowFirstScan(FakeDeliberations):
    """The first scan of the open index answers late, as a busy KV would."""

    def __init__(self) -> None:
        super().__init__()
        self.slow = True

    async def records_in_open_index(self) -> list[DeliberationRecord]:
        scanned = [self.records[did] for did in sorted(self.open_ids)]
        if self.slow:
            self.slow = False
            await asyncio.sleep(0.05)
        return scanned


async def test_concurrent_admission_rounds_never_count_a_slot_twice() -> None:
    d = orchestrator_deps(Role.DEV, max_running=1)
    d.deliberations = SlowFirstScan()
    d.lease = FakeLease(held=False)
    await handlers.dispatch_plan(d, events.PlanApproved(story_id="S1", plan_id="P", approved_by="a", roles=[Role.DEV]))
    d.lease = FakeLease(held=True)
    first = asyncio.create_task(handlers.admit(d))  # its scan is slow and sees S1 alone
    await asyncio.sleep(0)
    # Meanwhile another story arrives and another task (the plan consumer) admits.
    await handlers.enqueue(d, queued("S2", -3600))  # approved earlier: first in line
    await handlers.admit(d)
    await first
    assert isinstance(d.jobs, FakeJobs) and len(d.jobs.submitted) == 1, d.jobs.submitted


class CountedScans(FakeDeliberations):
    """Counts the scans of the open index; each answers late, as a busy KV would."""

    def __init__(self) -> None:
        super().__init__()
        self.scans = 0

    async def records_in_open_index(self) -> list[DeliberationRecord]:
        self.scans += 1
        await asyncio.sleep(0.01)
        return await super().records_in_open_index()


async def test_a_burst_of_admission_requests_costs_two_scans_and_admits_the_same() -> None:
    d = orchestrator_deps(Role.DEV, max_running=3)
    d.deliberations = CountedScans()
    for n in range(6):
        await handlers.enqueue(d, queued(f"S{n}", n))
    # Ten final states arrive at once: the first round runs, one waits, the other eight need no round.
    await asyncio.gather(*(handlers.admit(d) for _ in range(10)))
    assert d.deliberations.scans == 2
    assert isinstance(d.jobs, FakeJobs) and sorted(d.jobs.submitted) == ["S0-0", "S1-1", "S2-2"]
    assert len([r for r in await d.deliberations.records_in_open_index() if r.admitted]) == 3
