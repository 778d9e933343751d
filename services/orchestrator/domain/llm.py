"""The port through which the deliberation engine talks to a language model.

The engine depends only on this protocol; the OpenAI-compatible adapter and the
unit tests' scripted model both implement it.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

Stage = Literal["generate", "review", "revise", "chair"]

WaitCallback = Callable[[str], Awaitable[None] | None]
# Set by whoever wants to hear why a call is waiting (e.g. a streaming RPC's heartbeat);
# a context variable, so it follows the caller's task into the adapter without a parameter.
wait_listener: ContextVar[WaitCallback | None] = ContextVar("llm_wait_listener", default=None)


async def notify_waiting(listener: WaitCallback | None, message: str) -> None:
    if listener is None:
        return
    try:
        result = listener(message)
        if inspect.isawaitable(result):
            await result
    except Exception:  # a broken listener must not break the call
        logging.getLogger("conclave.llm").exception("LLM wait listener failed")


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str


class ChatRequest(BaseModel):
    messages: list[ChatMessage]
    temperature: float = 0.7
    max_tokens: int = 1024
    # A JSON schema sent as a structured-output request (response_format json_schema).
    json_schema: dict[str, Any] | None = None
    schema_name: str = "answer"
    # Attribution only: which council step this call serves.
    stage: Stage = "generate"
    agent_id: str = ""
    # Routing: the agent's own model and OpenAI-compatible base URL; empty means the default.
    model: str = ""
    endpoint: str = ""


class Usage(BaseModel):
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    # Prompt tokens the server says it served from its prefix cache (0 if it does not say).
    cached_prompt_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            calls=self.calls + other.calls,
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            cached_prompt_tokens=self.cached_prompt_tokens + other.cached_prompt_tokens,
        )


class ChatResult(BaseModel):
    text: str
    usage: Usage = Field(default_factory=Usage)
    duration_ms: float = 0.0
    # From sending the request that answered to its first token (0 where unknown).
    first_token_ms: float = 0.0
    model: str = ""
    # "stop", or "length" when the answer hit max_tokens.
    finish_reason: str = ""


class LLMStatus(BaseModel):
    """What the model server looks like from this process."""

    url: str
    model: str
    ready: bool
    reachable: bool
    models: list[str]
    in_flight: int
    queued: int
    max_in_flight: int
    last_probe_latency_ms: float | None
    last_probe_error: str = ""
    # The server names itself a simulator (the project's `conclave sim serve`).
    simulator: bool = False


class LLMError(Exception):
    """A call that failed for good (after the adapter's own retries)."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


class LLMPort(Protocol):
    async def chat(self, request: ChatRequest) -> ChatResult: ...


class ModelServer(LLMPort, Protocol):
    """The LLM port as the services hold it: calls, plus a look at the server behind them."""

    async def probe(self) -> LLMStatus: ...

    async def aclose(self) -> None: ...
