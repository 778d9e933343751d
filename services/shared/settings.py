"""One settings object per service, read from environment variables.

Field names are the lower-case environment variable names listed in
ARCHITECTURE.md; tests/unit/test_deploy_env.py checks the manifests against them.
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", case_sensitive=False)

    nats_url: str = "nats://127.0.0.1:4222"
    grpc_port: int = Field(default=50051, ge=0, le=65535)
    metrics_port: int = Field(default=9101, ge=0, le=65535)
    log_level: str = "INFO"
    # Bounded graceful shutdown: stop pulling, finish in-flight work, then close.
    shutdown_grace_s: float = 10.0


class ContextSettings(CommonSettings):
    neo4j_uri: str = "bolt://127.0.0.1:7687"
    neo4j_user: str = "neo4j"
    neo4j_password: SecretStr = SecretStr("conclave-dev-password")
    valkey_url: str = "redis://127.0.0.1:6379/0"
    context_cache_ttl_s: int = Field(default=300, ge=1)


class OrchestratorSettings(CommonSettings):
    grpc_port: int = Field(default=50052, ge=0, le=65535)
    metrics_port: int = Field(default=9102, ge=0, le=65535)
    valkey_url: str = "redis://127.0.0.1:6379/0"
    ray_address: str = "http://127.0.0.1:8265"
    ray_auth_token: SecretStr = SecretStr("")
    ray_job_num_cpus: float = Field(default=0.25, ge=0)
    ray_job_num_gpus: float = Field(default=0.0, ge=0)
    vllm_url: str = "http://127.0.0.1:8000/v1"
    vllm_model: str = "conclave-sim"
    context_addr: str = "127.0.0.1:50051"
    orchestrator_addr: str = "127.0.0.1:50052"
    default_councils: bool = True
    deliberation_deadline_s: float = Field(default=600.0, gt=0)
