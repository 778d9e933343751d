"""Every ContextService RPC over real gRPC, on the real Neo4j and ValKey."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import grpc
import pytest

from services.gen.fleet.context.v1 import context_pb2 as pb
from services.stack.api import StackInfo
from tests.integration.context_support import LiveContext, graph_counts, start_live

NASTY = 'He said "MATCH (n) DETACH DELETE n" }{ $param \\n \' `RETURN 1` // ünïcødé 漢字 🚀 {{x}} ); DROP'


@pytest.fixture(scope="module")
async def live(stack: StackInfo) -> AsyncIterator[LiveContext]:
    ctx = await start_live(stack.env(), consumers=False)
    yield ctx
    await ctx.close()


async def story(live: LiveContext, **extra: object) -> str:
    story_id = f"rpc-{uuid.uuid4().hex[:10]}"
    reply = await live.stub.CreateStory(pb.CreateStoryRequest(story_id=story_id, title="Checkout", **extra))
    assert reply.created
    return story_id


async def rpc_error(call: object) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call  # type: ignore[misc]
    return err.value


async def test_create_story_is_idempotent_and_validates(live: LiveContext) -> None:
    story_id = await story(live)
    again = await live.stub.CreateStory(pb.CreateStoryRequest(story_id=story_id, title="Other"))
    assert not again.created
    err = await rpc_error(live.stub.CreateStory(pb.CreateStoryRequest(title="no id")))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "story_id" in (err.details() or "")


async def test_tasks_decisions_and_context(live: LiveContext) -> None:
    story_id = await story(live, acceptance_criteria=["pays by card"])
    t1 = await live.stub.CreateTask(
        pb.CreateTaskRequest(story_id=story_id, task_id=f"{story_id}-1", role=pb.DEV, title="Schema")
    )
    assert t1.created and t1.task.role == pb.DEV and t1.task.status == "TODO"
    await live.stub.CreateTask(
        pb.CreateTaskRequest(
            story_id=story_id, task_id=f"{story_id}-2", role=pb.DEV, title="API", depends_on=[f"{story_id}-1"]
        )
    )
    added = await live.stub.AddProjectDecision(
        pb.AddProjectDecisionRequest(
            story_id=story_id,
            decision=pb.DecisionInput(
                title="Use Postgres",
                rationale="known",
                role=pb.DEV,
                affects_task_ids=[f"{story_id}-2"],
                decided_by=f"{story_id}-bob",
            ),
        )
    )
    assert added.decision_id.startswith("dec-")
    await live.stub.UpdateContext(
        pb.UpdateContextRequest(
            story_id=story_id,
            decisions=[pb.DecisionInput(title="Trunk-based development")],
            milestones=["schema reviewed"],
            summary="Schema agreed; API next. password=hunter2",
        )
    )
    reply = await live.stub.GetContext(
        pb.GetContextRequest(story_id=story_id, role=pb.DEV, phase=pb.BUILD, task_id=f"{story_id}-2")
    )
    assert [b.kind for b in reply.blocks] == ["system", "context", "tools"]
    context = reply.blocks[1].content
    assert "Use Postgres" in context and "Trunk-based development" in context
    assert "schema reviewed" in context and "hunter2" not in context and "[REDACTED]" in context
    assert context.index("Use Postgres") < context.index("Trunk-based development")
    assert reply.token_count == sum(b.token_count for b in reply.blocks)
    # Counted exactly, with the vocabulary for the configured model (the simulator's: cl100k_base).
    assert reply.tokenizer == "cl100k_base"

    small = await live.stub.GetContext(
        pb.GetContextRequest(story_id=story_id, role=pb.DEV, phase=pb.BUILD, token_budget=80)
    )
    assert small.token_count <= 80 and small.truncated and "summary" in small.omitted

    session = await live.stub.RehydrateSession(pb.RehydrateSessionRequest(story_id=story_id, role=pb.DEV))
    assert session.phase == pb.DESIGN and {t.task_id for t in session.tasks} == {
        f"{story_id}-1",
        f"{story_id}-2",
    }
    assert {d.title for d in session.decisions} >= {"Use Postgres", "Trunk-based development"}


async def test_unknown_story_is_not_found_and_nothing_half_written(live: LiveContext) -> None:
    missing = f"rpc-missing-{uuid.uuid4().hex[:6]}"
    for call in (
        live.stub.GetContext(pb.GetContextRequest(story_id=missing, role=pb.DEV, phase=pb.BUILD)),
        live.stub.CreateTask(pb.CreateTaskRequest(story_id=missing, task_id=f"{missing}-t", role=pb.QA)),
        live.stub.TransitionPhase(
            pb.TransitionPhaseRequest(story_id=missing, from_phase=pb.DESIGN, to_phase=pb.BUILD)
        ),
        live.stub.UpdateContext(pb.UpdateContextRequest(story_id=missing, summary="x")),
        live.stub.GetGraphRelationships(pb.GetGraphRelationshipsRequest(node_id=missing)),
    ):
        assert (await rpc_error(call)).code() == grpc.StatusCode.NOT_FOUND
    assert await graph_counts(live, missing) == (0, 0)

    story_id = await story(live)
    before = await graph_counts(live, story_id)
    err = await rpc_error(
        live.stub.AddProjectDecision(
            pb.AddProjectDecisionRequest(
                story_id=story_id, decision=pb.DecisionInput(title="Ghost", affects_task_ids=["no-such-task"])
            )
        )
    )
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "affects_task_ids" in (err.details() or "")
    assert await graph_counts(live, story_id) == before


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (pb.GetContextRequest(story_id="s", phase=pb.BUILD), "role"),
        (pb.GetContextRequest(story_id="s", role=pb.DEV), "phase"),
        (pb.GetContextRequest(role=pb.DEV, phase=pb.BUILD), "story_id"),
        (pb.GetContextRequest(story_id="s", role=pb.DEV, phase=pb.BUILD, token_budget=-1), "token_budget"),
        (pb.GetContextRequest(story_id="s", role=42, phase=pb.BUILD), "role"),
    ],
)
async def test_get_context_bad_arguments_name_the_field(
    live: LiveContext, request_: pb.GetContextRequest, field: str
) -> None:
    err = await rpc_error(live.stub.GetContext(request_))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (err.details() or "").startswith(field)


async def test_transition_phase_moves_forward_only(live: LiveContext) -> None:
    story_id = await story(live)
    first = await live.stub.TransitionPhase(
        pb.TransitionPhaseRequest(
            story_id=story_id, from_phase=pb.DESIGN, to_phase=pb.BUILD, event_id=f"{story_id}-e1"
        )
    )
    assert first.applied and first.phase == pb.BUILD
    again = await live.stub.TransitionPhase(
        pb.TransitionPhaseRequest(
            story_id=story_id, from_phase=pb.DESIGN, to_phase=pb.BUILD, event_id=f"{story_id}-e1"
        )
    )
    assert again.phase == pb.BUILD and again.version == first.version, "replayed event id changes nothing"
    err = await rpc_error(
        live.stub.TransitionPhase(pb.TransitionPhaseRequest(story_id=story_id, from_phase=pb.BUILD))
    )
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "to_phase" in (err.details() or "")


async def test_validate_scope(live: LiveContext) -> None:
    ok = await live.stub.ValidateScope(
        pb.ValidateScopeRequest(role=pb.QA, phase=pb.TEST, scopes=["story", "plan.acceptance_criteria"])
    )
    assert ok.allowed and "tasks" in ok.missing
    denied = await live.stub.ValidateScope(
        pb.ValidateScopeRequest(role=pb.DEVOPS, phase=pb.DOCS, scopes=["story", "milestones", "secrets"])
    )
    assert not denied.allowed and set(denied.extra) == {"milestones", "secrets"} and "DEVOPS" in denied.reason
    err = await rpc_error(live.stub.ValidateScope(pb.ValidateScopeRequest(role=pb.QA)))
    assert "phase" in (err.details() or "")


async def test_graph_relationships_are_depth_bounded(live: LiveContext) -> None:
    story_id = await story(live)
    await live.stub.CreateTask(pb.CreateTaskRequest(story_id=story_id, task_id=f"{story_id}-a", role=pb.DEV))
    await live.stub.CreateTask(
        pb.CreateTaskRequest(
            story_id=story_id, task_id=f"{story_id}-b", role=pb.DEV, depends_on=[f"{story_id}-a"]
        )
    )
    one = await live.stub.GetGraphRelationships(
        pb.GetGraphRelationshipsRequest(node_id=f"{story_id}-b", node_label="Task", depth=1)
    )
    assert {(r.from_id, r.type, r.to_id) for r in one.relationships} == {
        (story_id, "HAS_TASK", f"{story_id}-b"),
        (f"{story_id}-b", "DEPENDS_ON", f"{story_id}-a"),
    }
    two = await live.stub.GetGraphRelationships(
        pb.GetGraphRelationshipsRequest(node_id=f"{story_id}-b", node_label="Task", depth=2)
    )
    assert (story_id, "HAS_TASK", f"{story_id}-a") in {
        (r.from_id, r.type, r.to_id) for r in two.relationships
    }
    for bad, field in (
        (pb.GetGraphRelationshipsRequest(node_id=story_id, depth=4), "depth"),
        (pb.GetGraphRelationshipsRequest(node_id=story_id, node_label="User"), "node_label"),
    ):
        err = await rpc_error(live.stub.GetGraphRelationships(bad))
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and field in (err.details() or "")


async def test_hostile_strings_round_trip_verbatim(live: LiveContext) -> None:
    story_id = await story(live, description=NASTY)
    # Ids follow the one id rule (services/shared/ids.py); free text goes through verbatim.
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        weird = f"{story_id}-{{weird}}'\"`"
        await live.stub.CreateTask(pb.CreateTaskRequest(story_id=story_id, task_id=weird, role=pb.QA))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "task_id" in (caught.value.details() or "")
    task_id = f"{story_id}-weird.task_1"
    await live.stub.CreateTask(
        pb.CreateTaskRequest(story_id=story_id, task_id=task_id, role=pb.QA, title=NASTY, description=NASTY)
    )
    await live.stub.UpdateContext(
        pb.UpdateContextRequest(story_id=story_id, summary=NASTY, milestones=[NASTY])
    )
    graph = await live.stub.GetGraphRelationships(
        pb.GetGraphRelationshipsRequest(node_id=task_id, node_label="Task")
    )
    task = next(n for n in graph.nodes if n.id == task_id)
    assert task.properties["title"] == NASTY and task.properties["description"] == NASTY
    reply = await live.stub.GetContext(
        pb.GetContextRequest(story_id=story_id, role=pb.QA, phase=pb.TEST, token_budget=8000)
    )
    assert reply.blocks[1].content.count(NASTY) >= 4  # description, task title and body, summary
