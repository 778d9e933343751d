"""One deliberation's plumbing: the LLM port, the usage ledger, progress events, timing and
parallel fan-out. The stage functions in deliberation.py use it and nothing else does."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from services.orchestrator.domain.council import AgentSpec, Council
from services.orchestrator.domain.errors import EmptyAnswer
from services.orchestrator.domain.llm import ChatMessage, ChatRequest, ChatResult, LLMPort, Stage, Usage
from services.orchestrator.domain.model import (
    AgentFailure,
    DeliberationRequest,
    EventKind,
    ProgressEvent,
    StageName,
    StageUsage,
)
from services.orchestrator.domain.prompts import repair_message
from services.orchestrator.domain.repair import refusal
from services.orchestrator.domain.sandbox import SandboxPort
from services.orchestrator.domain.selection import DEFAULT, SelectionPolicy
from services.orchestrator.domain.structured_answers import InvalidAnswer
from services.shared.tracing import tracer

OnEvent = Callable[[ProgressEvent], Awaitable[None]]
T = TypeVar("T")

PROPOSAL_MAX_TOKENS = 1536
# Reviews are judgements, not drafts: keep them steady whatever the author's temperature.
REVIEW_TEMPERATURE = 0.2


@dataclass
class Session:
    """What the stages of one deliberation share."""

    llm: LLMPort
    request: DeliberationRequest
    council: Council
    on_event: OnEvent | None = None
    policy: SelectionPolicy = DEFAULT
    # Where candidates' code runs; None leaves the deliberation without execution checks.
    sandbox: SandboxPort | None = None
    usage: dict[StageName, StageUsage] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)
    seq: int = 0
    # Structured answers that needed their one repair.
    repaired: int = 0

    def agent(self, agent_id: str) -> AgentSpec:
        return next(a for a in self.council.agents if a.agent_id == agent_id)

    def ledger(self, stage: StageName) -> StageUsage:
        return self.usage.setdefault(stage, StageUsage(stage=stage))

    def elapsed_ms(self) -> float:
        return ms_since(self.started)

    async def emit(self, kind: EventKind, stage: StageName, **fields: Any) -> None:
        if self.on_event is None:
            return
        self.seq += 1
        await self.on_event(
            ProgressEvent(
                deliberation_id=self.request.deliberation_id,
                seq=self.seq,
                kind=kind,
                stage=stage,
                role=self.council.role,
                elapsed_ms=self.elapsed_ms(),
                **fields,
            )
        )

    @asynccontextmanager
    async def stage(self, name: StageName, round_no: int = 0) -> AsyncIterator[None]:
        await self.emit("stage_started", name, round=round_no)
        t0 = time.perf_counter()
        with tracer.start_as_current_span(f"stage.{name}", attributes={
            "deliberation_id": self.request.deliberation_id, "stage": name, "round": round_no,
        }):
            yield
        elapsed = ms_since(t0)
        self.ledger(name).duration_ms += elapsed
        await self.emit("stage_finished", name, round=round_no, duration_ms=elapsed)

    async def call(
        self,
        agent: AgentSpec,
        stage: Stage,
        messages: list[ChatMessage],
        *,
        temperature: float,
        json_schema: dict[str, Any] | None = None,
        max_tokens: int = PROPOSAL_MAX_TOKENS,
    ) -> ChatResult:
        """One LLM call, accounted to its stage whether it succeeds or not."""
        request = ChatRequest(
            messages=messages,
            temperature=temperature,
            max_tokens=max_tokens,
            json_schema=json_schema,
            schema_name=f"{stage}_answer",
            stage=stage,
            agent_id=agent.agent_id,
            model=agent.model,
            endpoint=agent.endpoint,
        )
        ledger = self.ledger(stage)
        with tracer.start_as_current_span(f"llm.{stage}", attributes={
            "deliberation_id": self.request.deliberation_id, "agent_id": agent.agent_id, "stage": stage,
            "llm.max_tokens": max_tokens, "llm.structured": json_schema is not None,
        }) as span:
            try:
                result = await self.llm.chat(request)
            except Exception:
                ledger.record(None)
                raise
            span.set_attributes({
                "llm.model": result.model, "llm.prompt_tokens": result.usage.prompt_tokens,
                "llm.completion_tokens": result.usage.completion_tokens,
                "llm.time_to_first_token_ms": round(result.first_token_ms, 1),
            })
        ledger.record(result.usage)
        return result

    async def draft(self, agent: AgentSpec, stage: Stage, messages: list[ChatMessage]) -> ChatResult:
        """A free-text proposal at the agent's own temperature; an empty one is a failure."""
        result = await self.call(agent, stage, messages, temperature=agent.temperature)
        if not result.text.strip():
            raise EmptyAnswer("the model returned an empty proposal")
        return result

    async def structured(
        self,
        agent: AgentSpec,
        stage: Stage,
        messages: list[ChatMessage],
        schema: dict[str, Any],
        parse: Callable[[str], T],
        *,
        max_tokens: int,
        temperature: float = REVIEW_TEMPERATURE,
    ) -> tuple[T, str, Usage]:
        """A structured-output call with one repair attempt: the invalid answer and the reason
        go back to the model. Raises InvalidAnswer if the repair is invalid too."""
        first = await self.call(
            agent, stage, messages, temperature=temperature, json_schema=schema, max_tokens=max_tokens
        )
        try:
            return parse(first.text), first.text, first.usage
        except InvalidAnswer as exc:
            error = refusal(first.text, str(exc), first.finish_reason, max_tokens)
        repair = [*messages, ChatMessage(role="assistant", content=first.text), repair_message(error)]
        second = await self.call(
            agent, stage, repair, temperature=temperature, json_schema=schema, max_tokens=max_tokens
        )
        try:
            answer = parse(second.text)
        except InvalidAnswer as exc:
            raise InvalidAnswer(refusal(second.text, str(exc), second.finish_reason, max_tokens)) from None
        self.repaired += 1
        return answer, second.text, first.usage + second.usage

    async def agent_done(
        self, agent: AgentSpec, stage: StageName, round_no: int, t0: float, usage: Usage, text: str
    ) -> None:
        await self.emit(
            "agent_done", stage, round=round_no, agent_id=agent.agent_id,
            duration_ms=ms_since(t0), usage=usage, text=text,
        )

    async def agent_failed(
        self, agent: AgentSpec, stage: StageName, round_no: int, exc: BaseException, t0: float
    ) -> AgentFailure:
        reason = reason_of(exc)
        await self.emit(
            "agent_failed", stage, round=round_no, agent_id=agent.agent_id,
            duration_ms=ms_since(t0), error=reason,
        )
        return AgentFailure(agent_id=agent.agent_id, stage=stage, round=round_no, reason=reason)


async def in_parallel(coros: Iterable[Coroutine[Any, Any, T]]) -> list[T]:
    """Run concurrently; if one raises (only the progress callback can), cancel the rest."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(c) for c in coros]
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return [t.result() for t in tasks]


def reason_of(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def ms_since(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000, 3)
