"""pytest plugin (-p tests.realmodel): the session-wide real model server.

`real_model` starts llama.cpp serving the SmolLM2 GGUF through the stack tooling (the same
`llama` server `conclave stack up --model smollm2` runs), reusing one that already runs
healthy. If it cannot start, the tests that need it FAIL with its log; never a skip. The
terminal summary says which server answered which tests: the real model or the simulator.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from services.stack import api
from services.stack.api import StackConfig, StackError

# Tiny on purpose: a 135M model on two shared cores; the tests prove plumbing, not quality.
ANSWER_TOKENS = 32

_ANSWERED_BY: dict[str, str] = {}


@dataclass
class RealModel:
    url: str  # the OpenAI-compatible base, .../v1
    model: str
    version: str
    cfg: StackConfig

    @property
    def base(self) -> str:
        return self.url.removesuffix("/v1")

    def slots(self) -> list[dict[str, Any]]:
        """llama.cpp's own view of its slots (GET /slots)."""
        reply = httpx.get(f"{self.base}/slots", timeout=5)
        reply.raise_for_status()
        return list(reply.json())

    def busy(self) -> int:
        return sum(1 for slot in self.slots() if slot.get("is_processing"))

    def until_idle(self, within_s: float = 30.0) -> int:
        """Busy slots once none are, or after `within_s` (the caller asserts on the count)."""
        deadline = time.monotonic() + within_s
        while (busy := self.busy()) and time.monotonic() < deadline:
            time.sleep(0.1)
        return busy


def real_model_config(base: StackConfig) -> StackConfig:
    # One call at a time: llama.cpp on one thread gains nothing from decoding a council's calls
    # together, and a call that follows another in the same slot finds their shared head cached.
    # A K=3, R=1 council through Ray spent 60 ms per completion token one call at a time (145 s)
    # and 73 ms three at a time (160 s).
    return base.model_copy(update={
        "model": "smollm2", "model_file": None, "llm_max_answer_tokens": ANSWER_TOKENS, "model_max_in_flight": 1,
    })


@pytest.fixture(scope="session")
def real_model(stack_config: StackConfig) -> Iterator[RealModel]:
    cfg = real_model_config(stack_config)
    try:
        info = api.up(cfg, only=["llama"])
    except StackError as exc:
        pytest.fail(f"the real model server did not start:\n{exc}", pytrace=False)
    [status] = [s for s in info.servers if s.name == "llama"]
    model = RealModel(f"http://127.0.0.1:{cfg.llama_port}/v1", cfg.model_name, status.version, cfg)
    try:
        yield model
    finally:
        if "llama" in info.started:
            api.down(cfg, only=["llama"])


@pytest.fixture(autouse=True)
def _label_the_answering_server(request: pytest.FixtureRequest) -> None:
    if "real_model" in request.fixturenames:
        _ANSWERED_BY[request.node.nodeid] = "REAL MODEL (llama.cpp, SmolLM2-135M)"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _ANSWERED_BY:
        terminalreporter.section("which model server answered")
        for nodeid, server in _ANSWERED_BY.items():
            terminalreporter.write_line(f"{server}: {nodeid}")
        terminalreporter.write_line("every other LLM test: the simulator (conclave sim)")
