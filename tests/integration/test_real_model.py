"""Every LLM path on a real inference server: llama.cpp serving SmolLM2-135M on the CPU.

Few and small on purpose (tiny councils, ANSWER_TOKENS-token proposals): the point is that
pointing VLLM_URL at a real server changes nothing else, not the quality of a 135M model's
answers. Slots, timeouts and the cap are judged by llama.cpp's own /slots endpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import grpc
import jsonschema
import pytest

from services.gen.fleet.orchestrator.v1 import orchestrator_pb2 as pb
from services.gen.fleet.orchestrator.v1 import orchestrator_pb2_grpc as pb_grpc
from services.orchestrator.adapters.llm_openai import OpenAILLM
from services.orchestrator.domain.budgets import answer_tokens
from services.orchestrator.domain.council import DEFAULT_NUM_AGENTS
from services.orchestrator.domain.llm import ChatMessage, ChatRequest, LLMError
from services.orchestrator.domain.structured_answers import chair_schema, labels_for, review_schema
from services.orchestrator.settings import LLMSettings
from services.shared import events
from services.stack import api
from services.stack.api import StackInfo
from tests.e2e.support import flow, plan, story
from tests.realmodel import ANSWER_TOKENS, RealModel
from tests.waiting import until

pytestmark = pytest.mark.asyncio


def llm_settings(real: RealModel, **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = dict(
        vllm_url=real.url,
        vllm_model=real.model,
        llm_max_answer_tokens=ANSWER_TOKENS,
        llm_max_retries=0,
        llm_first_token_timeout_s=120.0,
        llm_total_timeout_s=300.0,
        llm_ready_timeout_s=60.0,
        llm_probe_interval_s=0.2,
    )
    return base | overrides


def ask(text: str, max_tokens: int = 24, **kw: Any) -> ChatRequest:
    return ChatRequest(messages=[ChatMessage(role="user", content=text)], max_tokens=max_tokens, temperature=0.0, **kw)


def fresh_long_prompt(words: int) -> str:
    # A unique head defeats the prefix cache, so the server really processes every token.
    return f"[{uuid.uuid4().hex}] Summarise these notes in one line.\n" + " ".join(
        f"note{i} says the service retries webhooks" for i in range(words // 6)
    )


async def test_structured_review_and_chair_answers_match_their_schemas(real_model: RealModel) -> None:
    # Small bounds keep the test short: a 135M model tends to fill every field to its maxLength.
    review, chair = review_schema(labels_for(1)), chair_schema(["1", "2"], 200)
    proposals = '<proposal label="A">Use a queue.</proposal>'
    async with OpenAILLM(LLMSettings(**llm_settings(real_model))) as llm:
        results = await asyncio.gather(
            llm.chat(
                ask(
                    f"Review proposal A as JSON.\n{proposals}",
                    answer_tokens(review),
                    json_schema=review,
                    stage="review",
                )
            ),
            llm.chat(
                ask(
                    "Candidates: 1 uses a queue, 2 uses cron. Decide as JSON.",
                    answer_tokens(chair),
                    json_schema=chair,
                    stage="chair",
                )
            ),
        )
    for result, schema in zip(results, (review, chair), strict=True):
        assert result.finish_reason == "stop", result  # the budget fits the schema: never cut off
        jsonschema.validate(json.loads(result.text), schema)
        assert 0 < result.usage.completion_tokens <= answer_tokens(schema)
        assert result.model == real_model.model


async def test_cancelling_a_call_frees_the_servers_slot(real_model: RealModel) -> None:
    async with OpenAILLM(LLMSettings(**llm_settings(real_model))) as llm:
        call = asyncio.create_task(llm.chat(ask(fresh_long_prompt(60), max_tokens=2000)))

        async def occupying() -> bool:
            return call.done() or bool(await asyncio.to_thread(real_model.busy))

        await until(occupying, 60, "the request to occupy a server slot")
        assert not call.done(), "the request ended before it occupied a slot"
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
    assert await asyncio.to_thread(real_model.until_idle, 90) == 0, real_model.slots()


async def test_first_token_and_total_timeouts_on_requests_that_really_run_long(real_model: RealModel) -> None:
    # ~300 fresh prompt tokens keep the CPU busy for most of a second before any token; 0.1 s
    # cannot be met. (Small, because the server notices a closed connection only once the
    # prompt's batch is done: 1,160 tokens held a slot for 107 s on two cores under load.)
    first = LLMSettings(**llm_settings(real_model, llm_first_token_timeout_s=0.1))
    async with OpenAILLM(first) as llm:
        with pytest.raises(LLMError, match="first_token_timeout"):
            await llm.chat(ask(fresh_long_prompt(150)))
    assert await asyncio.to_thread(real_model.until_idle, 90) == 0
    # A fresh ~800-token prompt keeps the server busy for seconds; the total deadline of 0.5 s
    # ends the call while the first-token deadline (120 s) is still far off. (A generation
    # asked to run long may stop early on its own, so the long part is the prompt.)
    total = LLMSettings(**llm_settings(real_model, llm_total_timeout_s=0.5))
    async with OpenAILLM(total) as llm:
        with pytest.raises(LLMError, match="total timeout"):
            await llm.chat(ask(fresh_long_prompt(400)))
    assert await asyncio.to_thread(real_model.until_idle, 90) == 0


async def test_the_in_flight_cap_holds_under_real_concurrency(real_model: RealModel) -> None:
    seen: list[int] = []
    queued: list[int] = []
    async with OpenAILLM(LLMSettings(**llm_settings(real_model, llm_max_in_flight=2))) as llm:
        calls = [asyncio.create_task(llm.chat(ask(f"{i}: name three colours", max_tokens=24))) for i in range(4)]
        while not all(c.done() for c in calls):
            seen.append(await asyncio.to_thread(real_model.busy))
            queued.append(llm.status().queued)
            await asyncio.sleep(0.02)
        results = [c.result() for c in calls]
    assert all(r.usage.completion_tokens > 0 for r in results)
    assert max(seen) <= 2, seen  # the server never had more than the cap
    assert max(queued) >= 1  # and the client really held calls back


@asynccontextmanager
async def seated(addr: str, role: int, k: int) -> AsyncIterator[None]:
    """The role's council with `k` agents for one test, whatever the shared stack held (a real-model
    demo re-seats councils with two); the default council of DEFAULT_NUM_AGENTS again afterwards."""
    async with grpc.aio.insecure_channel(addr) as channel:
        stub = pb_grpc.OrchestratorServiceStub(channel)

        async def seat(n: int) -> None:
            with contextlib.suppress(grpc.aio.AioRpcError):  # no council yet
                await stub.DeleteCouncil(pb.DeleteCouncilRequest(council_id=pb.Role.Name(role)), timeout=15)
            await stub.CreateCouncil(pb.CreateCouncilRequest(role=role, num_agents=n), timeout=15)

        await seat(k)
        try:
            yield
        finally:
            await seat(DEFAULT_NUM_AGENTS)


async def test_an_approved_plan_is_deliberated_by_a_full_council_on_the_real_model_through_ray(
    stack: StackInfo, stack_config: api.StackConfig, real_model: RealModel
) -> None:
    """The production path on a real model: the stack's own orchestrator, pointed at it, picks
    plan.approved off NATS and runs the default council (K=3, R=1: generate, structured review,
    revise, final review, and referees on a tie) as a Ray job; the outcome comes back on NATS."""
    k = DEFAULT_NUM_AGENTS
    switched = api.up(real_model.cfg, only=["orchestrator"])
    try:
        env = switched.env()
        async with seated(env["ORCHESTRATOR_ADDR"], pb.DEV, k), flow(env) as f:
            story_id = story()
            await f.publish(plan(story_id, [events.Role.DEV]))
            outcome = (await f.recorder.terminal(story_id, [events.Role.DEV], within=540))["DEV"]
        if isinstance(outcome, events.DeliberationCompleted):
            assert outcome.winner.proposal and len(outcome.candidates) == k, outcome
            stages = {u.stage for u in outcome.usage}
            assert {"generate", "review", "revise"} <= stages, stages  # every LLM stage ran
            # What a weak model did to its reviews is reported, not hidden.
            assert outcome.repaired_answers >= 0 and outcome.excluded_answers >= 0
            [total] = [u for u in outcome.usage if u.stage == "total"]
            print(
                f"\nREAL MODEL via Ray, K={k} R=1: {total.calls} calls, {total.completion_tokens} completion tokens, "
                f"repaired {outcome.repaired_answers}, excluded {outcome.excluded_answers}, "
                f"{outcome.duration_ms / 1000:.1f}s"
            )
        else:
            assert outcome.reason, outcome  # a failure says why
    finally:
        api.up(stack_config, only=["orchestrator"])  # back on the simulator for the other tests
