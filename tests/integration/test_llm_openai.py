"""OpenAILLM against the model simulator over real HTTP (simulator in-process on a free port)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import jsonschema
import pytest
from openai import AsyncOpenAI

from services.orchestrator.adapters.llm_openai import OpenAILLM, wait_listener
from services.orchestrator.domain.llm import ChatMessage, ChatRequest, LLMError
from services.orchestrator.domain.structured_answers import InvalidAnswer, parse_review, review_schema
from services.orchestrator.settings import LLMSettings
from tests.simkit import Sim
from tests.waiting import until

pytestmark = pytest.mark.asyncio


def settings(sim: Sim, **overrides: Any) -> LLMSettings:
    base: dict[str, Any] = dict(
        vllm_url=sim.url, vllm_model="conclave-sim", llm_backoff_base_s=0.01, llm_backoff_max_s=0.05,
        llm_probe_interval_s=0.05, llm_first_token_timeout_s=5.0, llm_total_timeout_s=10.0,
        llm_ready_timeout_s=5.0,
    )
    return LLMSettings(**{**base, **overrides})


def dev_request(task: str = "Task: ingest webhooks", temperature: float = 0.7, **kw: Any) -> ChatRequest:
    return ChatRequest(
        messages=[ChatMessage(role="system", content="You are on a council.\nRole: DEV"),
                  ChatMessage(role="user", content=task)],
        temperature=temperature, **kw,
    )


async def test_streamed_completion_with_usage(sim: Sim) -> None:
    async with OpenAILLM(settings(sim)) as llm:
        result = await llm.chat(dev_request())
    assert "```python" in result.text
    assert result.usage.calls == 1 and result.usage.prompt_tokens > 10 and result.usage.completion_tokens > 50
    assert result.model == "conclave-sim" and result.duration_ms > 0
    stats = await sim.stats()
    assert stats["requests"] == 1 and stats["by_status"] == {"200": 1}


async def test_non_streaming_path_of_the_simulator(sim: Sim) -> None:
    async with AsyncOpenAI(base_url=sim.url, api_key="x", max_retries=0) as client:
        plain = await client.chat.completions.create(
            model="conclave-sim", messages=[{"role": "system", "content": "Role: DEVOPS"},
                                            {"role": "user", "content": "deploy the api"}])
        models = await client.models.list()
    assert "```yaml" in (plain.choices[0].message.content or "")
    assert plain.usage is not None and plain.usage.completion_tokens > 0
    assert [m.id for m in models.data] == ["conclave-sim"]
    assert models.data[0].owned_by == "conclave-simulator"


async def test_structured_output_is_schema_valid_and_tracks_quality(sim: Sim) -> None:
    async with OpenAILLM(settings(sim)) as llm:
        texts = [(await llm.chat(dev_request(temperature=round(0.05 * i, 2)))).text for i in range(16)]
        weak = min(texts, key=len)
        strong = max(texts, key=len)
        schema = review_schema(["A", "B"])
        prompt = f"Review these proposals.\n\nProposal A:\n{strong}\n\nProposal B:\n{weak}\n"
        result = await llm.chat(ChatRequest(
            messages=[ChatMessage(role="system", content="Role: DEV"),
                      ChatMessage(role="user", content=prompt)],
            json_schema=schema, schema_name="review", stage="review",
        ))
    jsonschema.validate(json.loads(result.text), schema)
    review = parse_review(result.text, ["A", "B"])
    assert review.rank_of("A") < review.rank_of("B")
    assert review.reviews["A"].scores["correctness"] > review.reviews["B"].scores["correctness"]


async def test_an_answer_ceiling_shortens_critiques_as_well_as_proposals(sim: Sim) -> None:
    schema = review_schema(["A", "B"])
    review = ChatRequest(messages=[ChatMessage(role="user", content="Review.\n\nProposal A:\nx\n\nProposal B:\ny")],
                         json_schema=schema, schema_name="review", stage="review")
    async with OpenAILLM(settings(sim)) as free, OpenAILLM(settings(sim, llm_max_answer_tokens=12)) as capped:
        long, short = await free.chat(review), await capped.chat(review)
        proposal = await capped.chat(dev_request())
    critiques = [[e["critique"] for e in json.loads(r.text)["reviews"].values()] for r in (long, short)]
    assert max(map(len, critiques[0])) > 12, critiques[0]  # what the simulator writes when free
    assert max(map(len, critiques[1])) <= 12, critiques[1]
    jsonschema.validate(json.loads(short.text), schema)  # still an answer to the engine's own schema
    assert proposal.usage is not None and proposal.usage.completion_tokens <= 12
    assert proposal.finish_reason == "length"


async def test_malformed_json_fault_is_detectable(sim: Sim) -> None:
    await sim.knobs(malformed_json_prob=1.0)
    async with OpenAILLM(settings(sim)) as llm:
        result = await llm.chat(dev_request(json_schema=review_schema(["A"])))
    with pytest.raises(InvalidAnswer, match="not valid JSON"):
        parse_review(result.text, ["A"])


async def test_503s_are_retried_by_exactly_one_layer(sim: Sim) -> None:
    await sim.knobs(error_rates="503:1.0")
    async with OpenAILLM(settings(sim, llm_max_retries=3)) as llm:
        with pytest.raises(LLMError, match="after 4 attempts: http_503") as err:
            await llm.chat(dev_request())
    assert err.value.retryable
    stats = await sim.stats()
    assert stats["requests"] == 4 and stats["by_status"] == {"503": 4}


async def test_intermittent_503s_and_429s_still_succeed(sim: Sim) -> None:
    await sim.knobs(error_rates="503:0.3,429:0.2", seed=11)
    async with OpenAILLM(settings(sim, llm_max_retries=8)) as llm:
        results = await asyncio.gather(*(llm.chat(dev_request(temperature=t / 10)) for t in range(10)))
    assert all("```python" in r.text for r in results)
    stats = await sim.stats()
    assert stats["by_status"]["200"] == 10
    assert stats["requests"] > 10, "some attempts must have failed and been retried"


async def test_dropped_connection_is_retried(sim: Sim) -> None:
    await sim.knobs(drop_prob=1.0)
    async with OpenAILLM(settings(sim, llm_max_retries=1)) as llm:
        with pytest.raises(LLMError, match=r"after 2 attempts: (connection|incomplete)"):
            await llm.chat(dev_request())
    assert (await sim.stats())["by_status"] == {"dropped": 2}


async def test_first_token_timeout_on_stall_frees_the_server(sim: Sim) -> None:
    await sim.knobs(stall_prob=1.0, stall_s=30)
    async with OpenAILLM(settings(sim, llm_first_token_timeout_s=0.3, llm_max_retries=1)) as llm:
        with pytest.raises(LLMError, match="first_token_timeout"):
            await llm.chat(dev_request())
    stats = await sim.until(lambda s: s["in_flight"] == 0)
    assert stats["in_flight"] == 0 and stats["requests"] == 2
    assert stats["by_status"].get("disconnected") == 2


async def test_calls_wait_for_the_model_loading_period(sim: Sim) -> None:
    await sim.knobs(loading_s=0.6)
    heard: list[str] = []
    async with OpenAILLM(settings(sim)) as llm:
        status = await llm.probe()
        assert status.reachable and not status.ready and status.models == []
        assert status.last_probe_latency_ms is not None
        token = wait_listener.set(heard.append)
        try:
            result = await llm.chat(dev_request())
        finally:
            wait_listener.reset(token)
        assert result.text and llm.status().ready and llm.status().models == ["conclave-sim"]
    assert heard and all(m.startswith("model loading") for m in heard)
    assert (await sim.stats())["by_status"] == {"200": 1}, "no chat request was sent while loading"


async def test_readiness_wait_is_bounded(sim: Sim) -> None:
    await sim.knobs(loading_s=30)
    heard: list[str] = []
    async with OpenAILLM(settings(sim)) as llm:
        with pytest.raises(LLMError, match="model loading"):
            await llm.wait_ready(0.3, on_wait=heard.append)
        assert heard
    await sim.knobs(loading_s=0)
    async with OpenAILLM(settings(sim)) as llm:
        await llm.wait_ready(5.0)
        assert llm.status().ready


async def test_unreachable_server_is_reported(sim: Sim) -> None:
    async with OpenAILLM(settings(sim, vllm_url="http://127.0.0.1:9/v1", llm_connect_timeout_s=0.5)) as llm:
        status = await llm.probe()
        assert not status.reachable and not status.ready and status.last_probe_error
        with pytest.raises(LLMError, match="model loading"):
            await llm.wait_ready(0.2)


async def test_in_flight_requests_are_bounded(sim: Sim) -> None:
    # Long enough that all nine calls reach the cap before the first one ends, even on a busy machine.
    await sim.knobs(ttft_ms=1000)
    async with OpenAILLM(settings(sim, llm_max_in_flight=3)) as llm:
        calls = [asyncio.create_task(llm.chat(dev_request(temperature=t / 10))) for t in range(9)]
        status = await until(
            lambda: (s := llm.status()).in_flight + s.queued == 9 and s, 5, "all nine calls in flight or queued", 0.01
        )
        assert (status.in_flight, status.queued) == (3, 6)
        await asyncio.gather(*calls)
        assert llm.status().in_flight == 0 and llm.status().queued == 0
    stats = await sim.stats()
    assert stats["max_in_flight"] == 3 and stats["by_status"] == {"200": 9}


async def test_cancelling_a_call_closes_its_request(sim: Sim) -> None:
    await sim.knobs(stall_prob=1.0, stall_s=30)
    async with OpenAILLM(settings(sim, llm_first_token_timeout_s=60)) as llm:
        call = asyncio.create_task(llm.chat(dev_request()))
        await sim.until(lambda s: s["in_flight"] == 1)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        stats = await sim.until(lambda s: s["in_flight"] == 0)
        assert stats["in_flight"] == 0 and stats["by_status"] == {"disconnected": 1}
        assert llm.status().in_flight == 0


async def test_cancelling_mid_stream_closes_its_request(sim: Sim) -> None:
    await sim.knobs(tokens_per_s=100)
    async with OpenAILLM(settings(sim)) as llm:
        call = asyncio.create_task(llm.chat(dev_request()))
        # Mid-stream: the answer has begun arriving and has not finished.
        await sim.until(lambda s: s["in_flight"] == 1 and s["streamed_chunks"] >= 3)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        stats = await sim.until(lambda s: s["in_flight"] == 0)
    assert stats["in_flight"] == 0 and stats["by_status"] == {"disconnected": 1}


def client_tasks(before: set[asyncio.Task[Any]]) -> set[asyncio.Task[Any]]:
    """New tasks, leaving out the in-process simulator's own request handlers."""
    return {
        t for t in asyncio.all_tasks() - before
        if not t.get_coro().__qualname__.startswith("RequestHandler.")  # type: ignore[union-attr]
    }


async def test_no_tasks_or_connections_left_behind(sim: Sim) -> None:
    tasks_before = asyncio.all_tasks()
    await sim.knobs(error_rates="503:0.3", drop_prob=0.2, seed=5, ttft_ms=20)
    llm = OpenAILLM(settings(sim, llm_max_in_flight=4, llm_max_retries=6))
    token = wait_listener.set(lambda _m: None)  # exercises the queue heartbeat task too
    try:
        outcomes = await asyncio.gather(*(llm.chat(dev_request(temperature=t / 20)) for t in range(12)),
                                        return_exceptions=True)
        cancelled = asyncio.create_task(llm.chat(dev_request(temperature=1.5)))
        await until(lambda: (s := llm.status()).in_flight + s.queued > 0, 5, "the last call to start", 0.01)
        cancelled.cancel()
        await asyncio.gather(cancelled, return_exceptions=True)
        assert sim.open_connections() > 0, "the pool keeps connections alive until the client closes"
    finally:
        wait_listener.reset(token)
        await llm.aclose()
    assert sum(not isinstance(o, BaseException) for o in outcomes) >= 10
    await until(lambda: not (sim.open_connections() or client_tasks(tasks_before)), 3,
                "closed connections and finished client tasks")
    assert client_tasks(tasks_before) == set()
    assert sim.open_connections() == 0
    assert (await sim.until(lambda s: s["in_flight"] == 0))["in_flight"] == 0
