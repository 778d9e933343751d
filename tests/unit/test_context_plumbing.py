"""Pure pieces around the core: single flight, event-to-row mapping, token estimate."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from services.context.adapters import cypher_params
from services.context.singleflight import SingleFlight
from services.shared.events import (
    CandidateSummary,
    DeliberationCompleted,
    DeliberationFailed,
    PlanApproved,
    PlanTask,
    StoryTransitioned,
)


async def test_single_flight_computes_once_per_key() -> None:
    flights: SingleFlight[int] = SingleFlight()
    calls = 0

    async def compute() -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        return 42

    results = await asyncio.gather(*(flights.run("k", compute) for _ in range(10)))
    assert results == [42] * 10 and calls == 1 and flights.in_flight() == 0
    await flights.run("k", compute)
    assert calls == 2, "a finished flight is not a cache"


async def test_single_flight_shares_failures_then_forgets_them() -> None:
    flights: SingleFlight[int] = SingleFlight()

    async def boom() -> int:
        await asyncio.sleep(0.01)
        raise RuntimeError("neo4j down")

    results = await asyncio.gather(*(flights.run("k", boom) for _ in range(3)), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
    assert flights.in_flight() == 0


def test_plan_rows_nest_tasks_and_keep_text_verbatim() -> None:
    nasty = 'MATCH (n) DETACH DELETE n // "quoted" {braces} ünï'
    event = PlanApproved(
        story_id="S",
        plan_id="P",
        approved_by="a",
        roles=["DEV"],
        title=nasty,
        tasks=[PlanTask(task_id="T", role="DEV", title=nasty, depends_on=["U"])],
    )
    (row,) = cypher_params.plan_rows([event])
    assert row["title"] == nasty and row["tasks"][0]["title"] == nasty
    assert row["tasks"][0]["depends_on"] == ["U"] and row["roles"] == ["DEV"]
    assert row["at"].endswith("Z")


def test_transition_rows_sorted_and_newest_per_story_wins() -> None:
    now = datetime.now(UTC)
    older = StoryTransitioned(story_id="S", from_phase="DESIGN", to_phase="BUILD", timestamp=now - timedelta(1))
    newer = StoryTransitioned(story_id="S", from_phase="BUILD", to_phase="TEST", timestamp=now)
    ordered = cypher_params.transition_rows([newer, older])
    assert [r["to_phase"] for r in ordered] == ["BUILD", "TEST"]
    assert [r["to_phase"] for r in cypher_params.newest_per_story(ordered)] == ["TEST"]


def test_completed_rows_split_winner_and_alternatives() -> None:
    win = CandidateSummary(agent_id="a1", rank=1, score=0.9, proposal="## Use an outbox\nbecause")
    lose = CandidateSummary(agent_id="a2", rank=2, score=0.4, proposal="Dual writes")
    event = DeliberationCompleted(deliberation_id="D", story_id="S", role="DEV", winner=win, candidates=[win, lose])
    winners, alternatives = cypher_params.completed_rows([event])
    assert winners[0]["title"] == "DEV council decision: Use an outbox" and winners[0]["decision_id"] == "dec-D"
    assert [a["agent_id"] for a in alternatives] == ["a2"] and alternatives[0]["winner_id"] == "dec-D"


def test_status_rows_carry_reason() -> None:
    failed = DeliberationFailed(deliberation_id="D", story_id="S", role="QA", reason="model timeout")
    assert cypher_params.status_rows([failed])[0] | {"at": ""} == {
        "deliberation_id": "D",
        "story_id": "S",
        "plan_id": "",
        "plan_version": 1,
        "role": "QA",
        "status": "FAILED",
        "reason": "model timeout",
        "at": "",
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ""),
        ("\n\n# Title here\nbody", "Title here"),
        ("Revised.\n\n## Plan: X\nbody", "Plan: X"),
        ("plain", "plain"),
    ],
)
def test_headline(text: str, expected: str) -> None:
    assert cypher_params.headline(text) == expected
