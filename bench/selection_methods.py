"""The ways of picking a winner that the selection bench compares, on one World each.

Conclave's methods run the production engine (`deliberate`) end to end against the simulated
judge. The others are what the literature does, built from the production prompt builders so
their prompt sizes compare: llm-council's mean rank (every member ranks every answer, its own
included, in one shared order, and rank positions are averaged), a single aggregator judge
(Mixture-of-Agents style), a random pick, and two oracles.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from selection_world import SimulatedLLM, World

from services.orchestrator.deliberation import deliberate
from services.orchestrator.domain.council import AgentSpec, Council, Role
from services.orchestrator.domain.llm import ChatRequest
from services.orchestrator.domain.model import DeliberationRequest
from services.orchestrator.domain.prompts import review_messages
from services.orchestrator.domain.selection import SelectionPolicy
from services.orchestrator.domain.structured_answers import InvalidAnswer, labels_for, parse_review, review_schema

TASK = "Design the health endpoint of the ingest service."
CONSTRAINTS = ["no new process", "the probe never calls a slow dependency"]


@dataclass
class Pick:
    winner: str
    calls: int = 0
    prompt_tokens: int = 0
    tied: bool = False


def request(world: World, rounds: int) -> DeliberationRequest:
    return DeliberationRequest(
        task=TASK, role=Role.ARCHITECT, constraints=CONSTRAINTS, rounds=rounds,
        num_agents=len(world.agents), deliberation_id=world.seed,
    )  # fmt: skip


async def conclave(
    world: World, council: Council, policy: SelectionPolicy, rounds: int, *, measure: bool
) -> tuple[Pick, dict[str, int], int]:
    """(pick, final version per agent, generate-stage prompt tokens)."""
    llm = SimulatedLLM(world, measure=measure)
    result = await deliberate(llm, request(world, rounds), council, policy=policy)
    versions = {c.agent_id: c.version for c in result.candidates}
    generate = next(u.prompt_tokens for u in result.usage if u.stage == "generate")
    pick = Pick(result.winner.agent_id, result.total.calls, result.total.prompt_tokens, result.tied)
    return pick, versions, generate


def _rank_all(
    llm: SimulatedLLM, world: World, judge: AgentSpec, versions: dict[str, int], rounds: int
) -> list[str] | None:
    """One judge ranks every candidate, in council order (the order llm-council shows)."""
    labels = labels_for(len(world.agents))
    labelled = [(label, world.text(a, versions[a])) for label, a in zip(labels, world.agents, strict=True)]
    messages = review_messages(request(world, rounds), judge, labelled)
    chat = ChatRequest(
        messages=messages, json_schema=review_schema(labels), stage="review", agent_id=judge.agent_id,
        model=judge.model, endpoint=judge.endpoint,
    )  # fmt: skip
    try:
        answer = parse_review(llm.answer(chat).text, labels)
    except InvalidAnswer:
        return None  # llm-council drops a ranking it cannot parse
    by_label = dict(zip(labels, world.agents, strict=True))
    return [by_label[label] for label in answer.ranking]


def llm_council(
    world: World, council: Council, versions: dict[str, int], rounds: int, generate_tokens: int, *, measure: bool
) -> Pick:
    llm = SimulatedLLM(world, measure=measure)
    positions: dict[str, list[int]] = {a: [] for a in world.agents}
    for judge in council.agents:
        ranking = _rank_all(llm, world, judge, versions, rounds)
        for place, agent in enumerate(ranking or []):
            positions[agent].append(place + 1)
    # Lowest mean position wins; Python's stable sort keeps council order among equals.
    mean = {a: sum(p) / len(p) if p else float("inf") for a, p in positions.items()}
    winner = sorted(world.agents, key=lambda a: mean[a])[0]
    return Pick(winner, len(world.agents) + llm.calls, generate_tokens + llm.prompt_tokens)


def single_judge(
    world: World, council: Council, versions: dict[str, int], rounds: int, generate_tokens: int, *, measure: bool
) -> Pick:
    """An aggregator of the council's first model, not an author, picks the best in one call."""
    llm = SimulatedLLM(world, measure=measure)
    first = council.agents[0]
    aggregator = first.model_copy(update={"agent_id": "aggregator"})
    ranking = _rank_all(llm, world, aggregator, versions, rounds)
    winner = ranking[0] if ranking else world.agents[0]
    return Pick(winner, len(world.agents) + llm.calls, generate_tokens + llm.prompt_tokens)


def random_pick(world: World) -> Pick:
    return Pick(random.Random(f"{world.seed}:random").choice(world.agents))


def oracle_true(world: World, versions: dict[str, int]) -> Pick:
    return Pick(max(world.agents, key=lambda a: world.quality(a, versions[a])))


def oracle_same_model(world: World, versions: dict[str, int]) -> Pick:
    return Pick(max(world.agents, key=lambda a: world.same_model_view(a, versions[a])))
