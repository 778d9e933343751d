"""The Orchestrator's composition root: the only place that builds adapters and hands them
to handlers, for the gRPC service and for a deliberation's Ray job alike. What only the
service runs (its gRPC server, consumers and probes) is in entrypoints/service.py, so a
Ray job does not import it."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from functools import partial

from nats.aio.client import Client as NATS

from services.orchestrator import handlers
from services.orchestrator.adapters.context_client import ContextClient
from services.orchestrator.adapters.llm_metrics import LLMMetrics, PrometheusLLMMetrics
from services.orchestrator.adapters.llm_metrics_ray import RayLLMMetrics
from services.orchestrator.adapters.llm_routes import RoutedLLM
from services.orchestrator.adapters.ray_jobs import RayJobs
from services.orchestrator.adapters.sandbox import BwrapSandbox
from services.orchestrator.adapters.state_kv import AdmissionLease, CouncilStore, DeliberationStore
from services.orchestrator.domain.admission import Budget, budget
from services.orchestrator.ports import Deps
from services.orchestrator.settings import OrchestratorSettings
from services.shared import jetstream, tracing

# The settings a Ray job reads back from its environment (see `bootstrap`, which it calls too):
# how to reach NATS, the Context service and the model server.
JOB_ENV = ("nats_url", "nats_replicas", "context_addr", "vllm_url", "vllm_model", "vllm_api_key", "llm_max_in_flight",
           "llm_connect_timeout_s", "llm_first_token_timeout_s", "llm_total_timeout_s", "llm_max_retries",
           "llm_ready_timeout_s", "llm_max_answer_tokens", "plan_wait_s", "log_level")


def job_env(settings: OrchestratorSettings) -> dict[str, str]:
    values = settings.model_dump(include=set(JOB_ENV))
    # A job's share of the model server, so that all admitted jobs together stay within it.
    values["llm_max_in_flight"] = admission_budget(settings).per_job_in_flight
    env = {name.upper(): str(value) for name, value in values.items()}
    # Where the job's spans go, as the service's own do.
    return env | {k: v for k, v in os.environ.items() if k.startswith("OTEL_") or k == tracing.TRACE_FILE_ENV}


def admission_budget(settings: OrchestratorSettings) -> Budget:
    return budget(settings.model_max_in_flight, settings.admission_max_running or None)


@dataclass
class App:
    nc: NATS
    deps: Deps
    llm_metrics: LLMMetrics

    async def close(self) -> None:
        await self.deps.llm.aclose()
        await self.deps.jobs.aclose()
        await self.nc.drain()
        await self.llm_metrics.flush()  # last: every call has been recorded by now


async def bootstrap(settings: OrchestratorSettings) -> App:
    """The service: streams ensured, and a default council for every role that has none."""
    app = await _wire(settings, "conclave-orchestrator", PrometheusLLMMetrics())
    await jetstream.ensure_streams(
        app.nc.jetstream(), duplicate_window_s=settings.nats_duplicate_window_s, replicas=settings.nats_replicas
    )
    if settings.default_councils:
        await handlers.ensure_default_councils(app.deps)
    return app


async def bootstrap_job(settings: OrchestratorSettings, deliberation_id: str) -> App:
    """A deliberation's Ray job: the same handlers over the same adapters; its LLM metrics go
    through Ray's metrics system, since nothing scrapes a job's driver."""
    return await _wire(settings, f"conclave-job-{deliberation_id}", RayLLMMetrics())


async def _wire(settings: OrchestratorSettings, client_name: str, llm_metrics: LLMMetrics) -> App:
    nc = await jetstream.connect(settings.nats_url, client_name)
    js = nc.jetstream()
    deps = Deps(
        llm=RoutedLLM(settings, metrics=llm_metrics),
        councils=await CouncilStore.open(js, settings.nats_replicas),
        deliberations=await DeliberationStore.open(js, settings.nats_replicas),
        jobs=RayJobs(
            settings.ray_address, settings.ray_auth_token.get_secret_value(),
            num_cpus=settings.ray_job_num_cpus, num_gpus=settings.ray_job_num_gpus, env=job_env(settings),
        ),
        context=ContextClient(settings.context_addr, wait_s=settings.plan_wait_s),
        publish=partial(jetstream.publish, js),
        lease=await AdmissionLease.open(
            js, f"{client_name}-{uuid.uuid4().hex[:8]}", settings.admission_lease_s, replicas=settings.nats_replicas
        ),
        budget=admission_budget(settings),
        deadline_s=settings.deliberation_deadline_s,
        queue_deadline_s=settings.queue_deadline_s,
        sandbox=BwrapSandbox(),
        job_retention_s=settings.ray_job_retention_s,
    )
    return App(nc=nc, deps=deps, llm_metrics=llm_metrics)
