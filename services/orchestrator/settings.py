"""The Orchestrator's settings, read from environment variables: its own, and those of the
LLM client that it and its Ray jobs use to reach the model server.

Field names are the lower-case environment variable names listed in
ARCHITECTURE.md; tests/unit/test_deploy_env.py checks the manifests against them.
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.shared.settings import CommonSettings


class LLMSettings(BaseSettings):
    """Env names are the field names upper-cased (VLLM_URL, LLM_MAX_IN_FLIGHT, ...)."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", case_sensitive=False)

    vllm_url: str = "http://127.0.0.1:8000/v1"
    vllm_model: str = "conclave-sim"
    vllm_api_key: str = "EMPTY"
    llm_max_in_flight: int = Field(default=16, ge=1)
    llm_connect_timeout_s: float = Field(default=5.0, gt=0)
    llm_first_token_timeout_s: float = Field(default=30.0, gt=0)
    llm_total_timeout_s: float = Field(default=300.0, gt=0)
    llm_max_retries: int = Field(default=3, ge=0)
    llm_ready_timeout_s: float = Field(default=120.0, ge=0)
    llm_backoff_base_s: float = Field(default=0.25, ge=0)
    llm_backoff_max_s: float = Field(default=8.0, ge=0)
    llm_probe_interval_s: float = Field(default=1.0, gt=0)
    # A ceiling on what a small or slow model writes freely: proposals' tokens, and the characters
    # of every free-text field of a structured answer (domain/budgets.within_ceiling). 0: none.
    llm_max_answer_tokens: int = Field(default=0, ge=0)


class OrchestratorSettings(CommonSettings, LLMSettings):
    grpc_port: int = Field(default=50052, ge=0, le=65535)
    metrics_port: int = Field(default=9102, ge=0, le=65535)
    ray_address: str = "http://127.0.0.1:8265"
    ray_auth_token: SecretStr = SecretStr("")
    ray_job_num_cpus: float = Field(default=0.25, ge=0)
    ray_job_num_gpus: float = Field(default=0.0, ge=0)
    # Ray keeps every job it ran until told to forget it, and its dashboard's CPU per job grows with
    # the jobs it holds; an ended job is deleted this long after it ended (its log stays on the node). 0: never.
    ray_job_retention_s: float = Field(default=3600.0, ge=0)
    context_addr: str = "127.0.0.1:50051"
    orchestrator_addr: str = "127.0.0.1:50052"
    default_councils: bool = True
    # How long a Ray job waits for the Context service to record the approved plan.
    plan_wait_s: float = Field(default=60.0, gt=0)
    # Counted from admission: time waiting in the queue has its own, larger bound.
    deliberation_deadline_s: float = Field(default=600.0, gt=0)
    queue_deadline_s: float = Field(default=3600.0, gt=0)
    # The model server's concurrent sequences (vLLM's --max-num-seqs): all Ray jobs together stay within it.
    model_max_in_flight: int = Field(default=16, ge=1)
    # Deliberations holding a Ray job at once, across replicas; 0 derives it as
    # model_max_in_flight // 3 (a default council's parallel stage).
    admission_max_running: int = Field(default=0, ge=0)
    admission_lease_s: float = Field(default=10.0, gt=0)
