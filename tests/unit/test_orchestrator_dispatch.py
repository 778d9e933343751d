"""Dispatch rules of the Orchestrator's use cases, over in-memory stand-ins for its own
ports (the real KV store and Ray are covered by the integration and e2e tests)."""

from __future__ import annotations

from typing import Any

from services.orchestrator import handlers, outcomes
from services.orchestrator.domain.council import Council, Role, default_council
from services.orchestrator.domain.tracking import DeliberationRecord, State, deliberation_id
from services.shared import events


class Councils:
    def __init__(self, *roles: Role) -> None:
        self.by_role = {r: default_council(r) for r in roles}

    async def get(self, role: Role) -> Council | None:
        return self.by_role.get(role)


class Deliberations:
    def __init__(self) -> None:
        self.records: dict[str, DeliberationRecord] = {}
        self.active_ids: dict[tuple[str, Role], str] = {}
        self.open_ids: set[str] = set()

    async def get(self, did: str) -> DeliberationRecord | None:
        return self.records.get(did)

    async def create(self, record: DeliberationRecord) -> bool:
        if record.deliberation_id in self.records:
            return False
        self.open_ids.add(record.deliberation_id)
        self.records[record.deliberation_id] = record
        self.active_ids[(record.story_id, record.role)] = record.deliberation_id
        return True

    async def save(self, record: DeliberationRecord) -> bool:
        if self.records[record.deliberation_id].terminal:
            return False
        self.records[record.deliberation_id] = record
        return True

    async def active(self, story_id: str, role: Role) -> DeliberationRecord | None:
        did = self.active_ids.get((story_id, role))
        return self.records.get(did) if did else None

    async def all(self) -> list[DeliberationRecord]:
        return list(self.records.values())

    async def listed(self) -> list[DeliberationRecord]:
        return [self.records[did] for did in sorted(self.open_ids)]

    async def unlist(self, did: str) -> None:
        self.open_ids.discard(did)


class Jobs:
    def __init__(self) -> None:
        self.submitted: list[str] = []
        self.stopped: list[str] = []

    async def submit(self, did: str) -> bool:
        if did in self.submitted:
            return False
        self.submitted.append(did)
        return True

    async def stop(self, did: str) -> None:
        self.stopped.append(did)


def deps(*roles: Role) -> tuple[handlers.Deps, list[events.Event], Jobs]:
    published: list[events.Event] = []

    async def publish(event: events.Event) -> bool:
        published.append(event)
        return True

    jobs = Jobs()
    d: Any = handlers.Deps(llm=None, councils=Councils(*roles), deliberations=Deliberations(),  # type: ignore[arg-type]
                           jobs=jobs, publish=publish)  # type: ignore[arg-type]
    return d, published, jobs


def approved(version: int = 1, roles: tuple[Role, ...] = (Role.DEV,)) -> events.PlanApproved:
    return events.PlanApproved(story_id="S", plan_id="P", approved_by="a", roles=list(roles), plan_version=version)


async def test_redelivered_plan_submits_one_job_per_role() -> None:
    d, published, jobs = deps(Role.DEV, Role.QA)
    await handlers.dispatch_plan(d, approved(roles=(Role.DEV, Role.QA)))
    await handlers.dispatch_plan(d, approved(roles=(Role.DEV, Role.QA)))
    assert sorted(jobs.submitted) == sorted(deliberation_id("S", "P", 1, r) for r in (Role.DEV, Role.QA))
    assert not published


async def test_role_without_council_fails_with_a_reason() -> None:
    d, published, jobs = deps(Role.DEV)
    await handlers.dispatch_plan(d, approved(roles=(Role.DEV, Role.DATA)))
    assert [j.split("-")[1] for j in jobs.submitted] == ["dev"]
    [failed] = published
    assert isinstance(failed, events.DeliberationFailed) and "no council for role DATA" in failed.reason


async def test_newer_version_cancels_the_older_and_a_late_older_one_never_starts() -> None:
    d, published, jobs = deps(Role.DEV)
    await handlers.dispatch_plan(d, approved(version=1))
    await handlers.dispatch_plan(d, approved(version=2))
    v1, v2 = (deliberation_id("S", "P", v, Role.DEV) for v in (1, 2))
    assert jobs.stopped == [v1] and jobs.submitted == [v1, v2]
    [cancelled] = published
    assert isinstance(cancelled, events.DeliberationCancelled)
    assert cancelled.deliberation_id == v1 and "superseded by plan version 2" in cancelled.reason
    record = await d.deliberations.get(v1)
    assert record is not None and record.state == State.CANCELLED
    await handlers.dispatch_plan(d, approved(version=1))
    assert jobs.submitted == [v1, v2]


async def test_outcomes_move_records_and_terminal_states_stay() -> None:
    d, _, _ = deps(Role.DEV)
    await handlers.dispatch_plan(d, approved())
    did = deliberation_id("S", "P", 1, Role.DEV)
    header = {"deliberation_id": did, "story_id": "S", "plan_id": "P", "role": Role.DEV}
    await handlers.record_outcome(d, events.DeliberationStarted(**header))
    assert (await handlers.get_deliberation(d, did)).state == State.RUNNING
    await handlers.record_outcome(d, events.DeliberationFailed(**header, reason="model down"))
    await handlers.record_outcome(d, events.DeliberationStarted(**header))
    record = await handlers.get_deliberation(d, did)
    assert (record.state, record.reason) == (State.FAILED, "model down")


async def test_expired_deliberations_fail_and_their_jobs_stop() -> None:
    d, published, jobs = deps(Role.DEV)
    d.deadline_s = 0.0
    await handlers.dispatch_plan(d, approved())
    expired = await handlers.reap_expired(d, await d.deliberations.listed())
    assert expired == jobs.stopped == [deliberation_id("S", "P", 1, Role.DEV)]
    assert isinstance(published[-1], events.DeliberationFailed) and "deadline" in published[-1].reason


async def test_a_late_job_result_neither_reopens_nor_reannounces_a_cancelled_deliberation() -> None:
    d, published, jobs = deps(Role.DEV)
    await handlers.dispatch_plan(d, approved())
    did = deliberation_id("S", "P", 1, Role.DEV)
    cancelled = await handlers.cancel(d, did, "not needed")
    assert cancelled.state == State.CANCELLED and jobs.stopped == [did]
    record = await handlers.get_deliberation(d, did)
    header = {"deliberation_id": did, "story_id": "S", "plan_id": "P", "role": Role.DEV}
    late = events.DeliberationFailed(**header, reason="x")
    assert not await outcomes.settle(d.deliberations, d.publish, record, late)
    assert [type(e).__name__ for e in published] == ["DeliberationCancelled"]
    assert (await handlers.get_deliberation(d, did)).reason == "not needed"


async def test_an_event_is_stored_before_it_is_announced() -> None:
    d, _, _ = deps(Role.DEV)
    await handlers.dispatch_plan(d, approved())
    did = deliberation_id("S", "P", 1, Role.DEV)
    seen: list[State] = []

    async def publish(event: events.Event) -> bool:
        seen.append((await handlers.get_deliberation(d, did)).state)
        return True

    record = await handlers.get_deliberation(d, did)
    header = {"deliberation_id": did, "story_id": "S", "plan_id": "P", "role": Role.DEV}
    assert await outcomes.settle(d.deliberations, publish, record, events.DeliberationStarted(**header))
    assert await outcomes.settle(d.deliberations, publish, record, events.DeliberationFailed(**header, reason="r"))
    assert seen == [State.RUNNING, State.FAILED]


async def test_a_final_state_whose_publisher_died_is_announced_once_by_housekeeping() -> None:
    d, published, _ = deps(Role.DEV)
    await handlers.dispatch_plan(d, approved())
    did = deliberation_id("S", "P", 1, Role.DEV)
    record = await handlers.get_deliberation(d, did)
    # Stored as completed, then the job died before publishing.
    completed = events.DeliberationCompleted(
        deliberation_id=did, story_id="S", plan_id="P", role=Role.DEV,
        winner=(winner := events.CandidateSummary(agent_id="dev-1", rank=1, score=0.9, proposal="p")),
        candidates=[winner],
    )
    assert await d.deliberations.save(outcomes.transition(record, completed))
    assert await handlers.announce_unannounced(d, await d.deliberations.listed()) == [did]
    assert published == [completed]
    assert await handlers.announce_unannounced(d, await d.deliberations.listed()) == []
    listed = await d.deliberations.listed()
    assert await handlers.reap_expired(d, listed) == [] and await handlers.reconcile_jobs(d, listed) == []
