"""The deliberation bench's real-model run: one council (K=3, R=1) on llama.cpp serving
SmolLM2-135M (the stack's `llama` server), reporting the prompt tokens the server itself says
it served from its prefix cache (usage.prompt_tokens_details.cached_tokens, per request) next
to the strict shared-prefix share the bench computes from the prompts.

The two shares are counted in different vocabularies (the server's own, cl100k_base for the
strict share); as shares of each one's own total they compare.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from common import stack

from services.orchestrator.adapters.llm_openai import OpenAILLM
from services.orchestrator.deliberation import deliberate
from services.orchestrator.domain.council import Role
from services.orchestrator.domain.llm import ChatRequest, ChatResult, LLMPort
from services.orchestrator.domain.model import DeliberationRequest
from services.orchestrator.domain.prompts import shared_prefix_share
from services.orchestrator.settings import LLMSettings
from services.shared.events import PlanApproved
from services.simulator.tokens import count_tokens
from services.stack.api import StackConfig

ANSWER_TOKENS = 64


@dataclass
class Served:
    """LLMPort wrapper that keeps every request with the server's answer."""

    inner: LLMPort
    calls: list[tuple[ChatRequest, ChatResult]] = field(default_factory=list)

    async def chat(self, request: ChatRequest) -> ChatResult:
        result = await self.inner.chat(request)
        self.calls.append((request, result))
        return result


def shares(calls: list[tuple[ChatRequest, ChatResult]]) -> dict[str, dict[str, float]]:
    """Per stage and overall: the server's cached share, and the strict shared-prefix share."""
    strict = shared_prefix_share([r for r, _ in calls], count=count_tokens)
    rows: dict[str, dict[str, float]] = {}
    for stage in dict.fromkeys(r.stage for r, _ in calls):
        mine = [res.usage for req, res in calls if req.stage == stage]
        prompt = sum(u.prompt_tokens for u in mine)
        cached = sum(u.cached_prompt_tokens for u in mine)
        s, t = strict.get(stage, (0, 0))
        rows[stage] = {
            "calls": len(mine),
            "prompt_tokens": prompt,
            "server_cached": cached,
            "server_cached_share": cached / prompt if prompt else 0.0,
            "strict_shared_share": s / t if t else 0.0,
        }
    prompt = sum(res.usage.prompt_tokens for _, res in calls)
    cached = sum(res.usage.cached_prompt_tokens for _, res in calls)
    s_all, t_all = sum(s for s, _ in strict.values()), sum(t for _, t in strict.values())
    rows["all"] = {
        "calls": len(calls),
        "prompt_tokens": prompt,
        "server_cached": cached,
        "server_cached_share": cached / prompt if prompt else 0.0,
        "strict_shared_share": s_all / t_all if t_all else 0.0,
    }
    return rows


async def real_model_run(plan: PlanApproved, context: str, role: Role) -> dict[str, Any]:
    cfg = StackConfig(model="smollm2", llm_max_answer_tokens=ANSWER_TOKENS)
    async with stack(cfg, ["llama"]):
        settings = LLMSettings(
            vllm_url=f"http://127.0.0.1:{cfg.llama_port}/v1",
            vllm_model=cfg.model_name,
            llm_max_answer_tokens=ANSWER_TOKENS,
            llm_total_timeout_s=900,
            llm_first_token_timeout_s=600,
            llm_max_retries=0,
        )
        request = DeliberationRequest(
            task="\n\n".join([plan.title, plan.description]),
            role=role,
            constraints=plan.acceptance_criteria,
            num_agents=3,
            rounds=1,
            context=context,
        )
        async with OpenAILLM(settings) as llm:
            served = Served(llm)
            began = time.perf_counter()
            result = await deliberate(served, request)
            wall = time.perf_counter() - began
    completion = sum(res.usage.completion_tokens for _, res in served.calls)
    return {
        "model": cfg.model_name,
        "wall_s": wall,
        "calls": len(served.calls),
        "completion_tokens": completion,
        "tokens_per_s": completion / wall,
        "repaired": result.repaired_answers,
        "excluded": len(result.excluded_reviews),
        "shares": shares(served.calls),
    }


def real_model_table(console: Any, real: dict[str, Any] | None) -> dict[str, Any]:
    """Print the real-model run; its keys for the bench's JSON line."""
    if real is None:
        return {}
    from rich.table import Table

    table = Table(
        "stage",
        "calls",
        "prompt tok",
        "server cached tok",
        "server cached share",
        "strict shared share",
        title=f"REAL MODEL {real['model']} (llama.cpp), K=3 R=1: {real['calls']} calls in "
        f"{real['wall_s']:.1f}s, {real['tokens_per_s']:.1f} completion tok/s, "
        f"{real['repaired']} reviews repaired, {real['excluded']} excluded",
    )
    for stage, row in real["shares"].items():
        table.add_row(
            stage,
            str(row["calls"]),
            f"{row['prompt_tokens']:,}",
            f"{row['server_cached']:,}",
            f"{row['server_cached_share']:.3f}",
            f"{row['strict_shared_share']:.3f}",
        )
    console.print(table)
    overall = real["shares"]["all"]
    return {
        "real_model_server_cached_share": round(overall["server_cached_share"], 3),
        "real_model_strict_shared_share": round(overall["strict_shared_share"], 3),
        "real_model_wall_s": round(real["wall_s"], 1),
        "real_model_tokens_per_s": round(real["tokens_per_s"], 1),
    }
