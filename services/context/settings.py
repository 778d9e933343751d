"""The Context service's settings, read from environment variables.

Field names are the lower-case environment variable names listed in
ARCHITECTURE.md; tests/unit/test_deploy_env.py checks the manifests against them.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import Field, SecretStr, field_validator

from services.shared.settings import CommonSettings


class ContextSettings(CommonSettings):
    neo4j_uri: str = "bolt://127.0.0.1:7687"
    neo4j_user: str = "neo4j"
    neo4j_password: SecretStr = SecretStr("conclave-dev-password")
    valkey_url: str = "redis://127.0.0.1:6379/0"
    context_cache_ttl_s: int = Field(default=300, ge=1)
    # Token budgets are counted with the vocabulary of the model the councils use: the first
    # key of TOKENIZER_VOCABULARIES (JSON) that the model's name starts with, else cl100k_base.
    vllm_model: str = "conclave-sim"
    tokenizer_vocabularies: dict[str, str] = Field(
        default_factory=lambda: {
            "llama-3": "llama3", "llama3": "llama3", "meta-llama-3": "llama3",
            "qwen2": "qwen3", "qwen3": "qwen3", "gpt-4o": "o200k_base", "gpt-oss": "o200k_harmony",
            "gpt-4": "cl100k_base", "gpt-3.5": "cl100k_base",
        }
    )  # fmt: skip

    @field_validator("tokenizer_vocabularies", mode="before")
    @classmethod
    def _json_table(cls, value: Any) -> Any:
        # The environment's JSON text, also when validated from plain values (manifests, tests).
        return json.loads(value) if isinstance(value, str) else value
