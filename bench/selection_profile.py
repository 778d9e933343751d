"""Selection-bench profiles: YAML files of named parameters, each with the source of its value.

Every leaf is `{value: ..., source: "..."}`; a profile without a source for a value is refused.
Units: a candidate's latent quality is drawn with standard deviation 1, so every error, bias and
gain below is in units of the spread of quality between candidates.

Some published figures are outcomes, not knobs (a flip rate, a tie rate, an effective number of
votes); the profile states the figure and `calibrate` derives the knob that reproduces it.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

CALIBRATION_DRAWS = 8_000


@dataclass(frozen=True)
class JudgeModel:
    """How one model family perceives and reports quality."""

    name: str
    quality_mean: float  # authoring: how good this family's drafts are on average
    error_sd: float  # total error of one judgement of one proposal
    effective_votes: tuple[float, float]  # (n judges, worth m independent votes)
    fresh_per_call: float  # share of a judge's own error redrawn on every call
    position_flip_rate: float  # share of decisive pairwise choices that flip when order swaps
    position_gap_scale: float  # bias decays as exp(-gap / scale): close calls are biased most
    score_center: float  # where an average proposal lands on the 1..10 scale
    score_tie_rate: float  # share of best-of-4 pairs with equal 1..10 scores
    label_jitter: float  # chance one rubric label differs by a point from the judge's overall
    score_noise_sd: float  # extra error of a score read on its own: rating is harder than comparing
    self_recognition: float  # chance a judge recognises its own text when shown it
    self_preference: float  # quality a recognised own text gains in its author's eyes
    invalid_rate: float  # a review answer that fails validation
    invalid_after_repair: float  # ... and fails again after the repair prompt
    # Derived by `calibrate`.
    shared_sd: float = 0.0
    own_sd: float = 0.0
    call_sd: float = 0.0
    position_bias: float = 0.0
    score_slope: float = 0.0


@dataclass(frozen=True)
class Profile:
    name: str
    about: str
    agents: int
    rounds: int
    seats: tuple[str, ...]  # the model of each agent, in council order
    proposal_tokens: int
    defect_rate: float
    defect_cost: float
    check_false_negative: float
    check_false_positive: float
    revision_gain_mean: float
    revision_gain_sd: float
    revision_fixes_defect: float
    models: dict[str, JudgeModel]
    sources: dict[str, str] = field(default_factory=dict)


def load(path: Path) -> Profile:
    raw = yaml.safe_load(path.read_text())
    sources: dict[str, str] = {}

    def get(section: dict[str, Any], key: str, where: str) -> Any:
        name = f"{where}.{key}"
        entry = section.get(key)
        if not isinstance(entry, dict) or "value" not in entry or not str(entry.get("source", "")).strip():
            raise ValueError(f"{path.name}: {name} needs a value and a source")
        sources[name] = str(entry["source"]).strip()
        return entry["value"]

    council, cands, checks, revision = raw["council"], raw["candidates"], raw["checks"], raw["revision"]
    models = {}
    for name, m in raw["models"].items():
        w = f"models.{name}"
        models[name] = JudgeModel(
            name=name,
            quality_mean=float(get(m, "quality_mean", w)),
            error_sd=float(get(m, "error_sd", w)),
            effective_votes=tuple(get(m, "effective_votes", w)),  # type: ignore[arg-type]
            fresh_per_call=float(get(m, "fresh_per_call", w)),
            position_flip_rate=float(get(m, "position_flip_rate", w)),
            position_gap_scale=float(get(m, "position_gap_scale", w)),
            score_center=float(get(m, "score_center", w)),
            score_tie_rate=float(get(m, "score_tie_rate", w)),
            label_jitter=float(get(m, "label_jitter", w)),
            score_noise_sd=float(get(m, "score_noise_sd", w)),
            self_recognition=float(get(m, "self_recognition", w)),
            self_preference=float(get(m, "self_preference", w)),
            invalid_rate=float(get(m, "invalid_rate", w)),
            invalid_after_repair=float(get(m, "invalid_after_repair", w)),
        )
    seats = tuple(get(council, "models", "council"))
    agents = int(get(council, "agents", "council"))
    unknown = [s for s in seats if s not in models]
    if unknown or not seats:
        raise ValueError(f"{path.name}: council.models names unknown models {unknown}")
    profile = Profile(
        name=str(raw.get("name", path.stem)),
        about=str(raw.get("about", "")),
        agents=agents,
        rounds=int(get(council, "rounds", "council")),
        seats=tuple(seats[i % len(seats)] for i in range(agents)),
        proposal_tokens=int(get(cands, "proposal_tokens", "candidates")),
        defect_rate=float(get(cands, "defect_rate", "candidates")),
        defect_cost=float(get(cands, "defect_cost", "candidates")),
        check_false_negative=float(get(checks, "false_negative", "checks")),
        check_false_positive=float(get(checks, "false_positive", "checks")),
        revision_gain_mean=float(get(revision, "gain_mean", "revision")),
        revision_gain_sd=float(get(revision, "gain_sd", "revision")),
        revision_fixes_defect=float(get(revision, "fixes_defect", "revision")),
        models={name: calibrate(m) for name, m in models.items()},
        sources=sources,
    )
    return profile


def calibrate(m: JudgeModel) -> JudgeModel:
    """Turn the published outcome figures into the simulator's knobs."""
    n, worth = m.effective_votes
    # n judges with pairwise error correlation rho are worth n / (1 + (n - 1) rho) votes.
    rho = (n / worth - 1) / (n - 1) if n > 1 else 0.0
    own = m.error_sd * math.sqrt(1 - rho)
    # What one judge perceives of a candidate: its quality plus the judge's whole error.
    spread = math.sqrt(1 + m.error_sd**2)
    rng = random.Random(0)
    gaps = [abs(rng.gauss(0, spread * math.sqrt(2))) for _ in range(CALIBRATION_DRAWS)]

    def flip_rate(beta: float) -> float:
        return sum(g < beta * math.exp(-g / m.position_gap_scale) for g in gaps) / len(gaps)

    beta = _bisect(flip_rate, m.position_flip_rate, 0.0, 50.0)
    rated = math.sqrt(spread**2 + m.score_noise_sd**2)
    perceived = [[rng.gauss(0, rated) for _ in range(4)] for _ in range(CALIBRATION_DRAWS // 4)]

    def tie_rate(slope: float) -> float:
        ties = 0
        for four in perceived:
            a, b, c, d = (max(1, min(10, round(m.score_center + slope * v))) for v in four)
            ties += (a == b) + (a == c) + (a == d) + (b == c) + (b == d) + (c == d)
        return ties / (6 * len(perceived))

    slope = _bisect(lambda s: -tie_rate(s), -m.score_tie_rate, 0.01, 10.0)
    return JudgeModel(
        **{**m.__dict__, "shared_sd": m.error_sd * math.sqrt(rho),
           "own_sd": own * math.sqrt(1 - m.fresh_per_call), "call_sd": own * math.sqrt(m.fresh_per_call),
           "position_bias": beta, "score_slope": slope}
    )  # fmt: skip


def score(center: float, slope: float, value: float) -> int:
    return max(1, min(10, round(center + slope * value)))


def _bisect(f: Any, target: float, lo: float, hi: float) -> float:
    """The x in [lo, hi] where the increasing function f reaches target."""
    for _ in range(24):
        mid = (lo + hi) / 2
        if f(mid) < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2
