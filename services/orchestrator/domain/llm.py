"""The port through which the deliberation engine talks to a language model.

The engine depends only on this protocol; the OpenAI-compatible adapter and the
unit tests' scripted model both implement it.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

Stage = Literal["generate", "review", "revise", "chair"]


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


class Usage(BaseModel):
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            calls=self.calls + other.calls,
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
        )


class ChatResult(BaseModel):
    text: str
    usage: Usage = Field(default_factory=Usage)
    duration_ms: float = 0.0
    model: str = ""


class LLMError(Exception):
    """A call that failed for good (after the adapter's own retries)."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


class LLMPort(Protocol):
    async def chat(self, request: ChatRequest) -> ChatResult: ...
