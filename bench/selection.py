"""Does the council pick the best proposal? A seeded simulation with known ground truth.

Each council draws K candidates with a latent quality (bench/selection_world.py); judges
perceive it through a noise model whose every parameter is named, in a YAML profile, with its
source (bench/profiles/*.yaml, bench/selection_profile.py). Conclave's methods run through the
production engine: the real review assignment and label orders, the real prompts (for prompt
tokens), the real review parsing, repairs, checks and aggregation; only the model is simulated.
The other methods and the oracles judge the same final drafts of the same councils.

Printed per profile and method: top-1 accuracy (the winner is the best final draft), mean
regret (best quality minus the winner's, in SDs of quality), the winner's mean quality, LLM
calls and prompt tokens per deliberation (tokens counted on the first --measure councils).
The last line is one JSON object for the default profile.

Usage: python bench/selection.py [--profile FILE ...] [--councils 200] [--seed 1] [--measure 20] [--ablations]
No server is needed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table
from selection_calibration import PUBLISHED, check
from selection_methods import (
    Pick,
    conclave,
    llm_council,
    oracle_same_model,
    oracle_true,
    random_pick,
    single_judge,
)
from selection_profile import Profile, load
from selection_world import World

from services.orchestrator.domain.council import Council, Role, default_council
from services.orchestrator.domain.selection import DEFAULT, LEGACY, SelectionPolicy

PROFILES = Path(__file__).parent / "profiles"
OURS, TODAY, COUNCIL, SINGLE = "Conclave, improved", "Conclave, today", "llm-council mean rank", "single judge (MoA)"
SAME_MODEL, TRUE_BEST, RANDOM = "oracle: same-model judges", "oracle: true best", "random"
# Rules of the improved method switched off one at a time, to see what each pays for.
ABLATIONS: dict[str, SelectionPolicy] = {
    "improved, shuffled labels": DEFAULT.model_copy(update={"ordering": "shuffled"}),
    "improved, final round only": DEFAULT.model_copy(update={"earlier_rounds": 0.0}),
    "improved, checks gating": DEFAULT.model_copy(update={"gate_checks": True}),
    "improved, checks ignored": DEFAULT.model_copy(update={"check_weight": 0.0}),
    "improved, checks weigh 0.5": DEFAULT.model_copy(update={"check_weight": 0.5}),
    "improved, absolute scores 0.5": DEFAULT.model_copy(update={"absolute_scores": 0.5}),
    "improved, ranks only": DEFAULT.model_copy(update={"score_unit": 0.0}),
    "improved, scores 0.25 a point": DEFAULT.model_copy(update={"score_unit": 0.25}),
    "improved, no referee": DEFAULT.model_copy(update={"referee": "never"}),
    "improved, referee always": DEFAULT.model_copy(update={"referee": "always"}),
    "improved, two referees": DEFAULT.model_copy(update={"referees": 2}),
    "today + balanced labels": LEGACY.model_copy(update={"ordering": "balanced"}),
}


@dataclass
class Tally:
    hits: int = 0
    regret: float = 0.0
    quality: float = 0.0
    calls: int = 0
    tokens: int = 0
    measured: int = 0
    tied: int = 0
    tied_hits: int = 0
    n: int = 0

    def add(self, pick: Pick, quality: Callable[[str], float], best: str, measured: bool) -> None:
        self.n += 1
        hit = pick.winner == best
        self.hits += hit
        self.regret += quality(best) - quality(pick.winner)
        self.quality += quality(pick.winner)
        self.calls += pick.calls
        if measured:
            self.measured += 1
            self.tokens += pick.prompt_tokens
        self.tied += pick.tied
        self.tied_hits += pick.tied and hit

    @property
    def accuracy(self) -> float:
        return self.hits / self.n


@dataclass
class Outcome:
    profile: Profile
    tallies: dict[str, Tally] = field(default_factory=dict)

    def tally(self, name: str) -> Tally:
        return self.tallies.setdefault(name, Tally())


def council_for(profile: Profile) -> Council:
    """The production default council, each seat naming its model (AgentSpec.model), so calls
    reach the simulated judge the way RoutedLLM would route them."""
    council = default_council(Role.ARCHITECT, profile.agents)
    agents = tuple(a.model_copy(update={"model": m}) for a, m in zip(council.agents, profile.seats, strict=True))
    return council.model_copy(update={"agents": agents})


async def one_council(profile: Profile, out: Outcome, seed: str, measure: bool, ablations: bool) -> None:
    council = council_for(profile)
    world = World.draw(profile, seed, [a.agent_id for a in council.agents], full_text=measure)
    rounds = profile.rounds
    ours, versions, generate = await conclave(world, council, DEFAULT, rounds, measure=measure)

    def quality(agent: str) -> float:
        return world.quality(agent, versions[agent])

    best = oracle_true(world, versions).winner
    picks = {
        TRUE_BEST: oracle_true(world, versions),
        SAME_MODEL: oracle_same_model(world, versions),
        OURS: ours,
        TODAY: (await conclave(world, council, LEGACY, rounds, measure=measure))[0],
        COUNCIL: llm_council(world, council, versions, rounds, generate, measure=measure),
        SINGLE: single_judge(world, council, versions, rounds, generate, measure=measure),
        RANDOM: random_pick(world),
    }
    for name, policy in ABLATIONS.items() if ablations else ():
        picks[name] = (await conclave(world, council, policy, rounds, measure=measure))[0]
    for name, pick in picks.items():
        out.tally(name).add(pick, quality, best, measure)
    # What revision buys: the improved method with the other number of rounds, same councils.
    other = 0 if rounds else 1
    pick, other_versions, _ = await conclave(world, council, DEFAULT, other, measure=measure)

    def other_quality(agent: str) -> float:
        return world.quality(agent, other_versions[agent])

    other_best = oracle_true(world, other_versions).winner
    out.tally(f"improved, R={other}").add(pick, other_quality, other_best, measure)


async def run(profile: Profile, councils: int, seed: int, measure: int, ablations: bool) -> Outcome:
    out = Outcome(profile)
    for i in range(councils):
        # Councils i of every profile share their seed: profiles compare on like draws.
        await one_council(profile, out, f"{seed}:{i}", i < measure, ablations)
    return out


def show(console: Console, out: Outcome, seconds: float) -> None:
    p = out.profile
    table = Table(title=f"{p.name}: {p.about} (K={p.agents}, R={p.rounds}, {out.tallies[OURS].n} councils, "
                        f"{seconds:.1f} s)")  # fmt: skip
    for col in ("method", "top-1 accuracy", "mean regret", "winner quality", "LLM calls", "prompt tokens",
                "reported tied (accuracy when tied)"):  # fmt: skip
        table.add_column(col, justify="left" if col == "method" else "right")
    for name, t in out.tallies.items():
        tokens = f"{t.tokens / t.measured:,.0f}" if t.measured and t.tokens else "-"
        tied = f"{t.tied / t.n:.0%} ({t.tied_hits / t.tied:.0%})" if t.tied else "-"
        table.add_row(name, f"{t.accuracy:.1%}", f"{t.regret / t.n:.3f}", f"{t.quality / t.n:+.3f}",
                      f"{t.calls / t.n:.2f}", tokens, tied)  # fmt: skip
    console.print(table)


def show_calibration(console: Console, profile: Profile) -> None:
    table = Table(title=f"{profile.name}: one judge, best-of-4, simulated against the published figures")
    table.add_column("model")
    for name in PUBLISHED:
        table.add_column(name.replace("_", " "), justify="right")
    table.add_row("published", *(f"{v:.0%}" for v in PUBLISHED.values()))
    for name, model in profile.models.items():
        found = check(profile, model, draws=400)
        table.add_row(name, *(f"{found[k]:.0%}" for k in PUBLISHED))
    console.print(table)


def headline(out: Outcome) -> dict[str, float]:
    t = out.tallies
    return {
        "profile": out.profile.name,  # type: ignore[dict-item]
        "councils": t[OURS].n,
        "accuracy_ours": round(t[OURS].accuracy, 4),
        "accuracy_today": round(t[TODAY].accuracy, 4),
        "accuracy_llm_council": round(t[COUNCIL].accuracy, 4),
        "accuracy_single_judge": round(t[SINGLE].accuracy, 4),
        "accuracy_random": round(t[RANDOM].accuracy, 4),
        "accuracy_same_model_oracle": round(t[SAME_MODEL].accuracy, 4),
        "oracle_share": round(t[OURS].accuracy / t[SAME_MODEL].accuracy, 4),
        "lead_over_llm_council_points": round(100 * (t[OURS].accuracy - t[COUNCIL].accuracy), 2),
        "calls_ratio": round(t[OURS].calls / t[TODAY].calls, 4),
        "regret_ours": round(t[OURS].regret / t[OURS].n, 4),
        "regret_llm_council": round(t[COUNCIL].regret / t[COUNCIL].n, 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", action="append", type=Path, help="a profile YAML (repeatable); "
                        "default: every file in bench/profiles")  # fmt: skip
    parser.add_argument("--councils", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--measure", type=int, default=20, help="councils whose prompt tokens are counted")
    parser.add_argument("--ablations", action="store_true", help="also run the improved method with each "
                        "of its rules switched off")  # fmt: skip
    args = parser.parse_args()
    paths = args.profile or sorted(PROFILES.glob("*.yaml"))
    console = Console(width=160)
    outcomes = []
    for path in paths:
        profile = load(path)
        t0 = time.perf_counter()
        out = asyncio.run(run(profile, args.councils, args.seed, args.measure, args.ablations))
        show(console, out, time.perf_counter() - t0)
        show_calibration(console, profile)
        outcomes.append(out)
    behind = [o.profile.name for o in outcomes if o.tallies[OURS].hits < o.tallies[COUNCIL].hits]
    console.print(f"profiles where the improved method is behind llm-council's mean rank: {behind or 'none'}")
    by_name = {o.profile.name: o for o in outcomes}
    default = by_name.get("default", outcomes[0])
    extra: dict[str, object] = {"profiles_behind_llm_council": behind}
    if "mixed-model-council" in by_name and "default" in by_name:
        gain = by_name["mixed-model-council"].tallies[OURS].accuracy - default.tallies[OURS].accuracy
        console.print(f"a second model family in one seat of three: {100 * gain:+.1f} points of top-1 accuracy")
        extra["second_family_points"] = round(100 * gain, 2)
    revision = [t for name, t in default.tallies.items() if name.startswith("improved, R=")]
    if revision:
        ours, other = default.tallies[OURS], revision[0]
        console.print(f"revision (R={default.profile.rounds} against the other): winner quality "
                      f"{ours.quality / ours.n:+.3f} vs {other.quality / other.n:+.3f} SD, "
                      f"{ours.calls / ours.n:.1f} vs {other.calls / other.n:.1f} calls")  # fmt: skip
        extra["winner_quality_ours"] = round(ours.quality / ours.n, 4)
        extra["winner_quality_other_rounds"] = round(other.quality / other.n, 4)
    print(json.dumps({**headline(default), **extra}))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
