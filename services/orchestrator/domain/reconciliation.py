"""What to do about an admitted deliberation whose Ray job may have gone. Pure rules.

A job stores RUNNING in the record before its council starts, so a record still PENDING never
started: submitting its job again (the submission id is the deliberation id) runs it at most
once. A RUNNING record whose job Ray no longer knows, or whose supervisor died without the
driver exiting, lost its run with its node: a Ray head that restarts takes every driver on it,
and a restarted head without GCS fault tolerance forgets every job it had."""

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
class JobView:
    """What Ray says about a deliberation's job."""

    state: JobState
    exit_code: int | None = None
    error_type: str = ""
    message: str = ""

    @property
    def lost(self) -> bool:
        """Ended without its driver ever exiting: it died with its node (or never ran)."""
        return self.state == JobState.FAILED and self.exit_code is None and self.error_type in SUPERVISOR_LOST


class Step(StrEnum):
    WAIT = "wait"
    SUBMIT = "submit"
    # Ray keeps an ended job under the id: delete it, then submit again.
    REPLACE = "replace"
    FAIL = "fail"


@dataclass(frozen=True)
class Decision:
    step: Step
    reason: str = ""


WAIT = Decision(Step.WAIT)


def decide(record: DeliberationRecord, job: JobView | None, at: datetime) -> Decision:
    """`job` is None when Ray knows no job under the deliberation's id."""
    if record.state == State.PENDING:
        if (at - (record.admitted_at or record.created_at)).total_seconds() < SUBMIT_GRACE_S:
            return WAIT
        if job is None:
            return Decision(Step.SUBMIT)
        if not job.state.ended:
            return WAIT
        return Decision(Step.REPLACE) if job.lost else _ended(job)
    if record.state != State.RUNNING:
        return WAIT
    if job is None:
        return Decision(Step.FAIL, f"{LOST}: Ray no longer knows the job (the Ray head restarted)")
    if not job.state.ended:
        return WAIT
    if job.lost:
        return Decision(Step.FAIL, f"{LOST}: its supervisor died with its node or the Ray head ({job.message})")
    return _ended(job)


def _ended(job: JobView) -> Decision:
    return Decision(Step.FAIL, f"Ray job ended as {job.state.value} without a result")
