"""Simulator configuration: startup settings (env SIM_*) and the runtime knobs.

The runtime knobs (latency and faults) live in their own model because the
admin endpoint replaces them while the server runs; tests depend on that.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.simulator.models import ModelProfile, parse_models


def parse_error_rates(spec: str | dict[int, float] | None) -> dict[int, float]:
    """'503:0.3,429:0.1' -> {503: 0.3, 429: 0.1}; the rates must sum to <= 1."""
    if spec is None or spec == "":
        return {}
    rates: dict[int, float] = {}
    if isinstance(spec, dict):
        rates = {int(k): float(v) for k, v in spec.items()}
    else:
        for part in spec.split(","):
            part = part.strip()
            if not part:
                continue
            code, _, share = part.partition(":")
            rates[int(code)] = float(share)
    for status, rate in rates.items():
        if not 400 <= status <= 599 or not 0.0 <= rate <= 1.0:
            raise ValueError(f"bad error rate {status}:{rate}")
    if sum(rates.values()) > 1.0 + 1e-9:
        raise ValueError("error rates sum to more than 1")
    return rates


class Knobs(BaseModel):
    """Latency and fault injection; every fault is off by default."""

    ttft_ms: float = Field(default=0.0, ge=0)
    tokens_per_s: float = Field(default=0.0, ge=0, description="0 means no pacing")
    error_rates: dict[int, float] = Field(default_factory=dict)
    stall_prob: float = Field(default=0.0, ge=0, le=1)
    stall_s: float = Field(default=30.0, ge=0)
    drop_prob: float = Field(default=0.0, ge=0, le=1)
    malformed_json_prob: float = Field(default=0.0, ge=0, le=1)
    loading_s: float = Field(default=0.0, ge=0)
    seed: int = 0

    @field_validator("error_rates", mode="before")
    @classmethod
    def _rates(cls, value: object) -> dict[int, float]:
        if value is None or isinstance(value, (str, dict)):
            return parse_error_rates(value)
        raise ValueError("error_rates must be 'status:rate,...' or a mapping")


class SimSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SIM_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    model: str = "conclave-sim"
    # More model names served next to `model`, each with its own judging noise (models.py).
    models: str = ""
    ttft_ms: float = 0.0
    tokens_per_s: float = 0.0
    error_rates: str = ""
    stall_prob: float = 0.0
    stall_s: float = 30.0
    drop_prob: float = 0.0
    malformed_json_prob: float = 0.0
    loading_s: float = 0.0
    seed: int = 0

    def knobs(self) -> Knobs:
        return Knobs.model_validate(self.model_dump(exclude={"host", "port", "model", "models"}))

    def served(self) -> dict[str, ModelProfile]:
        return parse_models(self.models, self.model)
