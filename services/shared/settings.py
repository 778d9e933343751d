"""The settings every service shares; each service's own are in its settings.py
(services/context/settings.py, services/orchestrator/settings.py).

Field names are the lower-case environment variable names listed in
ARCHITECTURE.md; tests/unit/test_deploy_env.py checks the manifests against them.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", case_sensitive=False)

    nats_url: str = "nats://127.0.0.1:4222"
    # Replicas of every stream and KV/object bucket: 3 on a three-server NATS cluster.
    nats_replicas: int = Field(default=1, ge=1, le=5)
    grpc_port: int = Field(default=50051, ge=0, le=65535)
    metrics_port: int = Field(default=9101, ge=0, le=65535)
    log_level: str = "INFO"
    # Bounded graceful shutdown: stop pulling, finish in-flight work, then close.
    shutdown_grace_s: float = 10.0
    # A dead letter larger than this keeps its payload in the DEAD_LETTER_PAYLOADS object
    # store; checked at start against the server's max_payload.
    dead_letter_max_inline_bytes: int = Field(default=512 * 1024, ge=1024)
    # Nats-Msg-Id repeats inside this window are dropped by JetStream; later ones reach
    # the idempotent handlers.
    nats_duplicate_window_s: float = Field(default=120.0, gt=0)
