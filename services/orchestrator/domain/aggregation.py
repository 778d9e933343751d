"""Ranking a council's candidates: Borda points from peer ranks, mean rubric scores and the
pass ratio of deterministic checks, weighted, with a deterministic tie-break."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from statistics import fmean

from pydantic import BaseModel

from services.orchestrator.domain.answers import MAX_SCORE, MIN_SCORE
from services.orchestrator.domain.model import RUBRIC, Candidate, CheckResult, Proposal, Review

# A candidate with no data for a component the rest of the council has (its reviews were all
# invalid, say) gets the middle of the scale: neither rewarded nor punished for missing data.
NEUTRAL = 0.5


class ScoreWeights(BaseModel, frozen=True):
    rank: float = 0.35
    rubric: float = 0.35
    checks: float = 0.30


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
    ]
    # A component counts only if some candidate has it, so a council of one is not diluted.
    live = [(w, values) for w, values in components if w > 0 and any(v is not None for v in values)]
    total = sum(w for w, _ in live)
    if total == 0:
        return [0.0 for _ in candidates]
    return [
        round(sum(w * _or_neutral(values[i]) for w, values in live) / total, 9)
        for i in range(len(candidates))
    ]


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
) -> list[Candidate]:
    """Candidates best first, `rank` 1..n. Ties: final score, then checks, rubric, agent_id."""
    weights = weights or ScoreWeights()
    scored = [score_candidate(p, reviews, checks.get(p.agent_id, ()), rubric_weights) for p in proposals]
    finals = final_scores(scored, weights)
    scored = [
        c.model_copy(update={"final_score": f, "persona": (personas or {}).get(c.agent_id, "")})
        for c, f in zip(scored, finals, strict=True)
    ]
    ranked = sorted(scored, key=tie_break_key)
    return [c.model_copy(update={"rank": i + 1}) for i, c in enumerate(ranked)]
