"""The Ray job's use case, run_deliberation_job, over the in-memory fakes of its ports."""

from __future__ import annotations

import pytest

from services.orchestrator import handlers, queries
from services.orchestrator.domain.council import Role
from services.orchestrator.domain.errors import NotFound
from services.orchestrator.domain.tracking import State, deliberation_id
from services.orchestrator.ports import Deps
from services.shared import events
from tests.fakes import EchoModel, FakeContext, Published, orchestrator_deps

DID = deliberation_id("S", "P", 1, Role.DEV)


async def dispatched(contexts: dict[str, str] | None = None) -> tuple[Deps, Published]:
    d = orchestrator_deps(Role.DEV, contexts=contexts)
    # A council of one: the echo model proposes, and nobody is left to review.
    council = await queries.council_of(d, Role.DEV)
    await d.councils.put(council.model_copy(update={"agents": council.agents[:1]}))
    await handlers.dispatch_plan(d, events.PlanApproved(
        story_id="S", plan_id="P", approved_by="a", roles=[Role.DEV], title="Add /health",
    ))
    assert isinstance(d.publish, Published)
    return d, d.publish


async def test_the_job_stores_started_and_completed_and_announces_each_once() -> None:
    d, published = await dispatched({"S": "Plan P v1: add a /health endpoint"})
    assert await handlers.run_deliberation_job(d, DID) == State.COMPLETED
    record = await queries.get_deliberation(d, DID)
    assert record.state == State.COMPLETED and record.result is not None
    kinds = [type(e).__name__ for e in published if not isinstance(e, events.AgentResponse)]
    assert kinds == ["DeliberationQueued", "DeliberationStarted", "DeliberationCompleted"]
    assert [e.stage for e in published.of(events.AgentResponseCompleted)] == ["generate"]
    assert DID not in {r.deliberation_id for r in await d.deliberations.records_in_open_index()}


async def test_the_job_reads_the_role_context_into_the_prompt() -> None:
    d, _ = await dispatched({"S": "Plan P v1: the context the Context service holds"})
    await handlers.run_deliberation_job(d, DID)
    assert isinstance(d.context, FakeContext) and d.context.asked == [("S", Role.DEV, "P", 1)]
    assert isinstance(d.llm, EchoModel)
    prompt = "\n".join(m.content for m in d.llm.requests[0].messages)
    assert "the context the Context service holds" in prompt


async def test_a_plan_the_context_never_shows_fails_with_the_reason() -> None:
    d, published = await dispatched(contexts={})
    assert await handlers.run_deliberation_job(d, DID) == State.FAILED
    [failed] = published.of(events.DeliberationFailed)
    assert "not recorded" in failed.reason
    assert (await queries.get_deliberation(d, DID)).state == State.FAILED


async def test_a_deliberation_cancelled_before_its_job_came_up_never_starts() -> None:
    d, published = await dispatched({"S": "ctx"})
    await handlers.cancel(d, DID, "no longer needed")
    assert await handlers.run_deliberation_job(d, DID) is None
    assert isinstance(d.llm, EchoModel)
    assert not published.of(events.DeliberationStarted) and not d.llm.requests


async def test_an_unknown_deliberation_is_not_found() -> None:
    d, _ = await dispatched()
    with pytest.raises(NotFound):
        await handlers.run_deliberation_job(d, "dlb-dev-nope")


async def test_an_unexpected_error_still_ends_the_deliberation_with_its_reason() -> None:
    d, published = await dispatched({"S": "ctx"})
    assert isinstance(d.context, FakeContext)
    d.context.error = RuntimeError("context service answered garbage")
    assert await handlers.run_deliberation_job(d, DID) == State.FAILED
    [failed] = published.of(events.DeliberationFailed)
    assert failed.reason == "RuntimeError: context service answered garbage"
