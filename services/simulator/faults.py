"""Decide, per request index, which fault (if any) a request suffers.

Seeding the RNG with (seed, request index) makes a fault sequence repeatable:
the n-th request after a knob change always gets the same fate.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from services.simulator.settings import Knobs


@dataclass(frozen=True)
class FaultPlan:
    status: int | None = None
    stall: bool = False
    drop: bool = False
    malformed: bool = False


def plan_for(knobs: Knobs, index: int) -> FaultPlan:
    rng = random.Random(f"{knobs.seed}:{index}")
    draw = rng.random()
    status = None
    cumulative = 0.0
    for code, rate in sorted(knobs.error_rates.items()):
        cumulative += rate
        if draw < cumulative:
            status = code
            break
    return FaultPlan(
        status=status,
        stall=rng.random() < knobs.stall_prob,
        drop=rng.random() < knobs.drop_prob,
        malformed=rng.random() < knobs.malformed_json_prob,
    )


def break_json(text: str) -> str:
    """Cut a JSON document short so no parser accepts it."""
    cut = max(1, (len(text) * 2) // 3)
    return text[:cut].rstrip("}] \n") + ', "'
