"""The OrchestratorService over grpc.aio: translation and status codes only; the work is in handlers."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc

from services.gen.fleet.orchestrator.v1 import orchestrator_pb2 as pb
from services.gen.fleet.orchestrator.v1 import orchestrator_pb2_grpc as pb_grpc
from services.orchestrator import handlers, queries
from services.orchestrator.domain.council import Role
from services.orchestrator.domain.errors import AlreadyExists, CouncilFailed, NotFound, ValidationError
from services.orchestrator.domain.llm import LLMError, wait_listener
from services.orchestrator.domain.model import ProgressEvent
from services.orchestrator.entrypoints import grpc_mapping as m
from services.orchestrator.ports import Deps
from services.shared import ids

R = TypeVar("R")
HEARTBEAT_S = 4.0
CHAIR_OUTCOMES = {"select": pb.OrchestrateResponse.SELECTED, "synthesize": pb.OrchestrateResponse.SYNTHESIZED,
                  "fallback": pb.OrchestrateResponse.FALLBACK}


def status_of(exc: BaseException) -> grpc.StatusCode | None:
    return {
        ValidationError: grpc.StatusCode.INVALID_ARGUMENT,
        ids.InvalidId: grpc.StatusCode.INVALID_ARGUMENT,
        NotFound: grpc.StatusCode.NOT_FOUND,
        AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
        CouncilFailed: grpc.StatusCode.ABORTED,
        LLMError: grpc.StatusCode.UNAVAILABLE,
    }.get(type(exc))


def _status(method: Callable[..., Awaitable[R]]) -> Callable[..., Awaitable[R]]:
    @functools.wraps(method)
    async def wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext) -> R:
        try:
            return await method(self, request, context)
        except (ValidationError, ids.InvalidId, NotFound, AlreadyExists, CouncilFailed, LLMError) as exc:
            code = status_of(exc)
            assert code is not None
            await context.abort(code, str(exc))
            raise  # unreachable: abort raises

    return wrapper


class OrchestratorServicer(pb_grpc.OrchestratorServiceServicer):
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    async def _request(self, message: pb.DeliberateRequest, field: str = "") -> Any:
        role = m.role_of(message.role, f"{field}role")
        return m.request_of(message, await queries.find_council(self.deps, role), field)

    @_status
    async def Deliberate(self, request: pb.DeliberateRequest, context: Any) -> pb.DeliberateResponse:
        return m.result(await handlers.deliberate(self.deps, await self._request(request)))

    async def StreamDeliberation(
        self, request: pb.DeliberateRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.DeliberationProgress]:
        """Progress per stage and agent, a heartbeat while waiting, then the result or an error event."""
        queue: asyncio.Queue[pb.ProgressEvent | pb.DeliberateResponse | pb.StreamError] = asyncio.Queue()
        started = time.monotonic()
        waiting = {"why": "deliberating"}

        async def on_event(event: ProgressEvent) -> None:
            waiting["why"] = f"{event.stage}: {event.kind}"
            queue.put_nowait(m.progress(event))

        def on_wait(message: str) -> None:
            waiting["why"] = message

        async def work() -> None:
            wait_listener.set(on_wait)
            try:
                deliberation = await self._request(request)
                queue.put_nowait(m.result(await handlers.deliberate(self.deps, deliberation, on_event)))
            except Exception as exc:
                code = status_of(exc) or grpc.StatusCode.INTERNAL
                queue.put_nowait(pb.StreamError(code=code.name, message=str(exc)))

        task = asyncio.create_task(work())
        seq = 0
        try:
            while True:
                try:
                    item = await asyncio.wait_for(queue.get(), timeout=HEARTBEAT_S)
                except TimeoutError:
                    item = pb.ProgressEvent(
                        kind=pb.ProgressEvent.HEARTBEAT, message=f"waiting: {waiting['why']}",
                        elapsed_ms=(time.monotonic() - started) * 1000,
                    )
                seq += 1
                if isinstance(item, pb.ProgressEvent):
                    yield pb.DeliberationProgress(seq=seq, progress=item)
                    continue
                if isinstance(item, pb.DeliberateResponse):
                    yield pb.DeliberationProgress(seq=seq, result=item)
                else:
                    yield pb.DeliberationProgress(seq=seq, error=item)
                return
        finally:
            # A client that goes away cancels its deliberation and every LLM call in it.
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @_status
    async def Orchestrate(self, request: pb.OrchestrateRequest, context: Any) -> pb.OrchestrateResponse:
        chair = m.role_of(request.chair_role, "chair_role") if request.chair_role else Role.ARCHITECT
        deliberation = await self._request(request.deliberation, "deliberation.")
        outcome = await handlers.orchestrate(self.deps, deliberation, chair)
        decision = outcome.decision
        return pb.OrchestrateResponse(
            deliberation=m.result(outcome.deliberation),
            outcome=CHAIR_OUTCOMES[decision.mode],
            final_proposal=decision.text,
            chosen_agent_id=decision.selected_agent_id or "",
            rationale=decision.fallback_reason or decision.rationale,
        )

    @_status
    async def DeliberateAsync(self, request: pb.DeliberateRequest, context: Any) -> pb.DeliberateAsyncResponse:
        record = await handlers.deliberate_async(self.deps, await self._request(request))
        return pb.DeliberateAsyncResponse(
            deliberation_id=record.deliberation_id, state=record.state.value
        )

    @_status
    async def GetDeliberationResult(
        self, request: pb.GetDeliberationResultRequest, context: Any
    ) -> pb.DeliberationRecord:
        ids.check("deliberation_id", request.deliberation_id)
        return m.record(await queries.get_deliberation(self.deps, request.deliberation_id))

    @_status
    async def CancelDeliberation(self, request: pb.CancelDeliberationRequest, context: Any) -> pb.DeliberationRecord:
        ids.check("deliberation_id", request.deliberation_id)
        return m.record(await handlers.cancel(self.deps, request.deliberation_id, request.reason))

    @_status
    async def CreateCouncil(self, request: pb.CreateCouncilRequest, context: Any) -> pb.Council:
        role = m.role_of(request.role)
        agents = [m.agent_of(a, role, f"agents[{i}]") for i, a in enumerate(request.agents)]
        return m.council(await handlers.create_council(self.deps, role, request.num_agents or 3, agents))

    @_status
    async def ListCouncils(self, request: pb.ListCouncilsRequest, context: Any) -> pb.ListCouncilsResponse:
        role = m.role_of(request.role) if request.role else None
        councils = await queries.list_councils(self.deps, role)
        return pb.ListCouncilsResponse(councils=[m.council(c) for c in councils])

    @_status
    async def DeleteCouncil(self, request: pb.DeleteCouncilRequest, context: Any) -> pb.DeleteCouncilResponse:
        return pb.DeleteCouncilResponse(
            deleted=await handlers.delete_council(self.deps, m.council_role(request.council_id))
        )

    @_status
    async def RegisterAgent(self, request: pb.RegisterAgentRequest, context: Any) -> pb.Council:
        role = m.council_role(request.council_id)
        return m.council(await handlers.register_agent(self.deps, role, m.agent_of(request.agent, role)))

    @_status
    async def UnregisterAgent(self, request: pb.UnregisterAgentRequest, context: Any) -> pb.Council:
        ids.check("agent_id", request.agent_id)
        role = m.council_role(request.council_id)
        return m.council(await handlers.unregister_agent(self.deps, role, request.agent_id))

    @_status
    async def GetStatus(self, request: pb.GetStatusRequest, context: Any) -> pb.GetStatusResponse:
        summary = await queries.status(self.deps)
        llm = summary.model_server
        model = pb.ModelServerStatus(
            url=llm.url, reachable=llm.reachable, models=llm.models, in_flight=llm.in_flight,
            queued=llm.queued, last_probe_latency_ms=llm.last_probe_latency_ms or 0.0,
            simulator=llm.simulator,
        )
        queue = summary.queue
        return pb.GetStatusResponse(
            uptime_s=summary.uptime_s, councils=summary.councils,
            deliberations_by_state=summary.deliberations_by_state, model_server=model,
            admission_budget=summary.budget.max_running, admitted=len(queue.admitted), queued=len(queue.queued),
            oldest_queued_wait_s=queue.oldest_wait_s, model_budget=summary.budget.model_max_in_flight,
            per_job_llm_in_flight=summary.budget.per_job_in_flight,
            open=[m.open_deliberation(r, queue.at) for r in queue.open],
        )
