"""LLMPort that sends each call to its agent's own model and endpoint.

A council may mix model families, served by one or several OpenAI-compatible servers. Each
(endpoint, model) pair gets its own OpenAILLM, created on first use from the deployment's
settings with the URL and model swapped in, so each keeps its own readiness check on
/v1/models, retries and bound on requests in flight. Calls that name neither go to the
default pair (VLLM_URL, VLLM_MODEL), which is this object itself.
"""

from __future__ import annotations

from services.orchestrator.adapters.llm_metrics import LLMMetrics
from services.orchestrator.adapters.llm_openai import OpenAILLM
from services.orchestrator.domain.llm import ChatRequest, ChatResult
from services.orchestrator.settings import LLMSettings


class RoutedLLM(OpenAILLM):
    def __init__(self, settings: LLMSettings | None = None, *, metrics: LLMMetrics | None = None) -> None:
        super().__init__(settings, metrics=metrics)
        self._routes: dict[tuple[str, str], OpenAILLM] = {}

    def route(self, request: ChatRequest) -> OpenAILLM:
        s = self.settings
        key = ((request.endpoint or s.vllm_url).rstrip("/"), request.model or s.vllm_model)
        if key == (s.vllm_url.rstrip("/"), s.vllm_model):
            return self
        if key not in self._routes:
            self._routes[key] = OpenAILLM(
                s.model_copy(update={"vllm_url": key[0], "vllm_model": key[1]}), metrics=self.metrics,
            )
        return self._routes[key]

    @property
    def routes(self) -> list[tuple[str, str]]:
        return list(self._routes)

    async def chat(self, request: ChatRequest) -> ChatResult:
        target = self.route(request)
        if target is self:
            return await super().chat(request)
        return await target.chat(request)

    async def aclose(self) -> None:
        for other in self._routes.values():
            await other.aclose()
        await super().aclose()
