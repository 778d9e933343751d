"""Dispatch rules of the Orchestrator's use cases, over the in-memory fakes of its
ports (the real KV store and Ray are covered by the integration and e2e tests)."""

from __future__ import annotations

import dataclasses

import pytest

from services.orchestrator import handlers, housekeeping, queries
from services.orchestrator.domain.council import Role
from services.orchestrator.domain.lifecycle import transition
from services.orchestrator.domain.tracking import State, deliberation_id
from services.orchestrator.ports import Deps
from services.shared import events
from tests.fakes import FakeJobs, Published, orchestrator_deps


def deps(*roles: Role) -> tuple[Deps, Published, FakeJobs]:
    d = orchestrator_deps(*roles)
    assert isinstance(d.publish, Published) and isinstance(d.jobs, FakeJobs)
    return d, d.publish, d.jobs


def approved(version: int = 1, roles: tuple[Role, ...] = (Role.DEV,)) -> events.PlanApproved:
    return events.PlanApproved(story_id="S", plan_id="P", approved_by="a", roles=list(roles), plan_version=version)


async def test_redelivered_plan_submits_one_job_per_role() -> None:
    d, published, jobs = deps(Role.DEV, Role.QA)
    await handlers.dispatch_plan(d, approved(roles=(Role.DEV, Role.QA)))
    await handlers.dispatch_plan(d, approved(roles=(Role.DEV, Role.QA)))
    assert sorted(jobs.submitted) == sorted(deliberation_id("S", "P", 1, r) for r in (Role.DEV, Role.QA))
    assert [type(e) for e in published] == [events.DeliberationQueued] * 2, "the redelivery announces nothing"


async def test_a_deliberation_stored_but_not_announced_is_announced_when_the_plan_comes_again() -> None:
    d, published, _ = deps(Role.DEV)
    tries = 0

    async def publish_failing_once(event: events.Event) -> None:
        nonlocal tries
        tries += 1
        if tries == 1:
            raise ConnectionError("no stream leader")
        await published(event)

    flaky = dataclasses.replace(d, publish=publish_failing_once)
    with pytest.raises(ConnectionError):
        await handlers.dispatch_plan(flaky, approved())  # the record is stored, its announcement is not
    await handlers.dispatch_plan(flaky, approved())  # the plan redelivered
    [queued] = published.of(events.DeliberationQueued)
    assert queued.event_id == f"{deliberation_id('S', 'P', 1, Role.DEV)}.queued", "same id: JetStream drops a repeat"


async def test_role_without_council_fails_with_a_reason() -> None:
    d, published, jobs = deps(Role.DEV)
    await handlers.dispatch_plan(d, approved(roles=(Role.DEV, Role.DATA)))
    assert [j.split("-")[1] for j in jobs.submitted] == ["dev"]
    [failed] = published.of(events.DeliberationFailed)
    assert isinstance(failed, events.DeliberationFailed) and "no council for role DATA" in failed.reason


async def test_newer_version_cancels_the_older_and_a_late_older_one_never_starts() -> None:
    d, published, jobs = deps(Role.DEV)
    await handlers.dispatch_plan(d, approved(version=1))
    await handlers.dispatch_plan(d, approved(version=2))
    v1, v2 = (deliberation_id("S", "P", v, Role.DEV) for v in (1, 2))
    assert jobs.stopped == [v1] and jobs.submitted == [v1, v2]
    [cancelled] = published.of(events.DeliberationCancelled)
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
    assert (await queries.get_deliberation(d, did)).state == State.RUNNING
    await handlers.record_outcome(d, events.DeliberationFailed(**header, reason="model down"))
    await handlers.record_outcome(d, events.DeliberationStarted(**header))
    record = await queries.get_deliberation(d, did)
    assert (record.state, record.reason) == (State.FAILED, "model down")


async def test_expired_deliberations_fail_and_their_jobs_stop() -> None:
    d, published, jobs = deps(Role.DEV)
    d.deadline_s = 0.0
    await handlers.dispatch_plan(d, approved())
    expired = await housekeeping.reap_expired(d, await d.deliberations.records_in_open_index())
    assert expired == jobs.stopped == [deliberation_id("S", "P", 1, Role.DEV)]
    assert isinstance(published[-1], events.DeliberationFailed) and "deadline" in published[-1].reason


async def test_a_late_job_result_neither_reopens_nor_reannounces_a_cancelled_deliberation() -> None:
    d, published, jobs = deps(Role.DEV)
    await handlers.dispatch_plan(d, approved())
    did = deliberation_id("S", "P", 1, Role.DEV)
    cancelled = await handlers.cancel(d, did, "not needed")
    assert cancelled.state == State.CANCELLED and jobs.stopped == [did]
    record = await queries.get_deliberation(d, did)
    header = {"deliberation_id": did, "story_id": "S", "plan_id": "P", "role": Role.DEV}
    late = events.DeliberationFailed(**header, reason="x")
    assert not await handlers.store_then_announce(d, record, late)
    assert [type(e).__name__ for e in published] == ["DeliberationQueued", "DeliberationCancelled"]
    assert (await queries.get_deliberation(d, did)).reason == "not needed"


async def test_an_event_is_stored_before_it_is_announced() -> None:
    d, _, _ = deps(Role.DEV)
    await handlers.dispatch_plan(d, approved())
    did = deliberation_id("S", "P", 1, Role.DEV)
    seen: list[State] = []

    async def publish(event: events.Event) -> bool:
        seen.append((await queries.get_deliberation(d, did)).state)
        return True

    d.publish = publish
    record = await queries.get_deliberation(d, did)
    header = {"deliberation_id": did, "story_id": "S", "plan_id": "P", "role": Role.DEV}
    assert await handlers.store_then_announce(d, record, events.DeliberationStarted(**header))
    assert await handlers.store_then_announce(d, record, events.DeliberationFailed(**header, reason="r"))
    assert seen == [State.RUNNING, State.FAILED]


async def test_a_final_state_whose_publisher_died_is_announced_once_by_housekeeping() -> None:
    d, published, _ = deps(Role.DEV)
    await handlers.dispatch_plan(d, approved())
    did = deliberation_id("S", "P", 1, Role.DEV)
    record = await queries.get_deliberation(d, did)
    # Stored as completed, then the job died before publishing.
    completed = events.DeliberationCompleted(
        deliberation_id=did, story_id="S", plan_id="P", role=Role.DEV,
        winner=(winner := events.CandidateSummary(agent_id="dev-1", rank=1, score=0.9, proposal="p")),
        candidates=[winner],
    )
    assert await d.deliberations.save(transition(record, completed))
    assert await housekeeping.announce_unannounced(d, await d.deliberations.records_in_open_index()) == [did]
    assert published.of(events.DeliberationCompleted) == [completed]
    assert await housekeeping.announce_unannounced(d, await d.deliberations.records_in_open_index()) == []
    open_records = await d.deliberations.records_in_open_index()
    assert await housekeeping.reap_expired(d, open_records) == []
    assert await housekeeping.reconcile_jobs(d, open_records) == []


async def test_a_plan_seats_the_whole_council_whatever_its_size() -> None:
    d, _, _ = deps()
    await handlers.create_council(d, Role.DEV, 2, [])
    await handlers.dispatch_plan(d, approved())
    record = await queries.get_deliberation(d, deliberation_id("S", "P", 1, Role.DEV))
    assert record.request.num_agents == 2
