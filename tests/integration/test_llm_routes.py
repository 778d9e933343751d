"""A heterogeneous council over real HTTP: each agent's calls reach its own model and endpoint.

Two in-process model simulators stand in for two OpenAI-compatible servers; the second serves
two model names with different judging noise."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.orchestrator.adapters.llm_routes import RoutedLLM
from services.orchestrator.deliberation import deliberate
from services.orchestrator.domain.council import AgentSpec, Council, Role
from services.orchestrator.domain.model import DeliberationRequest
from services.orchestrator.settings import LLMSettings
from services.simulator.settings import SimSettings
from tests.simkit import Sim, running_sim

pytestmark = pytest.mark.asyncio


@pytest.fixture
async def second() -> AsyncIterator[Sim]:
    settings = SimSettings(port=0, model="family-b", models="family-c:noise=1.5:shared=1.0")
    async for running in running_sim(settings):
        yield running


async def test_each_agent_reaches_its_own_model_and_endpoint(sim: Sim, second: Sim) -> None:
    council = Council(role=Role.DEV, agents=(
        AgentSpec(agent_id="dev-1", role=Role.DEV, persona="a", temperature=0.3),
        AgentSpec(agent_id="dev-2", role=Role.DEV, persona="b", temperature=0.6, model="family-b", endpoint=second.url),
        AgentSpec(agent_id="dev-3", role=Role.DEV, persona="c", temperature=0.9, model="family-c", endpoint=second.url),
    ))  # fmt: skip
    settings = LLMSettings(vllm_url=sim.url, vllm_model="conclave-sim", llm_probe_interval_s=0.05,
                           llm_ready_timeout_s=5.0, llm_total_timeout_s=20.0)  # fmt: skip
    async with RoutedLLM(settings) as llm:
        request = DeliberationRequest(task="Add a /health endpoint", role=Role.DEV, rounds=0, num_agents=3)
        result = await deliberate(llm, request, council)
        assert sorted(llm.routes) == [(second.url, "family-b"), (second.url, "family-c")]
    assert len(result.candidates) == 3 and not result.failed_agents
    default, other = await sim.stats(), await second.stats()
    # Each agent generates and reviews (2 calls); on a close call the four referees take the
    # council's families in turn: the default model, family-b, family-c, the default model again.
    referees = default["by_model"]["conclave-sim"] - 2
    assert referees in (0, 2) and set(default["by_model"]) == {"conclave-sim"}
    assert other["by_model"] == {"family-b": 2 + referees // 2, "family-c": 2 + referees // 2}


async def test_the_simulator_lists_every_model_it_serves(second: Sim) -> None:
    async with second.http.get(second.url + "/models") as resp:
        listed = [m["id"] for m in (await resp.json())["data"]]
    assert listed == ["family-b", "family-c"]
