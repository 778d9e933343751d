"""The deliberation engine: a council of K agents of one role, stage by stage.

    generate -> (review -> revise) x R -> final review -> check -> aggregate
             -> (referees, if the top two are tied -> aggregate) -> winner

Stages session their agents in parallel; a stage ends when all of its calls have. The only I/O
here is awaiting the LLM port through the session (session.py holds that plumbing).

LLM calls per deliberation, K agents, R rounds, when every call succeeds first time:
    K = 1:   1                                  (nobody to review a council of one)
    K >= 2:  K + R * (K + K) + K  =  2K(R + 1)   (generate, R x (review, revise), final review)
Each review whose JSON is invalid adds one repair call, so at most K(R + 1) more; an author
whose reviews were all excluded skips its revision call. When the top two are statistically
tied after peer review, four referees add 4 calls (SelectionPolicy.referees; bench/selection.py
measured ~2.8 extra calls per deliberation on average for K=3). Orchestrate adds one chair call
(+1 repair). Sequential LLM steps on the critical path: 2R + 2 (plus repairs).
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence

from services.orchestrator.domain.aggregation import Verdict, select
from services.orchestrator.domain.budgets import answer_tokens
from services.orchestrator.domain.checks import run_checks
from services.orchestrator.domain.council import AgentSpec, Council, Role, council_for_role
from services.orchestrator.domain.errors import CouncilFailed
from services.orchestrator.domain.execution import ExecutionReport
from services.orchestrator.domain.llm import LLMPort
from services.orchestrator.domain.model import (
    STAGES,
    AgentFailure,
    Candidate,
    CheckResult,
    DeliberationRequest,
    DeliberationResult,
    ExcludedReview,
    Proposal,
    Review,
    total_usage,
)
from services.orchestrator.domain.prompts import (
    generate_messages,
    review_messages,
    revise_messages,
)
from services.orchestrator.domain.sandbox import SandboxPort
from services.orchestrator.domain.selection import DEFAULT, SelectionPolicy, referees, review_order, ring_order
from services.orchestrator.domain.structured_answers import (
    InvalidAnswer,
    labels_for,
    parse_review,
    review_schema,
)
from services.orchestrator.domain.validation import rubric_weights_of, validate_request
from services.orchestrator.execution.run import execute_async, merged, with_runs
from services.orchestrator.session import OnEvent, Session, in_parallel, reason_of

# -- the whole deliberation -------------------------------------------------------------


async def deliberate(
    llm: LLMPort,
    request: DeliberationRequest,
    council: Council | None = None,
    *,
    on_event: OnEvent | None = None,
    policy: SelectionPolicy = DEFAULT,
    sandbox: SandboxPort | None = None,
) -> DeliberationResult:
    """Rank the council's proposals. Raises ValidationError, or CouncilFailed when no
    agent produced a proposal. Cancelling the caller cancels every call in flight."""
    request = validate_request(request)
    council = council_for_role(council, request.role, request.num_agents)
    return await run_council(Session(llm, request, council, on_event, policy, sandbox=sandbox))


async def run_council(session: Session) -> DeliberationResult:
    request = session.request
    proposals, failed = await generate(session)
    if not proposals:
        reasons = "; ".join(f"{f.agent_id}: {f.reason}" for f in failed)
        raise CouncilFailed(
            f"all {len(session.council.agents)} agents failed to propose ({reasons})",
            failures=failed,
            usage=list(session.usage.values()),
        )
    reviews: list[Review] = []
    history: list[Review] = []
    excluded: list[ExcludedReview] = []
    degraded: list[AgentFailure] = []
    if len(proposals) >= 2:
        for round_no in range(1, request.rounds + 1):
            reviews, left_out = await review(session, proposals, round_no)
            history += reviews
            proposals, kept_old = await revise(session, proposals, reviews, round_no)
            excluded += left_out
            degraded += kept_old
        reviews, left_out = await review(session, proposals, request.rounds + 1)
        history += reviews
        excluded += left_out
    async with session.stage("check"):
        executed = await execute_async(request.role, proposals, session.sandbox, request.reference_code)
        checks = merged(check(request.role, proposals), executed)
    candidates, verdict = await aggregate(session, proposals, history, checks, executed)
    if len(proposals) >= 2 and wants_referee(session.policy, verdict.tied):
        history += await referee(session, proposals, request.rounds + 1)
        candidates, verdict = await aggregate(session, proposals, history, checks, executed)
    candidates = with_runs(candidates, executed)
    usage = [session.usage[s] for s in STAGES if s in session.usage]
    return DeliberationResult(
        deliberation_id=request.deliberation_id,
        role=request.role,
        rounds=request.rounds,
        num_agents=len(session.council.agents),
        candidates=candidates,
        winner=candidates[0],
        margin=verdict.margin,
        margin_error=verdict.margin_error,
        tied=verdict.tied,
        failed_agents=failed,
        degraded_steps=degraded,
        excluded_reviews=excluded,
        repaired_answers=session.repaired,
        usage=usage,
        total=total_usage(usage),
        duration_ms=session.elapsed_ms(),
    )


# -- stages ------------------------------------------------------------------------------


async def generate(session: Session) -> tuple[list[Proposal], list[AgentFailure]]:
    """Every agent drafts in parallel, each with its own persona and temperature."""
    async with session.stage("generate"):
        outcomes = await in_parallel(propose(session, agent) for agent in session.council.agents)
    proposals = [o for o in outcomes if isinstance(o, Proposal)]
    failed = [o for o in outcomes if isinstance(o, AgentFailure)]
    return proposals, failed


async def propose(session: Session, agent: AgentSpec) -> Proposal | AgentFailure:
    t0 = time.perf_counter()
    messages = generate_messages(session.request, agent)
    try:
        result = await session.draft(agent, "generate", messages)
    except Exception as exc:  # one agent's failure must not sink the council
        return await session.agent_failed(agent, "generate", 0, exc, t0)
    await session.agent_done(agent, "generate", 0, t0, result.usage, result.text)
    return Proposal(agent_id=agent.agent_id, text=result.text, version=0)


async def review(
    session: Session, proposals: Sequence[Proposal], round_no: int
) -> tuple[list[Review], list[ExcludedReview]]:
    """Anonymous peer review: each author reviews all the others under shuffled labels."""
    async with session.stage("review", round_no):
        outcomes = await in_parallel(
            review_by(session, session.agent(p.agent_id), proposals, round_no) for p in proposals
        )
    reviews = [r for o in outcomes if isinstance(o, list) for r in o]
    excluded = [o for o in outcomes if isinstance(o, ExcludedReview)]
    return reviews, excluded


def shuffled_for(
    deliberation_id: str,
    round_no: int,
    reviewer: str,
    proposals: Sequence[Proposal],
    *,
    balanced: bool = True,
) -> dict[str, Proposal]:
    """Label -> proposal as one reviewer sees it: never its own, in an order seeded by the
    deliberation, so a replay orders alike but reviewers cannot agree on what "A" is."""
    by_author = {p.agent_id: p for p in proposals}
    order = review_order(deliberation_id, round_no, reviewer, list(by_author), balanced=balanced)
    return dict(zip(labels_for(len(order)), (by_author[a] for a in order), strict=True))


async def review_by(
    session: Session,
    reviewer: AgentSpec,
    proposals: Sequence[Proposal],
    round_no: int,
    *,
    order: Sequence[Proposal] | None = None,
) -> list[Review] | ExcludedReview:
    """One review call; `order` (a referee's) overrides the council's label order."""
    t0 = time.perf_counter()
    if order is None:
        balanced = session.policy.ordering == "balanced"
        deliberation_id = session.request.deliberation_id
        by_label = shuffled_for(deliberation_id, round_no, reviewer.agent_id, proposals, balanced=balanced)
    else:
        by_label = dict(zip(labels_for(len(order)), order, strict=True))
    labels = list(by_label)
    messages = review_messages(session.request, reviewer, [(k, p.text) for k, p in by_label.items()])
    schema = review_schema(labels)
    try:
        answer, text, usage = await session.structured(
            reviewer,
            "review",
            messages,
            schema,
            lambda reply: parse_review(reply, labels),
            max_tokens=answer_tokens(schema),
        )
    except Exception as exc:  # a bad review is left out, not fatal
        await session.agent_failed(reviewer, "review", round_no, exc, t0)
        reason = f"invalid after one repair: {exc}" if isinstance(exc, InvalidAnswer) else reason_of(exc)
        return ExcludedReview(reviewer=reviewer.agent_id, round=round_no, reason=reason)
    await session.agent_done(reviewer, "review", round_no, t0, usage, text)
    return [
        Review(
            reviewer=reviewer.agent_id,
            target=by_label[label].agent_id,
            round=round_no,
            label=label,
            scores=entry.scores,
            rank=answer.rank_of(label),
            ranked_of=len(labels),
            critique=entry.critique,
        )
        for label, entry in answer.reviews.items()
    ]


async def aggregate(
    session: Session, proposals: Sequence[Proposal], history: Sequence[Review],
    checks: dict[str, list[CheckResult]], executed: ExecutionReport,
) -> tuple[list[Candidate], Verdict]:
    """Rank the final drafts on every review of them, their checks and their runs."""
    async with session.stage("aggregate"):
        return select(
            proposals, history, checks, rubric_weights_of(session.request), session.policy,
            final_round=session.request.rounds + 1, execution=executed.scores,
            personas={a.agent_id: a.persona for a in session.council.agents},
        )


def wants_referee(policy: SelectionPolicy, tied: bool) -> bool:
    return policy.referee == "always" or (policy.referee == "when_tied" and tied)


async def referee(session: Session, proposals: Sequence[Proposal], round_no: int) -> list[Review]:
    """Judges outside the council each rank every final proposal, in opposite orders; their
    calls count as reviews of the final round. A failed call is simply left out."""
    by_author = {p.agent_id: p for p in proposals}
    seats = []
    for judge, backwards in referees(session.council, session.policy.referees):
        order = ring_order(session.request.deliberation_id, list(by_author), reversed_=backwards)
        seats.append((judge, [by_author[a] for a in order]))
    async with session.stage("review", round_no):
        outcomes = await in_parallel(review_by(session, judge, proposals, round_no, order=o) for judge, o in seats)
    return [r for o in outcomes if isinstance(o, list) for r in o]


async def revise(
    session: Session, proposals: Sequence[Proposal], reviews: Sequence[Review], round_no: int
) -> tuple[list[Proposal], list[AgentFailure]]:
    """Each author revises with the critiques it received this round; a failed revision keeps
    the previous draft."""
    async with session.stage("revise", round_no):
        outcomes = await in_parallel(
            revise_one(session, p, critiques_for(session, p.agent_id, reviews, round_no), round_no) for p in proposals
        )
    return [p for p, _ in outcomes], [f for _, f in outcomes if f is not None]


def critiques_for(session: Session, author: str, reviews: Sequence[Review], round_no: int) -> list[str]:
    # Shuffled too, so the order of critiques does not betray the order of reviewers.
    critiques = [r.critique for r in reviews if r.target == author and r.round == round_no]
    random.Random(f"{session.request.deliberation_id}:{round_no}:{author}:critiques").shuffle(critiques)
    return critiques


async def revise_one(
    session: Session, draft: Proposal, critiques: list[str], round_no: int
) -> tuple[Proposal, AgentFailure | None]:
    if not critiques:
        return draft, None
    agent = session.agent(draft.agent_id)
    t0 = time.perf_counter()
    messages = revise_messages(session.request, agent, draft.text, critiques)
    try:
        result = await session.draft(agent, "revise", messages)
    except Exception as exc:  # keep the previous draft rather than lose the agent
        return draft, await session.agent_failed(agent, "revise", round_no, exc, t0)
    await session.agent_done(agent, "revise", round_no, t0, result.usage, result.text)
    return Proposal(agent_id=agent.agent_id, text=result.text, version=round_no), None


def check(role: Role, proposals: Sequence[Proposal]) -> dict[str, list[CheckResult]]:
    """Deterministic checks per role; pure, so they session inline."""
    return {p.agent_id: run_checks(role, p.text) for p in proposals}
