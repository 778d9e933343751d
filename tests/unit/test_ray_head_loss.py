"""A Ray head that dies and comes back: what never started is submitted again under the same id,
what was running ends FAILED saying its job was lost, and nothing waits on an unreachable Ray
(reconciliation.decide, then the handlers and housekeeping over the fakes); and ended jobs pruned
from Ray once past their retention."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.orchestrator import handlers, housekeeping, queries
from services.orchestrator.domain.council import Role
from services.orchestrator.domain.model import DeliberationRequest
from services.orchestrator.domain.reconciliation import (
    LOST,
    SUBMIT_GRACE_S,
    Decision,
    JobView,
    Nodes,
    Step,
    decide,
)
from services.orchestrator.domain.tracking import DeliberationRecord, JobState, State
from services.shared import events
from services.shared.clock import utcnow
from tests.fakes import FakeJobs, FakeLease, Published, orchestrator_deps

T0 = utcnow()
LATER = T0 + timedelta(seconds=SUBMIT_GRACE_S + 1)
# What Ray (with GCS fault tolerance) says of a job whose supervisor died with the head.
DIED = JobView(JobState.FAILED, None, "JOB_SUPERVISOR_ACTOR_DIED", "Job supervisor actor died: node died")


def admitted(state: State) -> DeliberationRecord:
    return DeliberationRecord(
        deliberation_id="dlb-1", role=Role.DEV, state=state, request=DeliberationRequest(task="t", role=Role.DEV),
        created_at=T0, admitted_at=T0,
    )


@pytest.mark.parametrize(("job", "step"), [
    (None, Step.SUBMIT),  # the head restarted without its job records, or the submit never got through
    (DIED, Step.REPLACE),  # the job died with the head before its driver ran
    (JobView(JobState.FAILED, None, "JOB_SUPERVISOR_ACTOR_START_TIMEOUT"), Step.REPLACE),
    (JobView(JobState.FAILED, None, "RUNTIME_ENV_SETUP_FAILURE"), Step.FAIL),  # would fail again
    (JobView(JobState.PENDING), Step.WAIT),
    (JobView(JobState.RUNNING), Step.WAIT),  # the driver is up and about to store RUNNING
    (JobView(JobState.FAILED, 1, "JOB_ENTRYPOINT_COMMAND_ERROR"), Step.FAIL),  # a driver that crashes would again
])
def test_a_deliberation_that_never_started_is_submitted_again(job: JobView | None, step: Step) -> None:
    assert decide(admitted(State.PENDING), job, LATER).step == step


def test_a_deliberation_just_admitted_is_left_to_its_admitter() -> None:
    assert decide(admitted(State.PENDING), None, T0 + timedelta(seconds=1)).step == Step.WAIT


# Ray 2.60 with GCS fault tolerance, once a submission makes the restarted head recover its jobs.
RECOVERED = JobView(JobState.FAILED, None, "JOB_SUPERVISOR_ACTOR_START_FAILURE",
                    "Unexpected error occurred: failed to get job supervisor.")


@pytest.mark.parametrize("job", [None, DIED, RECOVERED])
def test_a_running_deliberation_whose_job_was_lost_fails_saying_so(job: JobView | None) -> None:
    decision = decide(admitted(State.RUNNING), job, T0 + timedelta(seconds=1))
    assert decision.step == Step.FAIL and decision.reason.startswith(f"{LOST}: ")


def test_a_job_whose_driver_exited_without_a_result_is_not_called_lost() -> None:
    decision = decide(admitted(State.RUNNING), JobView(JobState.FAILED, 1, "JOB_ENTRYPOINT_COMMAND_ERROR"), T0)
    assert decision == decide(admitted(State.PENDING), JobView(JobState.FAILED, 1), LATER)
    assert decision.reason == "Ray job ended as FAILED without a result"
    assert decide(admitted(State.RUNNING), JobView(JobState.RUNNING), LATER).step == Step.WAIT


# Ray 2.60 with GCS fault tolerance right after a head restart, before anything makes its job
# manager re-check: the lost jobs still read RUNNING (driver on the old head) and PENDING.
OLD_HEAD, NEW_HEAD, WORKER = "a" * 56, "b" * 56, "c" * 56
RESTARTED = Nodes(alive=frozenset({NEW_HEAD, WORKER}), dead_heads=frozenset({OLD_HEAD}), head_started_ms=2_000)
ON_OLD_HEAD = JobView(JobState.RUNNING, driver_node_id=OLD_HEAD, submitted_ms=1_000)
WAITING_ON_OLD_HEAD = JobView(JobState.PENDING, submitted_ms=1_000)


def test_a_running_deliberation_whose_driver_node_is_gone_fails_at_once() -> None:
    decision = decide(admitted(State.RUNNING), ON_OLD_HEAD, T0 + timedelta(seconds=1), RESTARTED)
    assert decision == Decision(Step.FAIL, f"{LOST}: its driver's node {OLD_HEAD} is gone (the Ray head restarted)")
    on_dead_worker = Nodes(alive=frozenset({NEW_HEAD}), head_started_ms=2_000)
    job = JobView(JobState.RUNNING, driver_node_id=WORKER, submitted_ms=3_000)
    assert decide(admitted(State.RUNNING), job, T0, on_dead_worker).reason.endswith("is gone (the node died)")


@pytest.mark.parametrize("job", [
    JobView(JobState.RUNNING, driver_node_id=WORKER, submitted_ms=1_000),  # a worker's driver outlives the head
    JobView(JobState.RUNNING, driver_node_id=NEW_HEAD, submitted_ms=3_000),
    JobView(JobState.PENDING, submitted_ms=3_000),  # submitted to the live head: waits for a CPU
    JobView(JobState.PENDING),
])
def test_a_job_on_a_live_node_or_live_head_keeps_running(job: JobView) -> None:
    for state in (State.RUNNING, State.PENDING):
        assert decide(admitted(state), job, LATER, RESTARTED).step == Step.WAIT


@pytest.mark.parametrize("job", [WAITING_ON_OLD_HEAD, ON_OLD_HEAD])
def test_a_never_started_deliberation_whose_job_ray_still_holds_has_ray_end_it_then_runs_again(job: JobView) -> None:
    # Ray refuses to delete a job it reads as not ended, so its job manager is asked to act first.
    first = decide(admitted(State.PENDING), job, LATER, RESTARTED)
    assert first.step == Step.RECHECK and first.reason
    assert decide(admitted(State.PENDING), job, T0 + timedelta(seconds=1), RESTARTED).step == Step.WAIT
    assert decide(admitted(State.PENDING), job, LATER).step == Step.WAIT, "without the node table, nothing is known"
    assert decide(admitted(State.PENDING), RECOVERED, LATER, RESTARTED).step == Step.REPLACE


async def test_housekeeping_reads_the_node_table_once_and_acts_on_each_lost_job() -> None:
    d = orchestrator_deps(Role.DEV, max_running=3)
    jobs = d.jobs
    assert isinstance(jobs, FakeJobs)
    for n in range(3):
        await handlers.deliberate_async(d, DeliberationRequest(task="t", role=Role.DEV, deliberation_id=f"d{n}"))
    await d.deliberations.save((await queries.get_deliberation(d, "d0")).moved_to(State.RUNNING))
    for record in await d.deliberations.records_in_open_index():  # past the admitter's grace
        await d.deliberations.save(record.model_copy(update={"admitted_at": T0 - timedelta(minutes=5)}))
    jobs.jobs = {"d0": ON_OLD_HEAD, "d1": WAITING_ON_OLD_HEAD, "d2": JobView(JobState.PENDING, submitted_ms=3_000)}
    jobs.node_table, jobs.node_reads = RESTARTED, 0
    assert await housekeeping.reconcile_jobs(d, await d.deliberations.records_in_open_index()) == ["d0"]
    assert jobs.node_reads == 1
    assert (await queries.get_deliberation(d, "d0")).reason.startswith(f"{LOST}: its driver's node ")
    assert "d1" in jobs.stopped and "d2" not in jobs.stopped, "d1 never started and is lost; d2 waits for a CPU"
    assert [(await queries.get_deliberation(d, did)).state for did in ("d1", "d2")] == [State.PENDING] * 2


async def test_with_ray_down_nothing_is_lost_and_after_it_returns_each_ends_once() -> None:
    d = orchestrator_deps(Role.DEV, max_running=2)
    jobs, published = d.jobs, d.publish
    assert isinstance(jobs, FakeJobs) and isinstance(published, Published)
    for n in range(4):
        await handlers.deliberate_async(d, DeliberationRequest(task="t", role=Role.DEV, deliberation_id=f"d{n}"))
    assert jobs.submitted == ["d0", "d1"]
    # d0 started; d1's driver never ran. Then the head dies, with every job it held.
    await d.deliberations.save((await queries.get_deliberation(d, "d0")).moved_to(State.RUNNING))
    jobs.down = True
    await handlers.cancel(d, "d2", "no longer wanted")  # a queued one: Ray is not asked
    open_records = await d.deliberations.records_in_open_index()
    assert await housekeeping.reconcile_jobs(d, open_records) == []
    await housekeeping.housekeep(d)  # neither crashes nor moves anything while Ray is down
    states = {did: (await queries.get_deliberation(d, did)).state for did in ("d0", "d1", "d3")}
    assert states == {"d0": State.RUNNING, "d1": State.PENDING, "d3": State.QUEUED}

    jobs.down, jobs.jobs = False, {}  # back, without the jobs it had
    for record in await d.deliberations.records_in_open_index():  # past the admitter's grace
        await d.deliberations.save(record.model_copy(update={"admitted_at": T0 - timedelta(minutes=5)}))
    assert await housekeeping.reconcile_jobs(d, await d.deliberations.records_in_open_index()) == ["d0"]
    lost = await queries.get_deliberation(d, "d0")
    assert lost.state == State.FAILED and lost.reason.startswith(f"{LOST}: ")
    assert jobs.submitted == ["d0", "d1", "d1"], "d1 again, under its own id"
    assert (await queries.get_deliberation(d, "d1")).state == State.PENDING
    await handlers.admit(d)  # d0's slot goes to d3
    assert jobs.submitted[-1] == "d3"
    failed = published.of(events.DeliberationFailed)
    assert [e.deliberation_id for e in failed] == ["d0"]


async def test_a_deliberation_admitted_while_ray_is_down_is_submitted_once_it_answers() -> None:
    d = orchestrator_deps(Role.DEV, max_running=2)
    jobs = d.jobs
    assert isinstance(jobs, FakeJobs)
    jobs.down = True
    for n in range(3):
        await handlers.deliberate_async(d, DeliberationRequest(task="t", role=Role.DEV, deliberation_id=f"d{n}"))
    states = [(await queries.get_deliberation(d, f"d{n}")).state for n in range(3)]
    assert states == [State.PENDING, State.PENDING, State.QUEUED], "admitted within the budget, not submitted"
    assert jobs.submitted == []
    jobs.down = False
    for n in range(2):  # past the admitter's grace
        record = await queries.get_deliberation(d, f"d{n}")
        await d.deliberations.save(record.model_copy(update={"admitted_at": T0 - timedelta(minutes=5)}))
    await housekeeping.housekeep(d)
    assert jobs.submitted == ["d0", "d1"]


async def test_a_deadline_ends_a_deliberation_while_ray_is_down() -> None:
    d = orchestrator_deps(Role.DEV)
    jobs = d.jobs
    assert isinstance(jobs, FakeJobs)
    await handlers.deliberate_async(d, DeliberationRequest(task="t", role=Role.DEV, deliberation_id="d0"))
    record = await queries.get_deliberation(d, "d0")
    await d.deliberations.save(record.model_copy(update={"deadline_at": T0 - timedelta(seconds=1)}))
    jobs.down = True
    assert await housekeeping.reap_expired(d, await d.deliberations.records_in_open_index()) == ["d0"]
    assert (await queries.get_deliberation(d, "d0")).state == State.FAILED


async def test_a_job_of_a_deliberation_started_before_does_not_run_the_council_again() -> None:
    d = orchestrator_deps(Role.DEV)
    await handlers.deliberate_async(d, DeliberationRequest(task="t", role=Role.DEV, deliberation_id="d0"))
    await d.deliberations.save((await queries.get_deliberation(d, "d0")).moved_to(State.RUNNING))
    assert await handlers.run_deliberation_job(d, "d0") is None
    assert isinstance(d.publish, Published)
    assert not d.publish.of(events.DeliberationStarted)


def _ended(minutes_ago: float, state: JobState = JobState.SUCCEEDED) -> JobView:
    return JobView(state, 0, ended_ms=int((utcnow() - timedelta(minutes=minutes_ago)).timestamp() * 1000))


async def test_ended_jobs_are_deleted_once_past_their_retention_and_not_before() -> None:
    deps = orchestrator_deps(Role.DEV)
    deps.job_retention_s = 3600
    jobs = deps.jobs
    assert isinstance(jobs, FakeJobs)
    jobs.jobs = {
        "old-done": _ended(90), "old-failed": _ended(61, JobState.FAILED), "old-stopped": _ended(120, JobState.STOPPED),
        "recent": _ended(10), "running": JobView(JobState.RUNNING), "old-but-open": _ended(90, JobState.FAILED),
    }
    still_open = admitted(State.RUNNING).model_copy(update={"deliberation_id": "old-but-open"})
    assert sorted(await housekeeping.prune_ended_jobs(deps, [still_open])) == ["old-done", "old-failed", "old-stopped"]
    assert sorted(jobs.jobs) == ["old-but-open", "recent", "running"]  # reconcile_jobs judges the open one
    jobs.jobs["another-old"] = _ended(90)
    assert await housekeeping.prune_ended_jobs(deps, []) == []  # listing every job waits a minute
    deps.jobs_pruned_at -= 61
    assert sorted(await housekeeping.prune_ended_jobs(deps, [])) == ["another-old", "old-but-open"]


async def test_ended_jobs_are_kept_with_no_retention_off_the_lease_and_while_ray_is_down() -> None:
    deps = orchestrator_deps(Role.DEV)
    jobs = deps.jobs
    assert isinstance(jobs, FakeJobs)
    jobs.jobs = {"old": _ended(600)}
    deps.job_retention_s = 0
    assert await housekeeping.prune_ended_jobs(deps, []) == []  # 0: keep every job
    deps.job_retention_s = 60
    deps.lease = FakeLease(held=False)
    assert await housekeeping.prune_ended_jobs(deps, []) == []  # another replica prunes
    deps.lease = FakeLease()
    jobs.down = True
    assert await housekeeping.prune_ended_jobs(deps, []) == []  # no answer: a later cycle
    jobs.down = False
    deps.jobs_pruned_at = float("-inf")
    assert await housekeeping.prune_ended_jobs(deps, []) == ["old"]
