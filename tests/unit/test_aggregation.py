"""Rank aggregation: Borda points, rubric means, check ratios, weights and the tie-break."""

from __future__ import annotations

import pytest

from services.orchestrator.domain.aggregation import (
    NEUTRAL,
    ScoreWeights,
    aggregate,
    borda_points,
    rubric_points,
)
from services.orchestrator.domain.model import RUBRIC, CheckResult, Proposal, Review

EQUAL = {label: 1 / len(RUBRIC) for label in RUBRIC}


def review(reviewer: str, target: str, rank: int, score: int = 5, of: int = 2) -> Review:
    return Review(
        reviewer=reviewer,
        target=target,
        round=1,
        label="A",
        scores={label: score for label in RUBRIC},
        rank=rank,
        ranked_of=of,
        critique="ok",
    )


def proposals(*ids: str) -> list[Proposal]:
    return [Proposal(agent_id=i, text=f"text {i}") for i in ids]


def checks(passed: int, total: int) -> list[CheckResult]:
    return [CheckResult(name=f"c{i}", passed=i < passed) for i in range(total)]


def test_borda_points_span_zero_to_one_and_ignore_a_lone_proposal() -> None:
    assert borda_points(review("r", "t", rank=1, of=3)) == 1.0
    assert borda_points(review("r", "t", rank=2, of=3)) == 0.5
    assert borda_points(review("r", "t", rank=3, of=3)) == 0.0
    assert borda_points(review("r", "t", rank=1, of=1)) is None


def test_rubric_points_are_weighted_and_normalised() -> None:
    assert rubric_points(review("r", "t", 1, score=10), EQUAL) == pytest.approx(1.0)
    assert rubric_points(review("r", "t", 1, score=1), EQUAL) == pytest.approx(0.0)
    skewed = review("r", "t", 1)
    skewed.scores["correctness"] = 10
    only_correctness = {"correctness": 1.0, "completeness": 0.0, "clarity": 0.0, "risk": 0.0}
    assert rubric_points(skewed, only_correctness) == pytest.approx(1.0)


def test_peer_ranks_and_rubric_order_the_candidates() -> None:
    reviews = [
        review("a", "b", 1, 9),
        review("a", "c", 2, 4),
        review("b", "a", 2, 3),
        review("b", "c", 1, 6),
        review("c", "a", 2, 2),
        review("c", "b", 1, 8),
    ]
    ranked = aggregate(proposals("a", "b", "c"), reviews, {}, EQUAL)
    assert [c.agent_id for c in ranked] == ["b", "c", "a"]
    assert [c.rank for c in ranked] == [1, 2, 3]
    b = ranked[0]
    assert b.borda_score == 1.0 and b.mean_rank == 1.0
    assert b.rubric_by_label == {label: 8.5 for label in RUBRIC}
    assert [r.reviewer for r in b.reviews] == ["a", "c"]


def test_checks_weigh_in_and_can_overturn_a_close_review() -> None:
    reviews = [review("a", "b", 1, 6), review("b", "a", 1, 5)]
    plain = aggregate(proposals("a", "b"), reviews, {}, EQUAL)
    assert plain[0].agent_id == "b"
    checked = aggregate(proposals("a", "b"), reviews, {"a": checks(3, 3), "b": checks(0, 3)}, EQUAL)
    assert checked[0].agent_id == "a"
    assert checked[0].check_score == 1.0 and checked[1].check_score == 0.0


def test_the_final_score_is_the_weighted_mean_of_the_components() -> None:
    reviews = [review("x", "a", 1, 10, of=2), review("x", "b", 2, 1, of=2)]
    weights = ScoreWeights(rank=1, rubric=1, checks=2)
    ranked = aggregate(
        proposals("a", "b"), reviews, {"a": checks(1, 2), "b": checks(2, 2)}, EQUAL, weights=weights
    )
    a = next(c for c in ranked if c.agent_id == "a")
    b = next(c for c in ranked if c.agent_id == "b")
    assert a.final_score == pytest.approx((1 * 1.0 + 1 * 1.0 + 2 * 0.5) / 4)
    assert b.final_score == pytest.approx((0 + 0 + 2 * 1.0) / 4)


def test_ties_break_on_checks_then_rubric_then_agent_id() -> None:
    # Same final score, different check scores: checks win the tie.
    weights = ScoreWeights(rank=0, rubric=1, checks=1)
    reviews = [review("x", "a", 1, 10), review("x", "b", 1, 1)]
    ranked = aggregate(
        proposals("a", "b"), reviews, {"a": checks(0, 2), "b": checks(2, 2)}, EQUAL, weights=weights
    )
    assert ranked[0].final_score == ranked[1].final_score
    assert [c.agent_id for c in ranked] == ["b", "a"]
    # Nothing to tell them apart: the agent id decides, whatever the input order.
    for order in (("z", "m", "a"), ("a", "z", "m"), ("m", "a", "z")):
        assert [c.agent_id for c in aggregate(proposals(*order), [], {}, EQUAL)] == ["a", "m", "z"]


def test_a_candidate_without_reviews_gets_the_neutral_score_for_them() -> None:
    reviews = [review("a", "b", 1, 10, of=1)]
    ranked = aggregate(proposals("a", "b"), reviews, {}, EQUAL)
    a = next(c for c in ranked if c.agent_id == "a")
    assert a.rubric_score is None and a.borda_score is None
    assert a.final_score == NEUTRAL
    assert ranked[0].agent_id == "b"


def test_nothing_to_score_gives_zero_not_an_error() -> None:
    ranked = aggregate(proposals("solo"), [], {}, EQUAL)
    assert ranked[0].final_score == 0.0 and ranked[0].rank == 1


def test_personas_are_carried_onto_candidates() -> None:
    ranked = aggregate(proposals("a"), [], {"a": checks(1, 1)}, EQUAL, personas={"a": "a tester"})
    assert ranked[0].persona == "a tester" and ranked[0].final_score == 1.0
