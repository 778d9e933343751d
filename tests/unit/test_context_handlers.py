"""The Context service's use cases over the in-memory fakes of its ports: the write order
(commit, invalidate, announce), cache-aside reads, and errors that name the field."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from services.context import commands, ingest, queries
from services.context.bootstrap import load_policy
from services.context.domain.errors import InvalidArgument, NotFound
from services.context.domain.tokens import estimate_tokens
from services.context.ports import Deps
from services.shared import events
from tests.fakes import FakeCache, FakeGraph, Published


def deps() -> tuple[Deps, FakeGraph, FakeCache, Published]:
    graph, cache, published = FakeGraph(), FakeCache(), Published()
    return Deps(graph=graph, cache=cache, publish=published, policy=load_policy(), count=estimate_tokens), \
        graph, cache, published


def approved(story_id: str = "S-1", version: int = 1) -> events.PlanApproved:
    return events.PlanApproved(story_id=story_id, plan_id="P-1", approved_by="po", roles=[events.Role.DEV],
                               plan_version=version, title="Add a /health endpoint")


async def test_an_approved_plan_is_committed_invalidated_then_announced() -> None:
    d, graph, cache, published = deps()
    await ingest.record_plan_approved_batch(d, [approved()])
    assert graph.plans["S-1"].plan_id == "P-1" and cache.invalidated == ["S-1"]
    [update] = published.of(events.ContextUpdated)
    assert (update.story_id, update.version, update.changes) == ("S-1", "1", ["plan:P-1@v1"])


async def test_a_context_is_read_once_then_served_from_the_cache_until_a_change() -> None:
    d, _, _, _ = deps()
    await ingest.record_plan_approved_batch(d, [approved()])
    first = await queries.get_context(d, "S-1", "DEV", "BUILD")
    second = await queries.get_context(d, "S-1", "DEV", "BUILD")
    assert (first.from_cache, second.from_cache) == (False, True)
    assert first.assembled == second.assembled and "P-1" in first.assembled.context
    await ingest.record_plan_approved_batch(d, [approved(version=2)])
    third = await queries.get_context(d, "S-1", "DEV", "BUILD")
    assert not third.from_cache and third.assembled.version != first.assembled.version


async def test_with_the_cache_down_reads_fall_back_to_the_graph() -> None:
    d, _, cache, _ = deps()
    await ingest.record_plan_approved_batch(d, [approved()])
    cache.up = False
    result = await queries.get_context(d, "S-1", "DEV", "BUILD")
    assert not result.from_cache and "P-1" in result.assembled.context


async def test_a_decision_reaches_the_story_context_and_a_retry_without_an_id_adds_nothing() -> None:
    d, _, _, published = deps()
    await commands.create_story(d, "S-1", title="Health")
    decision = commands.decision_input("S-1", "Use FastAPI", role="DEV")
    again = commands.decision_input("S-1", "Use FastAPI", role="DEV")
    assert decision.decision_id == again.decision_id
    await commands.add_project_decision(d, "S-1", decision)
    context = await queries.get_context(d, "S-1", "DEV", "BUILD")
    assert "Use FastAPI" in context.assembled.context
    assert published.of(events.ContextUpdated)[-1].changes == [f"decision:{decision.decision_id}"]


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda d: queries.get_context(d, "", "DEV", "BUILD"), "story_id"),
        (lambda d: queries.get_context(d, "S-1", "DEV", "BUILD", token_budget=-1), "token_budget"),
        (lambda d: commands.transition_phase(d, "S-1", "DESIGN", "LAUNCH"), "to_phase"),
        (lambda d: commands.create_task(d, "S-1", "T-1", "DEV", depends_on=["T-1"]), "depends_on"),
        (lambda d: queries.get_graph_relationships(d, "S-1", "Planet"), "node_label"),
        (lambda d: commands.update_context(d, "S-1"), "decisions"),
    ],
)
async def test_bad_arguments_name_their_field(call: Callable[[Deps], Awaitable[object]], field: str) -> None:
    d, _, _, published = deps()
    with pytest.raises(InvalidArgument) as err:
        await call(d)
    assert err.value.field == field and not published


async def test_unknown_stories_are_not_found() -> None:
    d, _, _, _ = deps()
    with pytest.raises(NotFound):
        await queries.get_context(d, "S-404", "DEV", "BUILD")
    with pytest.raises(NotFound):
        await commands.transition_phase(d, "S-404", "DESIGN", "BUILD")
