"""The selection rules the bench kept: balanced orders, pairwise strengths, no credit for missing
reviews, checks that gate when asked, the margin and tie of a win, four referees for close calls."""

from __future__ import annotations

from collections import Counter

import pytest

from services.orchestrator.domain.aggregation import comparisons, rank_pairwise, select
from services.orchestrator.domain.council import Council, Role, default_council
from services.orchestrator.domain.model import RUBRIC, CheckResult, Proposal, Review
from services.orchestrator.domain.pairwise import Comparison, fit
from services.orchestrator.domain.selection import (
    DEFAULT,
    LEGACY,
    SelectionPolicy,
    referees,
    review_order,
    ring_order,
)

EQUAL = {label: 1 / len(RUBRIC) for label in RUBRIC}


def review(reviewer: str, target: str, rank: int, score: int, of: int, label: str, round_no: int = 2) -> Review:
    return Review(
        reviewer=reviewer, target=target, round=round_no, label=label,
        scores={k: score for k in RUBRIC}, rank=rank, ranked_of=of, critique="ok",
    )  # fmt: skip


def proposals(*ids: str) -> list[Proposal]:
    return [Proposal(agent_id=i, text=f"text {i}", version=1) for i in ids]


def peer_reviews(prefer: dict[str, int], round_no: int = 2) -> list[Review]:
    """Every agent reviews the other two; the one with the higher `prefer` mark wins each pair."""
    out = []
    for reviewer in prefer:
        others = sorted((a for a in prefer if a != reviewer), key=lambda a: -prefer[a])
        for rank, target in enumerate(others, start=1):
            out.append(review(reviewer, target, rank, prefer[target], len(others), "AB"[rank - 1], round_no))
    return out


@pytest.mark.parametrize("k", [2, 3, 4, 5, 7])
def test_balanced_orders_put_every_author_in_every_position_once_per_round(k: int) -> None:
    authors = [f"dev-{i}" for i in range(1, k + 1)]
    for round_no in (1, 2):
        orders = {r: review_order("dlb", round_no, r, authors, balanced=True) for r in authors}
        for reviewer, order in orders.items():
            assert reviewer not in order and sorted(order) == sorted(set(authors) - {reviewer})
        for position in range(k - 1):
            assert Counter(order[position] for order in orders.values()) == Counter({a: 1 for a in authors})


def test_over_two_rounds_each_reviewer_sees_each_pair_in_both_orders() -> None:
    authors = ["dev-1", "dev-2", "dev-3"]
    for reviewer in authors:
        first = review_order("dlb", 1, reviewer, authors, balanced=True)
        second = review_order("dlb", 2, reviewer, authors, balanced=True)
        assert second == first[::-1]


def test_orders_are_seeded_by_the_deliberation_and_the_legacy_shuffle_is_kept() -> None:
    authors = [f"dev-{i}" for i in range(1, 6)]
    rings = {tuple(ring_order(d, authors)) for d in ("a", "b", "c", "d")}
    assert len(rings) > 1
    again = review_order("x", 1, "dev-1", authors, balanced=True)
    assert review_order("x", 1, "dev-1", authors, balanced=True) == again
    shuffled = review_order("x", 1, "dev-1", authors, balanced=False)
    assert sorted(shuffled) == authors[1:]


def test_pairwise_strengths_recover_a_consistent_order_with_a_measured_uncertainty() -> None:
    found = [Comparison("a", "b", 1.0), Comparison("b", "c", 1.0), Comparison("a", "c", 2.0)]
    strengths = fit(["a", "b", "c"], found)
    assert strengths.value["a"] > strengths.value["b"] > strengths.value["c"]
    assert strengths.value["a"] - strengths.value["b"] == pytest.approx(1.0, abs=0.05)
    assert 0 < strengths.gap_error("a", "b") < 2


def test_comparisons_are_read_within_each_review_call_and_earlier_rounds_weigh_less() -> None:
    reviews = [review("c", "a", 1, 8, 2, "A", round_no=2), review("c", "b", 2, 6, 2, "B", round_no=2)]
    reviews += [review("c", "a", 2, 5, 2, "B", round_no=1), review("c", "b", 1, 5, 2, "A", round_no=1)]
    found = comparisons(reviews, final_round=2, rubric_weights=EQUAL, earlier=0.5)
    final = next(c for c in found if c.weight == 1.0)
    earlier = next(c for c in found if c.weight == 0.5)
    assert (final.first, final.second) == ("a", "b") and final.margin > 1  # ranked first, two points up
    assert (earlier.first, earlier.second) == ("b", "a") and earlier.margin == 1
    assert comparisons(reviews, final_round=2, rubric_weights=EQUAL, earlier=0.0) == [final]


def test_the_pairwise_method_ranks_by_peer_comparisons() -> None:
    reviews = peer_reviews({"a": 3, "b": 9, "c": 6})
    ranked, verdict = rank_pairwise(proposals("a", "b", "c"), reviews, {}, EQUAL, final_round=2)
    assert [c.agent_id for c in ranked] == ["b", "c", "a"]
    assert [c.rank for c in ranked] == [1, 2, 3]
    assert ranked[0].final_score > ranked[1].final_score > ranked[2].final_score
    assert verdict.margin is not None and verdict.margin > 0 and verdict.margin_error is not None


def test_a_candidate_nobody_reviewed_gets_no_neutral_credit() -> None:
    # "z" has no reviews at all; "a" was reviewed and judged the worse of the pair.
    reviews = peer_reviews({"a": 2, "b": 8})
    ranked, _ = rank_pairwise(proposals("z", "a", "b"), reviews, {}, EQUAL, final_round=2)
    assert [c.agent_id for c in ranked] == ["b", "a", "z"]
    assert ranked[-1].final_score == 0.0


def test_checks_gate_only_when_the_policy_says_so() -> None:
    reviews = peer_reviews({"a": 3, "b": 9, "c": 6})
    broken = {"b": [CheckResult(name="python.compile", passed=False)], "a": [], "c": []}
    gated, verdict = rank_pairwise(proposals("a", "b", "c"), reviews, broken, EQUAL, final_round=2, gate_checks=True)
    assert [c.agent_id for c in gated][-1] == "b"
    assert verdict.margin is not None  # c and a were compared on equal checks
    soft, _ = rank_pairwise(proposals("a", "b", "c"), reviews, broken, EQUAL, final_round=2, gate_checks=False)
    assert soft[0].agent_id == "b"


def test_a_clear_win_is_not_tied_and_a_coin_flip_is() -> None:
    clear = peer_reviews({"a": 1, "b": 10, "c": 2}) + peer_reviews({"a": 1, "b": 10, "c": 2}, round_no=1)
    _, verdict = rank_pairwise(proposals("a", "b", "c"), clear, {}, EQUAL, final_round=2, earlier=1.0)
    assert verdict.tied is False and verdict.margin is not None
    assert verdict.margin_error is not None and verdict.margin > verdict.margin_error
    # Each reviewer prefers whoever it sees first: the strengths cancel out.
    flip = [review(r, t, 1 if lab == "A" else 2, 5, 2, lab) for r, t, lab in
            [("a", "b", "A"), ("a", "c", "B"), ("b", "c", "A"), ("b", "a", "B"), ("c", "a", "A"), ("c", "b", "B")]]
    _, verdict = rank_pairwise(proposals("a", "b", "c"), flip, {}, EQUAL, final_round=2)
    assert verdict.tied is True and verdict.margin == pytest.approx(0.0, abs=1e-9)


def test_select_keeps_the_first_method_for_the_legacy_policy() -> None:
    reviews = peer_reviews({"a": 3, "b": 9, "c": 6}) + peer_reviews({"a": 9, "b": 1, "c": 1}, round_no=1)
    legacy, verdict = select(proposals("a", "b", "c"), reviews, {}, EQUAL, LEGACY, final_round=2)
    assert legacy[0].agent_id == "b" and verdict.margin is None  # earlier rounds ignored
    _, verdict = select(proposals("a", "b", "c"), reviews, {}, EQUAL, DEFAULT, final_round=2)
    assert verdict.margin is not None


def test_four_referees_alternate_orders_and_take_the_families_in_turn() -> None:
    seats = referees(default_council(Role.QA))
    assert len(seats) == DEFAULT.referees == 4
    assert len({judge.agent_id for judge, _ in seats}) == 4 and all(j.role == Role.QA for j, _ in seats)
    assert [backwards for _, backwards in seats] == [False, True, False, True]
    assert {judge.model for judge, _ in seats} == {""}
    assert [judge.agent_id for judge, _ in referees(default_council(Role.QA), 2)] == [j.agent_id for j, _ in seats[:2]]
    mixed = default_council(Role.QA).agents
    mixed = (mixed[0], mixed[1].model_copy(update={"model": "family-b", "endpoint": "http://b/v1"}), mixed[2])
    seats = referees(Council(role=Role.QA, agents=mixed))
    assert [judge.model for judge, _ in seats] == ["", "family-b", "", "family-b"]
    assert seats[1][0].endpoint == "http://b/v1"
    authors = ["qa-1", "qa-2", "qa-3"]
    assert ring_order("d", authors, reversed_=True) == ring_order("d", authors)[::-1]


@pytest.mark.asyncio
async def test_referees_are_consulted_only_on_a_close_call_and_see_every_proposal() -> None:
    from services.orchestrator.deliberation import deliberate
    from tests.unit.test_deliberation_engine import _PROPOSAL, QUALITY, ScriptedLLM, make_request

    clear = ScriptedLLM(quality={"dev-1": 1, "dev-2": 10, "dev-3": 2})
    result = await deliberate(clear, make_request())
    assert not any("referee" in r.agent_id for r in clear.requests)
    assert result.winner.agent_id == "dev-2" and result.tied is False and result.margin is not None

    close = ScriptedLLM(quality={a: 5 for a in QUALITY})
    result = await deliberate(close, make_request())
    calls = [r for r in close.requests if "referee" in r.agent_id]
    assert len(calls) == 4 and len({c.agent_id for c in calls}) == 4
    orders = [[body.split()[0] for _, body in _PROPOSAL.findall(r.messages[1].content)] for r in calls]
    assert sorted(orders[0]) == sorted(f"author={a}" for a in QUALITY) and orders[1] == orders[0][::-1]
    assert orders[2:] == orders[:2]
    assert result.tied is True and result.margin == pytest.approx(0.0, abs=1e-6)


@pytest.mark.asyncio
async def test_the_policy_says_how_many_referees_a_close_call_gets() -> None:
    from services.orchestrator.deliberation import deliberate
    from tests.unit.test_deliberation_engine import QUALITY, ScriptedLLM, make_request

    for count in (1, 2, 4):
        close = ScriptedLLM(quality={a: 5 for a in QUALITY})
        await deliberate(close, make_request(), policy=DEFAULT.model_copy(update={"referees": count}))
        assert sum("referee" in r.agent_id for r in close.requests) == count
    with pytest.raises(ValueError):
        SelectionPolicy(referees=5)  # one persona each: no more referees than personas
