"""The Orchestrator's dispatch metrics, refreshed from the open index once per housekeeping cycle."""

from __future__ import annotations

from prometheus_client import Gauge

from services.orchestrator.domain.admission import Budget
from services.orchestrator.queries import QueueView

QUEUE_DEPTH = Gauge("conclave_deliberations_queued", "Deliberations waiting for admission")
ADMITTED = Gauge("conclave_deliberations_admitted", "Deliberations holding a Ray job (admitted or running)")
OLDEST_WAIT = Gauge("conclave_queue_oldest_wait_seconds", "How long the oldest queued deliberation has waited")
BUDGET = Gauge("conclave_admission_budget", "Deliberations admitted into Ray at once, across replicas")
MODEL_BUDGET = Gauge("conclave_model_budget_in_flight", "Model requests in flight allowed across all jobs")
PER_JOB = Gauge("conclave_model_in_flight_per_job", "Model requests in flight allowed per Ray job")


def observe(view: QueueView, budget: Budget) -> None:
    QUEUE_DEPTH.set(len(view.queued))
    ADMITTED.set(len(view.admitted))
    OLDEST_WAIT.set(view.oldest_wait_s)
    BUDGET.set(budget.max_running)
    MODEL_BUDGET.set(budget.model_max_in_flight)
    PER_JOB.set(budget.per_job_in_flight)
