"""Does a profile reproduce the published figures it was built from? Best-of-4 with one judge.

For each model: 4 candidates of one task, judged by one judge that wrote none of them.
- scores: each candidate scored alone on 1..10 (no position effect), the top score wins, ties
  broken at random; reports the share of pairs tied and the share of a perfect picker's gain
  captured (published: 67% ties, 21% of the gain);
- pairwise: a knockout (two semi-finals, a final), each match one call in a random order;
  reports the gain captured (published: 61%) and how often a match flips when its order is
  swapped (published: 44.8% of decisive choices).
"""

from __future__ import annotations

import random
from statistics import fmean

from selection_profile import JudgeModel, Profile, score
from selection_world import SimulatedLLM, World

AGENTS = ["c1", "c2", "c3", "c4"]
PUBLISHED = {
    "score_tie_rate": 0.67,
    "score_gain_captured": 0.21,
    "pairwise_gain_captured": 0.61,
    "position_flip_rate": 0.448,
}


def check(profile: Profile, model: JudgeModel, draws: int = 2000) -> dict[str, float]:
    single = Profile(**{**profile.__dict__, "seats": (model.name,) * 4, "agents": 4})
    picked_s, picked_p, best, mean = [], [], [], []
    ties = flips = matches = 0
    for i in range(draws):
        world = World.draw(single, f"cal:{model.name}:{i}", AGENTS, full_text=False)
        llm = SimulatedLLM(world)
        rng = random.Random(f"cal:{i}")
        q = {a: world.quality(a, 0) for a in AGENTS}
        scores = {a: score(model.score_center, model.score_slope,
                           llm.judge("judge", model, [(a, 0)])[0] + rng.gauss(0, model.score_noise_sd))
                  for a in AGENTS}  # fmt: skip
        top = max(scores.values())
        picked_s.append(q[rng.choice([a for a in AGENTS if scores[a] == top])])
        ties += sum(scores[a] == scores[b] for j, a in enumerate(AGENTS) for b in AGENTS[j + 1 :])

        def match(x: str, y: str, llm: SimulatedLLM = llm, rng: random.Random = rng) -> str:
            nonlocal flips, matches
            first, second = (x, y) if rng.random() < 0.5 else (y, x)
            vx, vy = llm.judge("judge", model, [(first, 0), (second, 0)])
            wy, wx = llm.judge("judge", model, [(second, 0), (first, 0)])
            matches += 1
            flips += (vx > vy) != (wx > wy)
            return first if vx > vy else second

        picked_p.append(q[match(match("c1", "c2"), match("c3", "c4"))])
        best.append(max(q.values()))
        mean.append(fmean(q.values()))
    gain = fmean(best) - fmean(mean)
    return {
        "score_tie_rate": ties / (6 * draws),
        "score_gain_captured": (fmean(picked_s) - fmean(mean)) / gain,
        "pairwise_gain_captured": (fmean(picked_p) - fmean(mean)) / gain,
        "position_flip_rate": flips / matches,
    }
