"""The project's OpenAI-compatible model simulator (`conclave sim serve`)."""

from pathlib import Path

import httpx

from services.stack.config import StackConfig
from services.stack.servers.base import Health, Launch, Server, base_env, tool


class Simulator(Server):
    name = "simulator"

    def port(self, cfg: StackConfig) -> int:
        return cfg.simulator_port

    def launch(self, cfg: StackConfig, log: Path) -> Launch:
        argv = [
            tool(cfg, "conclave"), "sim", "serve",
            "--port", str(cfg.simulator_port),
            "--model", cfg.simulator_model,
        ]  # fmt: skip
        return Launch(argv, base_env())

    def probe(self, cfg: StackConfig) -> Health:
        base = f"http://127.0.0.1:{cfg.simulator_port}"
        try:
            health = httpx.get(f"{base}/health", timeout=2)
            models = httpx.get(f"{base}/v1/models", timeout=2)
        except httpx.HTTPError as exc:
            return Health(False, detail=str(exc) or type(exc).__name__)
        if health.status_code != 200 or models.status_code != 200:
            return Health(False, detail=f"/health {health.status_code}, /v1/models {models.status_code}")
        ids = [m.get("id", "") for m in models.json().get("data", [])]
        if not ids:
            return Health(False, detail="/v1/models lists no model")
        # The simulator is a stand-in for vLLM; the version column says so.
        return Health(True, version=f"simulator, model {ids[0]}", extra={"model": ids[0]})
