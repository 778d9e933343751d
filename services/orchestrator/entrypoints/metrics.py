"""The Orchestrator's dispatch metrics: gauges refreshed from the open index once per housekeeping
cycle, and counters of the deliberation events its outcome consumer takes in."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from services.orchestrator.domain.admission import Budget
from services.orchestrator.domain.llm import LLMStatus
from services.orchestrator.domain.tracking import DeliberationRecord, State
from services.orchestrator.queries import QueueView
from services.shared import events

QUEUE_DEPTH = Gauge("conclave_deliberations_queued", "Deliberations waiting for admission")
ADMITTED = Gauge("conclave_deliberations_admitted", "Deliberations holding a Ray job (admitted or running)")
OLDEST_WAIT = Gauge("conclave_queue_oldest_wait_seconds", "How long the oldest queued deliberation has waited")
BUDGET = Gauge("conclave_admission_budget", "Deliberations admitted into Ray at once, across replicas")
MODEL_BUDGET = Gauge("conclave_model_budget_in_flight", "Model requests in flight allowed across all jobs")
PER_JOB = Gauge("conclave_model_in_flight_per_job", "Model requests in flight allowed per Ray job")
# Every replica reads the same open index, so across replicas take max(), not sum().
OPEN = Gauge("conclave_deliberations_open", "Open deliberations by state (QUEUED, PENDING, RUNNING)", ["state"])
# One durable consumer shared by the replicas takes each event once, so these sum across replicas.
TRANSITIONS = Counter(
    "conclave_deliberation_transitions_total", "Deliberation life-cycle events taken in, by the state entered",
    ["state", "role"],
)
TIME_TO_DECISION = Histogram(
    "conclave_deliberation_time_to_decision_seconds",
    "From queueing (the plan's approval, or DeliberateAsync) to the completed event, by role",
    ["role"],
    buckets=(5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800),
)
MODEL_READY = Gauge("conclave_model_server_ready", "1 when the model server at VLLM_URL lists the configured model")
MODEL_REACHABLE = Gauge("conclave_model_server_reachable", "1 when the model server at VLLM_URL answers at all")
ENTERED = {
    events.DeliberationQueued: State.QUEUED,
    events.DeliberationStarted: State.RUNNING,
    events.DeliberationCompleted: State.COMPLETED,
    events.DeliberationFailed: State.FAILED,
    events.DeliberationCancelled: State.CANCELLED,
}
for _state in ENTERED.values():
    for _role in events.Role:
        TRANSITIONS.labels(_state.value, _role.value)


def observe(view: QueueView, budget: Budget) -> None:
    QUEUE_DEPTH.set(len(view.queued))
    ADMITTED.set(len(view.admitted))
    OLDEST_WAIT.set(view.oldest_wait_s)
    BUDGET.set(budget.max_running)
    MODEL_BUDGET.set(budget.model_max_in_flight)
    PER_JOB.set(budget.per_job_in_flight)
    for state in (State.QUEUED, State.PENDING, State.RUNNING):
        OPEN.labels(state.value).set(sum(1 for r in view.open if r.state == state))


def model_server(status: LLMStatus) -> None:
    MODEL_READY.set(1 if status.ready else 0)
    MODEL_REACHABLE.set(1 if status.reachable else 0)


def transition(event: events.DeliberationEvent, record: DeliberationRecord | None) -> None:
    """Count the event; a completion with its record also times the decision."""
    state = ENTERED.get(type(event))
    if state is None:
        return
    TRANSITIONS.labels(state.value, event.role.value).inc()
    if state == State.COMPLETED and record is not None:
        waited = (event.occurred_at - record.created_at).total_seconds()
        TIME_TO_DECISION.labels(event.role.value).observe(max(waited, 0.0))
