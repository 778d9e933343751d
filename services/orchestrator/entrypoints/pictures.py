"""What a deliberation looks like at a glance: who scored whom, and where the time went."""

from __future__ import annotations

from collections import defaultdict
from statistics import fmean

from rich.table import Table

from services.gen.fleet.orchestrator.v1 import orchestrator_pb2 as pb

BAR_WIDTH = 40


def score_matrix(result: pb.DeliberateResponse) -> Table:
    """Reviewer by candidate: each reviewer's mean rubric score for each candidate (rounds pooled).
    A blank cell is a pair with no review: an author never reviews its own draft."""
    given: dict[tuple[str, str], list[float]] = defaultdict(list)
    for candidate in result.ranked:
        for review in candidate.reviews:
            if review.scores:
                given[review.reviewer_id, candidate.agent_id].append(fmean(review.scores.values()))
    reviewers = sorted({reviewer for reviewer, _ in given})
    table = Table("reviewer", *(c.agent_id for c in result.ranked), title="scores given (mean rubric, 1-10)")
    for reviewer in reviewers:
        cells = [given.get((reviewer, c.agent_id)) for c in result.ranked]
        table.add_row(reviewer, *(f"{fmean(s):.1f}" if s else "" for s in cells))
    return table


def stage_timeline(result: pb.DeliberateResponse) -> Table:
    """One bar per stage, its length its share of the slowest stage's time."""
    longest = max((s.duration_ms for s in result.usage.stages), default=0.0)
    table = Table("stage", "calls", "time", "", title="where the time went")
    for stage in result.usage.stages:
        width = round(BAR_WIDTH * stage.duration_ms / longest) if longest else 0
        table.add_row(stage.stage, str(stage.calls), f"{stage.duration_ms / 1000:.1f}s", "█" * width)
    return table
