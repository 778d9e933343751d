"""Heterogeneous councils: an agent may name its own model and endpoint; bad ones are refused at
the RPC edge with the field named; the engine passes them on; the simulator serves several."""

from __future__ import annotations

import pytest

from services.gen.fleet.orchestrator.v1 import orchestrator_pb2 as pb
from services.orchestrator.adapters.llm_routes import RoutedLLM
from services.orchestrator.deliberation import deliberate
from services.orchestrator.domain.council import AgentSpec, Council, Role, validate_endpoint, validate_model
from services.orchestrator.domain.errors import ValidationError
from services.orchestrator.domain.llm import ChatRequest
from services.orchestrator.entrypoints import grpc_mapping
from services.orchestrator.settings import LLMSettings
from services.simulator.content import answer
from services.simulator.models import ModelProfile, parse_models
from tests.unit.test_deliberation_engine import QUALITY, ScriptedLLM, make_request


@pytest.mark.parametrize(
    ("agent", "field"),
    [
        (pb.Agent(agent_id="a", model="has space"), "agents[2].model"),
        (pb.Agent(agent_id="a", model="x" * 201), "agents[2].model"),
        (pb.Agent(agent_id="a", endpoint="ftp://host/v1"), "agents[2].endpoint"),
        (pb.Agent(agent_id="a", endpoint="http:///v1"), "agents[2].endpoint"),
        (pb.Agent(agent_id="a", endpoint="http://host:99999/v1"), "agents[2].endpoint"),
        (pb.Agent(agent_id="a", endpoint="http://u:p@host/v1"), "agents[2].endpoint"),
        (pb.Agent(agent_id="a", endpoint="http://host/v1?x=1"), "agents[2].endpoint"),
    ],
)
def test_a_bad_model_or_endpoint_is_refused_naming_the_field(agent: pb.Agent, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        grpc_mapping.agent_of(agent, Role.DEV, "agents[2]")
    assert caught.value.field == field and field in str(caught.value)


def test_model_and_endpoint_round_trip_through_the_council_mapping() -> None:
    spec = grpc_mapping.agent_of(
        pb.Agent(agent_id="dev-9", model="Qwen/Qwen2.5-7B-Instruct", endpoint="http://vllm-b:8000/v1/"), Role.DEV
    )
    assert (spec.model, spec.endpoint) == ("Qwen/Qwen2.5-7B-Instruct", "http://vllm-b:8000/v1")
    wire = grpc_mapping.council(Council(role=Role.DEV, agents=(spec,))).agents[0]
    assert (wire.model, wire.endpoint) == (spec.model, spec.endpoint)
    assert validate_model("") == "" and validate_endpoint("  ") == ""


@pytest.mark.asyncio
async def test_every_call_of_an_agent_carries_its_model_and_endpoint() -> None:
    agents = tuple(
        AgentSpec(agent_id=a, role=Role.DEV, persona="p", temperature=0.5,
                  model="family-b" if a == "dev-2" else "", endpoint="http://b:8000/v1" if a == "dev-2" else "")
        for a in QUALITY
    )  # fmt: skip
    llm = ScriptedLLM(quality=QUALITY)
    await deliberate(llm, make_request(), Council(role=Role.DEV, agents=agents))
    routed = {(r.agent_id, r.model, r.endpoint) for r in llm.requests}
    assert ("dev-2", "family-b", "http://b:8000/v1") in routed
    assert all(m == "" for a, m, _ in routed if a != "dev-2")


@pytest.mark.asyncio
async def test_the_router_keeps_one_client_per_endpoint_and_model() -> None:
    llm = RoutedLLM(LLMSettings(vllm_url="http://a:8000/v1", vllm_model="m"))
    try:
        assert llm.route(ChatRequest(messages=[])) is llm
        assert llm.route(ChatRequest(messages=[], model="m", endpoint="http://a:8000/v1/")) is llm
        b = llm.route(ChatRequest(messages=[], model="x", endpoint="http://b:8000/v1"))
        assert b is not llm and b is llm.route(ChatRequest(messages=[], model="x", endpoint="http://b:8000/v1"))
        assert (b.settings.vllm_url, b.settings.vllm_model) == ("http://b:8000/v1", "x")
        same_server = llm.route(ChatRequest(messages=[], model="y"))
        assert same_server.settings.vllm_url == "http://a:8000/v1" and llm.routes[-1] == ("http://a:8000/v1", "y")
    finally:
        await llm.aclose()


def test_the_simulator_parses_its_models_and_each_has_its_own_blind_spots() -> None:
    served = parse_models("family-b:noise=1.5:shared=2, family-c", "conclave-sim")
    assert list(served) == ["conclave-sim", "family-b", "family-c"]
    assert served["family-b"] == ModelProfile(name="family-b", noise=1.5, shared=2.0)
    b, b_again = served["family-b"].blind_spot("draft one"), served["family-b"].blind_spot("draft one")
    assert b == b_again != served["family-b"].blind_spot("draft two")
    assert served["conclave-sim"].blind_spot("draft one") == 0.0
    with pytest.raises(ValueError, match="unknown option"):
        parse_models("x:speed=3", "m")


def test_two_families_can_judge_the_same_prompt_differently() -> None:
    proposals = "".join(f'<proposal label="{k}">\nplan {k}: {"a solid design " * i}\n</proposal>\n' for i, k in
                        enumerate("ABCD", start=1))  # fmt: skip
    body = {
        "messages": [{"role": "system", "content": "Role: DEV"}, {"role": "user", "content": proposals}],
        "response_format": {"type": "json_schema", "json_schema": {"schema": {
            "type": "object", "properties": {"ranking": {"type": "array", "items": {"type": "string"}}},
            "required": ["ranking"]}}},
    }  # fmt: skip
    rankings = {
        answer({**body, "model": name}, ModelProfile(name=name, shared=3.0)).text for name in ("m1", "m2", "m3", "m4")
    }
    assert len(rankings) > 1
