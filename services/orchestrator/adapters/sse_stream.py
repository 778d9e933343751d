"""One streamed chat completion read from its raw SSE lines.

The SDK builds a pydantic chunk object per SSE event (~23 ms CPU per answer, serialised on
the event loop when a council's answers land together); json.loads into dicts costs a fraction."""

from __future__ import annotations

import json

from services.orchestrator.domain.llm import LLMError, Usage


class StreamRead:
    """The state of one streamed chat completion, fed one SSE line at a time."""

    __slots__ = ("done", "finish_reason", "finished", "model", "parts", "usage")

    def __init__(self, model: str) -> None:
        self.model = model
        self.parts: list[str] = []
        self.usage: Usage | None = None
        self.finished = False
        self.finish_reason = ""
        self.done = False

    def feed(self, line: str) -> bool:
        """Take one line; True when it carried content or a finish_reason (a token arrived)."""
        if not line.startswith("data:"):
            return False  # blank separators, comments, `event:`/`id:` fields
        data = line[5:].strip()
        if data == "[DONE]" or self.done:
            self.done = True
            return False
        chunk = json.loads(data)
        if not isinstance(chunk, dict):
            return False
        if chunk.get("error"):
            # What the SDK's own stream does with an in-band error event.
            error = chunk["error"]
            message = error.get("message") if isinstance(error, dict) else str(error)
            raise LLMError(f"LLM error in stream: {message}")
        self.model = chunk.get("model") or self.model
        usage = chunk.get("usage")
        if usage:
            details = usage.get("prompt_tokens_details") or {}
            self.usage = Usage(calls=1, prompt_tokens=int(usage.get("prompt_tokens") or 0),
                               completion_tokens=int(usage.get("completion_tokens") or 0),
                               cached_prompt_tokens=int(details.get("cached_tokens") or 0))
        token = False
        for choice in chunk.get("choices") or ():
            content = (choice.get("delta") or {}).get("content")
            if content:
                self.parts.append(content)
                token = True
            if choice.get("finish_reason") is not None:
                self.finished = token = True
                self.finish_reason = str(choice["finish_reason"])
        return token
