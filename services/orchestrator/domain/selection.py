"""How a council turns reviews into a winner: the policy, and who reviews whom in which order.

Two policies are kept side by side so the selection bench (bench/selection.py) can measure one
against the other on identical draws: `LEGACY` is the method Conclave shipped first (labels
shuffled per reviewer, a weighted sum of Borda points, rubric means and check ratios, with a
neutral 0.5 for missing data); `DEFAULT` is what the bench showed to pick the best proposal
more often for the same calls.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, Field

from services.orchestrator.domain.council import AgentSpec, Council

REFEREE_PERSONAS = (
    "a referee from outside the council who wrote none of these proposals and judges only "
    "which one best meets the task",
    "a sceptical reviewer from another team who looks first for what would break in production",
    "an engineer from outside the council who will maintain the result and judges which proposal "
    "is simplest to get right",
    "a reviewer from another team who checks each proposal against every stated constraint",
)


class SelectionPolicy(BaseModel, frozen=True):
    # "balanced": every candidate sits in every label position equally often across reviewers,
    # so a judge's preference for the first label adds the same to everyone and cancels.
    ordering: Literal["shuffled", "balanced"] = "balanced"
    # "pairwise": a least-squares strength model over every within-reviewer comparison;
    # "weighted": the first method (Borda + rubric + checks, weighted).
    aggregation: Literal["weighted", "pairwise"] = "pairwise"
    # Weight of reviews of earlier drafts: revision moves a draft's quality only a little, so
    # the reviews that fed the revision still say something about the final draft, for free.
    earlier_rounds: float = Field(default=0.5, ge=0.0, le=1.0)
    # Weight of each review's scores read on their own (against the middle of the scale), next
    # to the within-reviewer comparisons: how candidates that no one saw side by side compare.
    absolute_scores: float = Field(default=0.0, ge=0.0, le=1.0)
    # What one rubric point of difference adds to a within-call comparison whose ranking counts
    # one step. Small: judges' 1..10 scores tie and wander (they capture ~21% of a perfect
    # picker's gain against ~61% for their pairwise choices), and the bench lost accuracy with
    # every larger weight; a tenth of a step per point only separates what a wide gap separates.
    score_unit: float = Field(default=0.1, ge=0.0)
    # A candidate that fails more deterministic checks cannot outrank one that fails fewer. Off:
    # the bench found judges already see hard defects, and a false alarm of the checks then sinks
    # the best draft (a rule kept for roles whose checks are surer than their judges).
    gate_checks: bool = False
    # What passing every deterministic check adds to a strength (in ranking steps): enough to
    # decide between drafts the judges cannot tell apart, not enough to overrule a clear verdict.
    # All-or-nothing, so it means the same for a role with three checks as for one with ten.
    check_weight: float = Field(default=0.1, ge=0.0)
    # When the top two are within one standard error after peer review, referees who wrote
    # none of the proposals each rank them all, every other one in the opposite order: judges
    # whose own errors are independent of the council's, position bias cancelled between them.
    # Calls only when they matter (a second call by the same judge would mostly repeat its
    # first opinion).
    referee: Literal["never", "when_tied", "always"] = "when_tied"
    # How many referees a close call gets. A referee ranks every proposal in one call, so it
    # is the cheapest fresh opinion there is: on the bench four bought about 3 points of top-1
    # accuracy over two for 1.4 more calls per deliberation, where more weight on each of two
    # referees, or a probit fit of the same comparisons, bought nothing.
    referees: int = Field(default=4, ge=1, le=len(REFEREE_PERSONAS))


LEGACY = SelectionPolicy(
    ordering="shuffled",
    aggregation="weighted",
    earlier_rounds=0.0,
    absolute_scores=0.0,
    gate_checks=False,
    referee="never",
)
DEFAULT = SelectionPolicy()


def referees(council: Council, count: int = DEFAULT.referees) -> list[tuple[AgentSpec, bool]]:
    """The first `count` referees of a close call, each with whether it reads the ring reversed
    (every other one does). In a council that mixes model families they take the families in
    turn, so their errors differ too."""
    prefix = council.role.value.lower()
    families = list(dict.fromkeys((a.model, a.endpoint) for a in council.agents)) or [("", "")]
    return [
        (
            AgentSpec(
                agent_id=f"{prefix}-referee-{i + 1}", role=council.role, persona=persona, temperature=0.2,
                model=families[i % len(families)][0], endpoint=families[i % len(families)][1],
            ),
            i % 2 == 1,
        )
        for i, persona in enumerate(REFEREE_PERSONAS[:count])
    ]  # fmt: skip


def ring_order(deliberation_id: str, authors: Sequence[str], *, reversed_: bool = False) -> list[str]:
    """The authors on a ring shuffled once per deliberation (or the ring read backwards)."""
    ring = sorted(authors)
    random.Random(f"{deliberation_id}:ring").shuffle(ring)
    return ring[::-1] if reversed_ else ring


def review_order(
    deliberation_id: str, round_no: int, reviewer: str, authors: Sequence[str], *, balanced: bool
) -> list[str]:
    """The authors one reviewer sees, in label order; never the reviewer itself.

    Balanced: the authors sit on a ring shuffled once per deliberation; a reviewer reads the
    others clockwise from its own seat in odd rounds and anticlockwise in even ones. Each author
    then takes each position once per round (a Latin square), and over two rounds every pair is
    shown to the same reviewer in both orders. Labels stay unpredictable: the ring is seeded by
    the deliberation, and no two reviewers share an order."""
    others = [a for a in authors if a != reviewer]
    if not balanced or reviewer not in authors:
        random.Random(f"{deliberation_id}:{round_no}:{reviewer}").shuffle(others)
        return others
    ring = ring_order(deliberation_id, authors)
    seat, n = ring.index(reviewer), len(ring)
    step = 1 if round_no % 2 == 1 else -1
    return [ring[(seat + step * k) % n] for k in range(1, n)]
