"""Ranking a council's candidates, two ways (see domain/selection.py for which runs when):

- weighted (the first method): Borda points from peer ranks, mean rubric scores and the pass
  ratio of deterministic checks, weighted, with a deterministic tie-break;
- pairwise: strengths fitted to every within-reviewer comparison (domain/pairwise.py), gated
  by the checks, with the margin of the win and whether it is within its standard error."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from statistics import fmean

from pydantic import BaseModel

from services.orchestrator.domain.model import RUBRIC, Candidate, CheckResult, Proposal, Review
from services.orchestrator.domain.pairwise import SCORE_UNIT, Comparison, Strengths, fit
from services.orchestrator.domain.selection import SelectionPolicy
from services.orchestrator.domain.structured_answers import MAX_SCORE, MIN_SCORE

# A candidate with no data for a component the rest of the council has (its reviews were all
# invalid, say) gets the middle of the scale: neither rewarded nor punished for missing data.
NEUTRAL = 0.5


class ScoreWeights(BaseModel, frozen=True):
    rank: float = 0.35
    rubric: float = 0.35
    checks: float = 0.30
    # Running the code is the strongest signal there is; it weighs as much as the rest together
    # wherever it ran (a component nobody has does not count).
    execution: float = 1.0


def borda_points(review: Review) -> float | None:
    # With a single proposal to rank, the rank says nothing.
    if review.ranked_of < 2:
        return None
    return (review.ranked_of - review.rank) / (review.ranked_of - 1)


def rubric_points(review: Review, rubric_weights: Mapping[str, float]) -> float:
    span = MAX_SCORE - MIN_SCORE
    return sum(w * (review.scores[label] - MIN_SCORE) / span for label, w in rubric_weights.items())


def check_points(checks: Sequence[CheckResult]) -> float | None:
    if not checks:
        return None
    return sum(c.passed for c in checks) / len(checks)


def _mean(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return fmean(present) if present else None


def score_candidate(
    proposal: Proposal,
    reviews: Sequence[Review],
    checks: Sequence[CheckResult],
    rubric_weights: Mapping[str, float],
) -> Candidate:
    received = [r for r in reviews if r.target == proposal.agent_id]
    ranked = [r for r in received if r.ranked_of >= 2]
    return Candidate(
        agent_id=proposal.agent_id,
        proposal=proposal.text,
        version=proposal.version,
        reviews=received,
        borda_score=_mean([borda_points(r) for r in ranked]),
        mean_rank=_mean([float(r.rank) for r in ranked]),
        rubric_score=_mean([rubric_points(r, rubric_weights) for r in received]),
        rubric_by_label={label: fmean(r.scores[label] for r in received) for label in RUBRIC if received},
        checks=list(checks),
        check_score=check_points(checks),
    )


def final_scores(candidates: Sequence[Candidate], weights: ScoreWeights) -> list[float]:
    components = [
        (weights.rank, [c.borda_score for c in candidates]),
        (weights.rubric, [c.rubric_score for c in candidates]),
        (weights.checks, [c.check_score for c in candidates]),
        (weights.execution, [c.execution_score for c in candidates]),
    ]
    # A component counts only if some candidate has it, so a council of one is not diluted.
    live = [(w, values) for w, values in components if w > 0 and any(v is not None for v in values)]
    total = sum(w for w, _ in live)
    if total == 0:
        return [0.0 for _ in candidates]
    return [round(sum(w * _or_neutral(values[i]) for w, values in live) / total, 9) for i in range(len(candidates))]


def _or_neutral(value: float | None) -> float:
    return NEUTRAL if value is None else value


def tie_break_key(candidate: Candidate) -> tuple[float, float, float, str]:
    return (
        -candidate.final_score,
        -_or_neutral(candidate.check_score),
        -_or_neutral(candidate.rubric_score),
        candidate.agent_id,
    )


def aggregate(
    proposals: Sequence[Proposal],
    reviews: Sequence[Review],
    checks: Mapping[str, Sequence[CheckResult]],
    rubric_weights: Mapping[str, float],
    *,
    personas: Mapping[str, str] | None = None,
    weights: ScoreWeights | None = None,
    execution: Mapping[str, float] | None = None,
) -> list[Candidate]:
    """Candidates best first, `rank` 1..n. Ties: final score, then checks, rubric, agent_id."""
    weights = weights or ScoreWeights()
    scored = [
        score_candidate(p, reviews, checks.get(p.agent_id, ()), rubric_weights).model_copy(
            update={"execution_score": (execution or {}).get(p.agent_id)}
        )
        for p in proposals
    ]
    finals = final_scores(scored, weights)
    scored = [
        c.model_copy(update={"final_score": f, "persona": (personas or {}).get(c.agent_id, "")})
        for c, f in zip(scored, finals, strict=True)
    ]
    ranked = sorted(scored, key=tie_break_key)
    return [c.model_copy(update={"rank": i + 1}) for i, c in enumerate(ranked)]


# -- the pairwise method (SelectionPolicy.aggregation == "pairwise") -------------------------


class Verdict(BaseModel, frozen=True):
    """How clear the win was: the winner's lead in strength over the runner-up, its standard
    error, and whether the lead is within one standard error (a coin flip, not a decision)."""

    margin: float | None = None
    margin_error: float | None = None
    tied: bool = False


# The middle of the rubric scale, as a pseudo-candidate that lone reviews are compared with.
SCALE = "\x00scale"


def comparisons(
    reviews: Sequence[Review],
    final_round: int,
    rubric_weights: Mapping[str, float],
    earlier: float,
    absolute: float = 0.0,
    score_unit: float = SCORE_UNIT,
) -> list[Comparison]:
    """Each pair one reviewer saw in one call, with the margin its ranking and scores give; and,
    weighing `absolute`, each review against the middle of the scale, which lets scores given
    by different reviewers be compared too (reviewers of one model share most of their scale)."""
    calls: dict[tuple[str, int, int], list[Review]] = {}
    for r in reviews:
        calls.setdefault((r.reviewer, r.round, r.call), []).append(r)
    found = []
    for (_, round_no, _), seen in sorted(calls.items()):
        weight = 1.0 if round_no == final_round else earlier
        if weight <= 0:
            continue
        seen = sorted(seen, key=lambda r: r.label)
        span = MAX_SCORE - MIN_SCORE
        # A reviewer who saw one proposal (a council of two) can only place it on the scale.
        on_scale = weight * (1.0 if len(seen) == 1 else absolute)
        for x in seen if on_scale > 0 else ():
            points = (rubric_points(x, rubric_weights) - 0.5) * span
            found.append(Comparison(x.target, SCALE, SCORE_UNIT * points, on_scale))
        for i, x in enumerate(seen):
            for y in seen[i + 1 :]:
                order = (y.rank > x.rank) - (y.rank < x.rank)
                points = (rubric_points(x, rubric_weights) - rubric_points(y, rubric_weights)) * span
                found.append(Comparison(x.target, y.target, order + score_unit * points, weight))
    return found


def check_tier(checks: Sequence[CheckResult]) -> int:
    return -sum(not c.passed for c in checks)


def rank_pairwise(
    proposals: Sequence[Proposal],
    reviews: Sequence[Review],
    checks: Mapping[str, Sequence[CheckResult]],
    rubric_weights: Mapping[str, float],
    *,
    final_round: int,
    earlier: float = 0.0,
    absolute: float = 0.0,
    score_unit: float = SCORE_UNIT,
    gate_checks: bool = True,
    check_weight: float = 0.0,
    personas: Mapping[str, str] | None = None,
) -> tuple[list[Candidate], Verdict]:
    """Candidates best first by (check tier if gated, reviewed before unreviewed, strength plus
    `check_weight` if every check passed); `reviews` may hold every round, earlier
    rounds weigh `earlier`. A candidate nobody reviewed gets no credit it did not earn: it ranks
    below every reviewed one of its tier."""
    ids = [p.agent_id for p in proposals]
    found = comparisons(reviews, final_round, rubric_weights, earlier, absolute, score_unit)
    strengths = fit([*ids, SCALE], found)
    compared = {c.first for c in found} | {c.second for c in found}
    final = [r for r in reviews if r.round == final_round]
    scored = []
    for p in proposals:
        candidate = score_candidate(p, final, checks.get(p.agent_id, ()), rubric_weights)
        strength = strengths.value[p.agent_id] if p.agent_id in compared else None
        if strength is not None and candidate.checks and all(c.passed for c in candidate.checks):
            strength += check_weight
        scored.append((candidate, strength))

    def key(item: tuple[Candidate, float | None]) -> tuple[int, int, float, str]:
        candidate, strength = item
        tier = check_tier(candidate.checks) if gate_checks else 0
        return (-tier, strength is None, -(strength or 0.0), candidate.agent_id)

    ranked = sorted(scored, key=key)
    out = [
        c.model_copy(
            update={
                "rank": i + 1,
                "final_score": round(1 / (1 + math.exp(-s)), 9) if s is not None else 0.0,
                "persona": (personas or {}).get(c.agent_id, ""),
            }
        )
        for i, (c, s) in enumerate(ranked)
    ]
    return out, verdict(ranked, strengths, gate_checks)


def verdict(ranked: Sequence[tuple[Candidate, float | None]], strengths: Strengths, gated: bool) -> Verdict:
    if len(ranked) < 2:
        return Verdict()
    (first, s1), (second, s2) = ranked[0], ranked[1]
    if s1 is None or s2 is None or (gated and check_tier(first.checks) != check_tier(second.checks)):
        return Verdict()  # the checks, or the lack of any review, decided: no margin to report
    margin = s1 - s2
    error = strengths.gap_error(first.agent_id, second.agent_id)
    return Verdict(margin=round(margin, 6), margin_error=round(error, 6), tied=margin <= error)


def select(
    proposals: Sequence[Proposal],
    reviews: Sequence[Review],
    checks: Mapping[str, Sequence[CheckResult]],
    rubric_weights: Mapping[str, float],
    policy: SelectionPolicy,
    *,
    final_round: int,
    personas: Mapping[str, str] | None = None,
    execution: Mapping[str, float] | None = None,
) -> tuple[list[Candidate], Verdict]:
    """Rank by the policy's method. The weighted method sees only the final round's reviews.
    Execution counts as a component of the weighted method and comes first in the pairwise one."""
    if policy.aggregation == "weighted":
        final = [r for r in reviews if r.round == final_round]
        return aggregate(proposals, final, checks, rubric_weights, personas=personas, execution=execution), Verdict()
    ranked, verdict = rank_pairwise(
        proposals,
        reviews,
        checks,
        rubric_weights,
        final_round=final_round,
        earlier=policy.earlier_rounds,
        absolute=policy.absolute_scores,
        score_unit=policy.score_unit,
        gate_checks=policy.gate_checks,
        check_weight=policy.check_weight,
        personas=personas,
    )
    return execution_first(ranked, verdict, execution)


def execution_first(
    ranked: list[Candidate], verdict: Verdict, execution: Mapping[str, float] | None
) -> tuple[list[Candidate], Verdict]:
    """Where code ran, a candidate whose code passes fewer of the council's tests cannot outrank
    one that passes more; the judges order the candidates that pass as many (a stable sort)."""
    if not execution:
        return ranked, verdict
    ordered = sorted(ranked, key=lambda c: -execution.get(c.agent_id, 0.0))
    if ordered[0].agent_id != ranked[0].agent_id:
        verdict = Verdict()  # the tests decided: the judges' margin says nothing about this pair
    return [c.model_copy(update={"rank": i + 1}) for i, c in enumerate(ordered)], verdict
