"""What to do about an admitted deliberation whose Ray job may have gone. Pure rules.

A job stores RUNNING in the record before its council starts, so a record still PENDING never
started: submitting its job again (the submission id is the deliberation id) runs it at most
once. A RUNNING record whose job Ray no longer knows, or whose supervisor died without the
driver exiting, lost its run with its node: a Ray head that restarts takes every driver on it,
and a restarted head without GCS fault tolerance forgets every job it had.

With GCS fault tolerance the restarted head keeps the records of the jobs it lost and goes on
reading them RUNNING or PENDING until its job manager re-checks them, which it does only when
asked to act on a job. So Ray's node table decides too: a job whose driver's node is dead is
lost, and one still PENDING that was submitted before the live head started lost its supervisor
(it died with the head that was to start it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from services.orchestrator.domain.tracking import DeliberationRecord, JobState, State

# The admitter submits right after storing PENDING; give it that long before submitting again.
SUBMIT_GRACE_S = 30.0
# Ray's error types for a job whose supervisor vanished rather than ran its driver to an exit. A
# head restarted with GCS fault tolerance reports the jobs it lost this way (START_FAILURE for a
# running one, START_TIMEOUT for one that was waiting, after RAY_JOB_START_TIMEOUT_SECONDS).
SUPERVISOR_LOST = frozenset({
    "JOB_SUPERVISOR_ACTOR_DIED", "JOB_SUPERVISOR_ACTOR_START_FAILURE", "JOB_SUPERVISOR_ACTOR_START_TIMEOUT",
    "JOB_SUPERVISOR_ACTOR_UNKNOWN_FAILURE",
})
LOST = "Ray job lost while running"


@dataclass(frozen=True)
class Nodes:
    """Ray's node table at one moment: read once per reconciliation pass."""

    alive: frozenset[str]
    dead_heads: frozenset[str] = frozenset()
    # When the live head node started, in ms since the epoch (Ray's clock, as job start times).
    head_started_ms: int | None = None


@dataclass(frozen=True)
class JobView:
    """What Ray says about a deliberation's job."""

    state: JobState
    exit_code: int | None = None
    error_type: str = ""
    message: str = ""
    driver_node_id: str = ""
    submitted_ms: int | None = None
    ended_ms: int | None = None

    def gone(self, nodes: Nodes | None) -> str:
        """Why a job Ray still reads as not ended is lost, or "" when it may still run."""
        if nodes is None or self.state.ended:
            return ""
        node = self.driver_node_id
        if node and node not in nodes.alive:
            cause = "the Ray head restarted" if node in nodes.dead_heads else "the node died"
            return f"its driver's node {node} is gone ({cause})"
        started, submitted = nodes.head_started_ms, self.submitted_ms
        if self.state == JobState.PENDING and not node and submitted and started and submitted < started:
            return "its supervisor died with the Ray head it was submitted to"
        return ""

    @property
    def lost(self) -> bool:
        """Ended without its driver ever exiting: it died with its node (or never ran)."""
        return self.state == JobState.FAILED and self.exit_code is None and self.error_type in SUPERVISOR_LOST


class Step(StrEnum):
    WAIT = "wait"
    SUBMIT = "submit"
    # Ray keeps an ended job under the id: delete it, then submit again.
    REPLACE = "replace"
    # Ray still reads a lost job as not ended and holds its id: ask its job manager to act on
    # the job (a stop), which makes a restarted one re-check and end every job it lost.
    RECHECK = "recheck"
    FAIL = "fail"


@dataclass(frozen=True)
class Decision:
    step: Step
    reason: str = ""


WAIT = Decision(Step.WAIT)


def decide(record: DeliberationRecord, job: JobView | None, at: datetime, nodes: Nodes | None = None) -> Decision:
    """`job` is None when Ray knows no job under the deliberation's id; `nodes` None when
    Ray's node table was not read (then only what the job says counts)."""
    if record.state == State.PENDING:
        if (at - (record.admitted_at or record.created_at)).total_seconds() < SUBMIT_GRACE_S:
            return WAIT
        if job is None:
            return Decision(Step.SUBMIT)
        if not job.state.ended:
            # Never started the council: once Ray ends the lost job, it is replaced.
            return Decision(Step.RECHECK, job.gone(nodes)) if job.gone(nodes) else WAIT
        return Decision(Step.REPLACE) if job.lost else _ended(job)
    if record.state != State.RUNNING:
        return WAIT
    if job is None:
        return Decision(Step.FAIL, f"{LOST}: Ray no longer knows the job (the Ray head restarted)")
    if not job.state.ended:
        # The council ran on the dead driver: it is not run twice, however long Ray takes to notice.
        return Decision(Step.FAIL, f"{LOST}: {job.gone(nodes)}") if job.gone(nodes) else WAIT
    if job.lost:
        return Decision(Step.FAIL, f"{LOST}: its supervisor died with its node or the Ray head ({job.message})")
    return _ended(job)


def _ended(job: JobView) -> Decision:
    return Decision(Step.FAIL, f"Ray job ended as {job.state.value} without a result")
