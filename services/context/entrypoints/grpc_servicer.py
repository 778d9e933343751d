"""gRPC face of the use cases: translate messages, map domain errors to status codes."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc

from services.context import commands, queries
from services.context.domain.assembly import AssembledContext
from services.context.domain.errors import InvalidArgument, NotFound
from services.context.domain.model import DecisionItem, TaskItem
from services.context.ports import Deps
from services.gen.fleet.context.v1 import context_pb2 as pb
from services.gen.fleet.context.v1 import context_pb2_grpc as pb_grpc

R = TypeVar("R")
Method = Callable[[Any, Any, grpc.aio.ServicerContext], Awaitable[R]]


def _status(method: Method[R]) -> Method[R]:
    @functools.wraps(method)
    async def wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext) -> R:
        try:
            return await method(self, request, context)
        except InvalidArgument as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        except NotFound as exc:
            await context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
        raise AssertionError("unreachable: abort raises")

    return wrapper


def role_name(value: int, field: str = "role", required: bool = True) -> str:
    if value == pb.ROLE_UNSPECIFIED:
        if required:
            raise InvalidArgument(field, "is required")
        return ""
    try:
        return str(pb.Role.Name(value))
    except ValueError:
        raise InvalidArgument(field, f"unknown role {value}") from None


def phase_name(value: int, field: str = "phase", required: bool = True) -> str:
    if value == pb.PHASE_UNSPECIFIED:
        if required:
            raise InvalidArgument(field, "is required")
        return ""
    try:
        return str(pb.Phase.Name(value))
    except ValueError:
        raise InvalidArgument(field, f"unknown phase {value}") from None


def blocks(a: AssembledContext) -> list[pb.PromptBlock]:
    kinds = (("system", a.system), ("context", a.context), ("tools", a.tools))
    return [pb.PromptBlock(kind=k, content=c, token_count=n) for (k, c), n in zip(kinds, a.block_tokens, strict=True)]


def task_info(story_id: str, t: TaskItem) -> pb.TaskInfo:
    return pb.TaskInfo(
        task_id=t.task_id,
        story_id=story_id,
        role=t.role or None,
        title=t.title,
        description=t.description,
        depends_on=list(t.depends_on),
        status=t.status,
    )


def decision_info(d: DecisionItem) -> pb.DecisionInfo:
    return pb.DecisionInfo(
        decision_id=d.decision_id,
        title=d.title,
        rationale=d.rationale,
        role=d.role or None,
        affects_task_ids=list(d.affects),
        score=d.score or 0.0,
        source="deliberation" if d.score is not None else "manual",
    )


def decision_input(story_id: str, d: pb.DecisionInput, field: str = "decision") -> Any:
    if not d.title.strip():
        raise InvalidArgument(f"{field}.title", "is required")
    return commands.decision_input(
        story_id,
        d.title,
        d.rationale,
        role_name(d.role, f"{field}.role", required=False),
        d.affects_task_ids,
        d.decided_by,
        d.decision_id,
    )


class ContextServicer(pb_grpc.ContextServiceServicer):
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @_status
    async def GetContext(self, request: pb.GetContextRequest, context: Any) -> pb.GetContextResponse:
        role, phase = role_name(request.role), phase_name(request.phase)
        result = await queries.get_context(
            self.deps, request.story_id, role, phase, request.task_id, request.token_budget
        )
        a = result.assembled
        return pb.GetContextResponse(
            blocks=blocks(a),
            token_count=a.token_count,
            version=a.version,
            truncated=a.truncated,
            omitted=list(a.omitted),
            from_cache=result.from_cache,
            tokenizer=self.deps.tokenizer,
        )

    @_status
    async def UpdateContext(self, request: pb.UpdateContextRequest, context: Any) -> pb.UpdateContextResponse:
        decisions = [decision_input(request.story_id, d, f"decisions[{i}]") for i, d in enumerate(request.decisions)]
        version, changes = await commands.update_context(
            self.deps, request.story_id, decisions, list(request.milestones), request.summary
        )
        return pb.UpdateContextResponse(version=str(version), changes=changes)

    @_status
    async def RehydrateSession(self, request: pb.RehydrateSessionRequest, context: Any) -> pb.RehydrateSessionResponse:
        r = await queries.rehydrate_session(self.deps, request.story_id, role_name(request.role), request.token_budget)
        return pb.RehydrateSessionResponse(
            story_id=r.story_id,
            phase=r.phase,
            blocks=blocks(r.assembled),
            tasks=[task_info(r.story_id, t) for t in r.tasks],
            decisions=[decision_info(d) for d in r.decisions],
            version=r.assembled.version,
        )

    @_status
    async def ValidateScope(self, request: pb.ValidateScopeRequest, context: Any) -> pb.ValidateScopeResponse:
        r = queries.validate_scope(self.deps, role_name(request.role), phase_name(request.phase), request.scopes)
        return pb.ValidateScopeResponse(
            allowed=r.check.allowed,
            missing=list(r.missing),
            extra=[*r.check.denied, *r.check.unknown],
            reason=r.reason,
        )

    @_status
    async def CreateStory(self, request: pb.CreateStoryRequest, context: Any) -> pb.CreateStoryResponse:
        created = await commands.create_story(
            self.deps,
            request.story_id,
            request.title,
            request.description,
            phase_name(request.phase, required=False),
            request.acceptance_criteria,
            request.created_by,
        )
        return pb.CreateStoryResponse(story_id=request.story_id, created=created)

    @_status
    async def CreateTask(self, request: pb.CreateTaskRequest, context: Any) -> pb.CreateTaskResponse:
        task, created = await commands.create_task(
            self.deps,
            request.story_id,
            request.task_id,
            role_name(request.role),
            request.title,
            request.description,
            request.depends_on,
        )
        return pb.CreateTaskResponse(task=task_info(request.story_id, task), created=created)

    @_status
    async def AddProjectDecision(
        self, request: pb.AddProjectDecisionRequest, context: Any
    ) -> pb.AddProjectDecisionResponse:
        if not request.HasField("decision"):
            raise InvalidArgument("decision", "is required")
        decision_id, version = await commands.add_project_decision(
            self.deps, request.story_id, decision_input(request.story_id, request.decision)
        )
        return pb.AddProjectDecisionResponse(decision_id=decision_id, version=str(version))

    @_status
    async def TransitionPhase(self, request: pb.TransitionPhaseRequest, context: Any) -> pb.TransitionPhaseResponse:
        r = await commands.transition_phase(
            self.deps,
            request.story_id,
            phase_name(request.from_phase, "from_phase"),
            phase_name(request.to_phase, "to_phase"),
            request.requested_by,
            request.event_id,
        )
        return pb.TransitionPhaseResponse(phase=r.phase, applied=r.applied, version=r.version)

    @_status
    async def GetGraphRelationships(
        self, request: pb.GetGraphRelationshipsRequest, context: Any
    ) -> pb.GetGraphRelationshipsResponse:
        n = await queries.get_graph_relationships(self.deps, request.node_id, request.node_label, request.depth)
        return pb.GetGraphRelationshipsResponse(
            nodes=[pb.GraphNode(id=x.id, labels=list(x.labels), properties=x.properties) for x in n.nodes],
            relationships=[pb.GraphRelationship(from_id=e.from_id, to_id=e.to_id, type=e.type) for e in n.edges],
        )
