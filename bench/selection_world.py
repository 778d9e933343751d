"""One simulated council with known ground truth, and the judge that answers the real engine.

`World` draws, per council, each candidate's latent quality, its hard defect, what the checks
will see, how each revision moves it, and each model's shared error on it. `SimulatedLLM` is an
LLMPort: the production engine calls it exactly as it would call vLLM, with the production
prompts; it writes proposals whose text carries their identity (and, for the production
checks, an embedded YAML block that parses or not), and answers review prompts by reading the
labelled proposals out of the prompt and judging them through the noise model.

Noise of one judgement of candidate c by judge j (an agent, of model m), in one call:
    perceived = quality(c) + shared[m, c] + own[j, c] + fresh per call
              + self_preference   (only if c is j's own text and j recognises it)
then position bias: the first labels gain, the last lose, by `position_bias * exp(-gap / scale)`
where gap is the distance to the nearest other perceived value (close calls are biased most).
Rankings follow the biased values; rubric scores are the same values plus the extra error of
rating on an absolute scale (`score_noise_sd`), compressed to integers.
"""

from __future__ import annotations

import functools
import json
import random
import re
from dataclasses import dataclass, field

from selection_profile import JudgeModel, Profile, score

from services.orchestrator.domain.llm import ChatRequest, ChatResult, Usage
from services.orchestrator.domain.model import RUBRIC
from services.simulator.tokens import count_prompt_tokens

_PROPOSAL = re.compile(r'<proposal label="(\w+)">\n(.*?)\n</proposal>', re.DOTALL)
_MARK = re.compile(r"sim-candidate=(\S+) v=(\d+)")
# An ARCHITECT proposal: two sections and enough substance pass the production document checks;
# a flagged draft carries a YAML block that does not parse (doc.blocks fails).
_BODY = (
    "## Decision\nServe the health endpoint from the existing HTTP server; no new process.\n\n"
    "## Risks\nA slow dependency must not make the probe flap, so the check reads cached state only.\n\n"
)
_SOUND = _BODY
_BROKEN = _BODY + "```yaml\nprobe: {path: /health, period: [10\n```\n"
_WORDS = "the council merges two sorted lists in linear time and keeps every edge case tested".split()


@functools.cache
def filler(tokens: int) -> str:
    # About one token per word: cl100k spends one token on most short English words.
    return " ".join(_WORDS[i % len(_WORDS)] for i in range(tokens)) + "\n"


@dataclass
class Draft:
    quality: float
    defect: bool
    flagged: bool  # what the deterministic checks will see


@dataclass
class World:
    profile: Profile
    seed: str
    agents: list[str]
    # Full-length proposal text only where prompt tokens are counted; it changes nothing else.
    full_text: bool = True
    drafts: dict[str, list[Draft]] = field(default_factory=dict)
    shared: dict[tuple[str, str], float] = field(default_factory=dict)

    @classmethod
    def draw(cls, profile: Profile, seed: str, agents: list[str], *, full_text: bool = True) -> World:
        world = cls(profile, seed, agents, full_text)
        rng = random.Random(f"{seed}:world")
        for agent, model in zip(agents, profile.seats, strict=True):
            base = rng.gauss(profile.models[model].quality_mean, 1.0)
            defect = rng.random() < profile.defect_rate
            world.drafts[agent] = [world._draft(rng, base, defect)]
            for _ in range(3):  # revisions, drawn up front so every method sees the same ones
                last = world.drafts[agent][-1]
                fixed = last.defect and rng.random() < profile.revision_fixes_defect
                gain = rng.gauss(profile.revision_gain_mean, profile.revision_gain_sd)
                base_q = last.quality + (profile.defect_cost if last.defect else 0.0) + gain
                world.drafts[agent].append(world._draft(rng, base_q, last.defect and not fixed))
            for name, m in profile.models.items():
                world.shared[(name, agent)] = rng.gauss(0, m.shared_sd)
        return world

    def _draft(self, rng: random.Random, base: float, defect: bool) -> Draft:
        p = self.profile
        flagged = rng.random() > p.check_false_negative if defect else rng.random() < p.check_false_positive
        return Draft(quality=base - (p.defect_cost if defect else 0.0), defect=defect, flagged=flagged)

    def quality(self, agent: str, version: int) -> float:
        return self.drafts[agent][version].quality

    def text(self, agent: str, version: int) -> str:
        block = _BROKEN if self.drafts[agent][version].flagged else _SOUND
        body = filler(self.profile.proposal_tokens) if self.full_text else ""
        return f"sim-candidate={agent} v={version}\n{block}{body}"

    def same_model_view(self, agent: str, version: int) -> float:
        """What unlimited judges of this council's models would agree on: quality plus the
        shared error, averaged over the seats' models."""
        shared = [self.shared[(m, agent)] for m in self.profile.seats]
        return self.quality(agent, version) + sum(shared) / len(shared)


class SimulatedLLM:
    """LLMPort over one World. `measure` turns on prompt-token counting (it costs time)."""

    def __init__(self, world: World, *, measure: bool = False) -> None:
        self.world = world
        self.measure = measure
        self.versions: dict[str, int] = {}
        self.sightings: dict[tuple[str, str, int], int] = {}
        self.review_calls: dict[str, int] = {}
        self.calls = 0
        self.prompt_tokens = 0

    async def chat(self, request: ChatRequest) -> ChatResult:
        return self.answer(request)

    def answer(self, request: ChatRequest) -> ChatResult:
        self.calls += 1
        prompt = 0
        if self.measure:
            prompt = count_prompt_tokens([m.model_dump() for m in request.messages])
            self.prompt_tokens += prompt
        if request.json_schema is not None:
            text = self.review(request)
        else:
            agent = request.agent_id
            version = self.versions[agent] + 1 if agent in self.versions else 0
            self.versions[agent] = version
            text = self.world.text(agent, version)
        return ChatResult(text=text, usage=Usage(calls=1, prompt_tokens=prompt, completion_tokens=len(text) // 4))

    def review(self, request: ChatRequest) -> str:
        judge = request.agent_id
        model = self.world.profile.models[request.model or self.world.profile.seats[0]]
        nth = self.review_calls[judge] = self.review_calls.get(judge, 0) + 1
        rng = random.Random(f"{self.world.seed}:{judge}:call{nth}")
        repair = len(request.messages) > 2
        if rng.random() < (model.invalid_after_repair if repair else model.invalid_rate):
            return '{"reviews": {}, "ranking": []}'
        shown = {}
        for label, body in _PROPOSAL.findall(request.messages[1].content):
            mark = _MARK.search(body)
            if mark:
                shown[label] = (mark.group(1), int(mark.group(2)))
        values = self.judge(judge, model, list(shown.values()))
        biased = dict(zip(shown, values, strict=True))
        ranking = sorted(shown, key=lambda label: -biased[label])
        reviews = {}
        for label in shown:
            rated = biased[label] + rng.gauss(0, model.score_noise_sd)
            overall = score(model.score_center, model.score_slope, rated)
            scores = {}
            for name in RUBRIC:
                jitter = rng.random() < model.label_jitter
                scores[name] = max(1, min(10, overall + (rng.choice((-1, 1)) if jitter else 0)))
            reviews[label] = {"scores": scores, "critique": f"notes on {label}"}
        return json.dumps({"reviews": reviews, "ranking": ranking})

    def judge(self, judge: str, model: JudgeModel, shown: list[tuple[str, int]]) -> list[float]:
        """Perceived values of the proposals in the order shown, position bias included."""
        seed = self.world.seed
        values = []
        for agent, version in shown:
            key = (judge, agent, version)
            nth = self.sightings[key] = self.sightings.get(key, 0) + 1
            own = random.Random(f"{seed}:{judge}:{agent}:own").gauss(0, model.own_sd)
            fresh = random.Random(f"{seed}:{judge}:{agent}:{version}:{nth}").gauss(0, model.call_sd)
            v = self.world.quality(agent, version) + self.world.shared[(model.name, agent)] + own + fresh
            if agent == judge and random.Random(f"{seed}:{judge}:self").random() < model.self_recognition:
                v += model.self_preference
            values.append(v)
        n = len(values)
        if n < 2:
            return values
        out = []
        for pos, v in enumerate(values):
            gap = min(abs(v - w) for i, w in enumerate(values) if i != pos)
            lean = (n - 1 - 2 * pos) / (n - 1) / 2  # +1/2 first ... -1/2 last
            out.append(v + lean * model.position_bias * pow(2.718281828, -gap / model.position_gap_scale))
        return out
