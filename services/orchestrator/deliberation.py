"""The deliberation engine: a council of K agents of one role, stage by stage.

    generate -> (review -> revise) x R -> final review -> check -> aggregate -> winner

Stages run their agents in parallel; a stage ends when all of its calls have. The only I/O
here is awaiting the LLM port (and the optional progress callback).

LLM calls per deliberation, K agents, R rounds, when every call succeeds first time:
    K = 1:   1                                  (nobody to review a council of one)
    K >= 2:  K + R * (K + K) + K  =  2K(R + 1)   (generate, R x (review, revise), final review)
Each review whose JSON is invalid adds one repair call, so at most K(R + 1) more; an author
whose reviews were all excluded skips its revision call. Orchestrate adds one chair call
(+1 repair). Sequential LLM steps on the critical path: 2R + 2 (plus repairs).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from services.orchestrator.checks import run_checks
from services.orchestrator.domain.aggregation import aggregate, check_points
from services.orchestrator.domain.answers import (
    InvalidAnswer,
    chair_schema,
    labels_for,
    parse_chair,
    parse_review,
    review_schema,
)
from services.orchestrator.domain.council import AgentSpec, Council, Role, default_chair, seat
from services.orchestrator.domain.errors import CouncilFailed
from services.orchestrator.domain.llm import (
    ChatMessage,
    ChatRequest,
    ChatResult,
    LLMPort,
    Stage,
    Usage,
)
from services.orchestrator.domain.model import (
    STAGES,
    AgentFailure,
    Candidate,
    ChairDecision,
    CheckResult,
    DeliberationRequest,
    DeliberationResult,
    EventKind,
    ExcludedReview,
    OrchestrationResult,
    ProgressEvent,
    Proposal,
    Review,
    StageName,
    StageUsage,
    total_usage,
)
from services.orchestrator.domain.prompts import (
    chair_messages,
    generate_messages,
    repair_message,
    review_messages,
    revise_messages,
)
from services.orchestrator.domain.validation import rubric_weights_of, validate_request

OnEvent = Callable[[ProgressEvent], Awaitable[None]]
T = TypeVar("T")

PROPOSAL_MAX_TOKENS = 1536
REVIEW_MAX_TOKENS_PER_LABEL = 320
CHAIR_MAX_TOKENS = 2048
# Reviews are judgements, not drafts: keep them steady whatever the author's temperature.
REVIEW_TEMPERATURE = 0.2


@dataclass
class Run:
    """What the stages of one deliberation share: the port, the usage ledger, the event sink."""

    llm: LLMPort
    request: DeliberationRequest
    council: Council
    on_event: OnEvent | None = None
    usage: dict[StageName, StageUsage] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)
    seq: int = 0

    def agent(self, agent_id: str) -> AgentSpec:
        return next(a for a in self.council.agents if a.agent_id == agent_id)

    def ledger(self, stage: StageName) -> StageUsage:
        return self.usage.setdefault(stage, StageUsage(stage=stage))

    async def emit(self, kind: EventKind, stage: StageName, **fields: Any) -> None:
        if self.on_event is None:
            return
        self.seq += 1
        await self.on_event(
            ProgressEvent(
                deliberation_id=self.request.deliberation_id,
                seq=self.seq,
                kind=kind,
                stage=stage,
                role=self.council.role,
                elapsed_ms=_ms_since(self.started),
                **fields,
            )
        )


# -- the whole deliberation -------------------------------------------------------------


async def deliberate(
    llm: LLMPort,
    request: DeliberationRequest,
    council: Council | None = None,
    *,
    on_event: OnEvent | None = None,
) -> DeliberationResult:
    """Rank the council's proposals. Raises ValidationError, or CouncilFailed when no
    agent produced a proposal. Cancelling the caller cancels every call in flight."""
    request = validate_request(request)
    return await _deliberate(Run(llm, request, seat(council, request.role, request.num_agents), on_event))


async def _deliberate(run: Run) -> DeliberationResult:
    request = run.request
    proposals, failed = await generate(run)
    if not proposals:
        reasons = "; ".join(f"{f.agent_id}: {f.reason}" for f in failed)
        raise CouncilFailed(
            f"all {len(run.council.agents)} agents failed to propose ({reasons})",
            failures=failed,
            usage=list(run.usage.values()),
        )
    reviews: list[Review] = []
    excluded: list[ExcludedReview] = []
    degraded: list[AgentFailure] = []
    if len(proposals) >= 2:
        for round_no in range(1, request.rounds + 1):
            reviews, left_out = await review(run, proposals, round_no)
            proposals, kept_old = await revise(run, proposals, reviews, round_no)
            excluded += left_out
            degraded += kept_old
        reviews, left_out = await review(run, proposals, request.rounds + 1)
        excluded += left_out
    async with stage(run, "check"):
        checks = check(request.role, proposals)
    async with stage(run, "aggregate"):
        personas = {a.agent_id: a.persona for a in run.council.agents}
        candidates = aggregate(proposals, reviews, checks, rubric_weights_of(request), personas=personas)
    usage = [run.usage[s] for s in STAGES if s in run.usage]
    return DeliberationResult(
        deliberation_id=request.deliberation_id,
        role=request.role,
        rounds=request.rounds,
        num_agents=len(run.council.agents),
        candidates=candidates,
        winner=candidates[0],
        failed_agents=failed,
        degraded_steps=degraded,
        excluded_reviews=excluded,
        usage=usage,
        total=total_usage(usage),
        duration_ms=_ms_since(run.started),
    )


# -- stages ------------------------------------------------------------------------------


async def generate(run: Run) -> tuple[list[Proposal], list[AgentFailure]]:
    """Every agent drafts in parallel, each with its own persona and temperature."""
    async with stage(run, "generate"):
        outcomes = await in_parallel(propose(run, agent) for agent in run.council.agents)
    proposals = [o for o in outcomes if isinstance(o, Proposal)]
    failed = [o for o in outcomes if isinstance(o, AgentFailure)]
    return proposals, failed


async def propose(run: Run, agent: AgentSpec) -> Proposal | AgentFailure:
    t0 = time.perf_counter()
    messages = generate_messages(run.request, agent)
    try:
        result = await call(run, agent, "generate", messages, temperature=agent.temperature)
        text = _non_empty(result.text)
    except Exception as exc:  # one agent's failure must not sink the council
        return await agent_failed(run, agent, "generate", 0, exc, t0)
    await agent_done(run, agent, "generate", 0, t0, result.usage, text)
    return Proposal(agent_id=agent.agent_id, text=text, version=0)


async def review(
    run: Run, proposals: Sequence[Proposal], round_no: int
) -> tuple[list[Review], list[ExcludedReview]]:
    """Anonymous peer review: each author reviews all the others under shuffled labels."""
    async with stage(run, "review", round_no):
        outcomes = await in_parallel(
            review_by(run, run.agent(p.agent_id), proposals, round_no) for p in proposals
        )
    reviews = [r for o in outcomes if isinstance(o, list) for r in o]
    excluded = [o for o in outcomes if isinstance(o, ExcludedReview)]
    return reviews, excluded


def shuffled_for(
    deliberation_id: str, round_no: int, reviewer: str, proposals: Sequence[Proposal]
) -> dict[str, Proposal]:
    """Label -> proposal as one reviewer sees it: never its own, in an order seeded by the
    deliberation, so a replay shuffles alike but reviewers cannot agree on what "A" is."""
    others = [p for p in proposals if p.agent_id != reviewer]
    random.Random(f"{deliberation_id}:{round_no}:{reviewer}").shuffle(others)
    return dict(zip(labels_for(len(others)), others, strict=True))


async def review_by(
    run: Run, reviewer: AgentSpec, proposals: Sequence[Proposal], round_no: int
) -> list[Review] | ExcludedReview:
    t0 = time.perf_counter()
    by_label = shuffled_for(run.request.deliberation_id, round_no, reviewer.agent_id, proposals)
    labels = list(by_label)
    messages = review_messages(run.request, reviewer, [(k, p.text) for k, p in by_label.items()])
    try:
        answer, text, usage = await structured(
            run,
            reviewer,
            "review",
            messages,
            review_schema(labels),
            lambda reply: parse_review(reply, labels),
            max_tokens=REVIEW_MAX_TOKENS_PER_LABEL * len(labels) + 256,
        )
    except Exception as exc:  # a bad review is left out, not fatal
        await agent_failed(run, reviewer, "review", round_no, exc, t0)
        reason = f"invalid after one repair: {exc}" if isinstance(exc, InvalidAnswer) else _reason(exc)
        return ExcludedReview(reviewer=reviewer.agent_id, round=round_no, reason=reason)
    await agent_done(run, reviewer, "review", round_no, t0, usage, text)
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


async def revise(
    run: Run, proposals: Sequence[Proposal], reviews: Sequence[Review], round_no: int
) -> tuple[list[Proposal], list[AgentFailure]]:
    """Each author revises with the critiques it received this round; a failed revision keeps
    the previous draft."""
    async with stage(run, "revise", round_no):
        outcomes = await in_parallel(
            revise_one(run, p, critiques_for(run, p.agent_id, reviews, round_no), round_no) for p in proposals
        )
    return [p for p, _ in outcomes], [f for _, f in outcomes if f is not None]


def critiques_for(run: Run, author: str, reviews: Sequence[Review], round_no: int) -> list[str]:
    # Shuffled too, so the order of critiques does not betray the order of reviewers.
    critiques = [r.critique for r in reviews if r.target == author and r.round == round_no]
    random.Random(f"{run.request.deliberation_id}:{round_no}:{author}:critiques").shuffle(critiques)
    return critiques


async def revise_one(
    run: Run, draft: Proposal, critiques: list[str], round_no: int
) -> tuple[Proposal, AgentFailure | None]:
    if not critiques:
        return draft, None
    agent = run.agent(draft.agent_id)
    t0 = time.perf_counter()
    messages = revise_messages(run.request, agent, draft.text, critiques)
    try:
        result = await call(run, agent, "revise", messages, temperature=agent.temperature)
        text = _non_empty(result.text)
    except Exception as exc:  # keep the previous draft rather than lose the agent
        return draft, await agent_failed(run, agent, "revise", round_no, exc, t0)
    await agent_done(run, agent, "revise", round_no, t0, result.usage, text)
    return Proposal(agent_id=agent.agent_id, text=text, version=round_no), None


def check(role: Role, proposals: Sequence[Proposal]) -> dict[str, list[CheckResult]]:
    """Deterministic checks per role; pure, so they run inline."""
    return {p.agent_id: run_checks(role, p.text) for p in proposals}


# -- Orchestrate: a chair picks or synthesizes ---------------------------------------------


async def orchestrate(
    llm: LLMPort,
    request: DeliberationRequest,
    council: Council | None = None,
    *,
    chair: AgentSpec | None = None,
    on_event: OnEvent | None = None,
) -> OrchestrationResult:
    request = validate_request(request)
    run = Run(llm, request, seat(council, request.role, request.num_agents), on_event)
    result = await _deliberate(run)
    decision = await _chair(run, result, chair or default_chair())
    return OrchestrationResult(deliberation=result, decision=decision)


async def chair_select(
    llm: LLMPort,
    request: DeliberationRequest,
    result: DeliberationResult,
    *,
    chair: AgentSpec | None = None,
    on_event: OnEvent | None = None,
) -> ChairDecision:
    """The chair (ARCHITECT by default) selects a candidate or synthesizes from them; if the
    chair fails, the top-ranked proposal stands and the decision says why."""
    chair = chair or default_chair()
    run = Run(llm, request, Council(role=request.role, agents=(chair,)), on_event)
    return await _chair(run, result, chair)


async def _chair(run: Run, result: DeliberationResult, chair: AgentSpec) -> ChairDecision:
    by_label = {str(c.rank): c for c in result.candidates}
    labels = list(by_label)
    ranked = [(label, _summary(c), c.proposal) for label, c in by_label.items()]
    messages = chair_messages(run.request, chair, ranked)
    t0 = time.perf_counter()
    async with stage(run, "chair"):
        try:
            answer, text, usage = await structured(
                run,
                chair,
                "chair",
                messages,
                chair_schema(labels),
                lambda reply: parse_chair(reply, labels),
                max_tokens=CHAIR_MAX_TOKENS,
                temperature=chair.temperature,
            )
        except Exception as exc:  # the council's own winner is the fallback
            await agent_failed(run, chair, "chair", 0, exc, t0)
            return ChairDecision(
                mode="fallback",
                chair_agent_id=chair.agent_id,
                selected_agent_id=result.winner.agent_id,
                text=result.winner.proposal,
                fallback_reason=f"chair failed, top-ranked proposal kept: {_reason(exc)}",
                checks=result.winner.checks,
                usage=run.ledger("chair"),
            )
        await agent_done(run, chair, "chair", 0, t0, usage, text)
    chosen = by_label[answer.choice]
    decision = ChairDecision(
        mode="select",
        chair_agent_id=chair.agent_id,
        selected_agent_id=chosen.agent_id,
        text=chosen.proposal,
        rationale=answer.rationale,
        checks=chosen.checks,
        usage=run.ledger("chair"),
    )
    if answer.decision != "synthesize":
        return decision
    return weigh_synthesis(run.request.role, decision, answer.synthesis, chosen.checks)


def weigh_synthesis(
    role: Role, selection: ChairDecision, synthesis: str, base_checks: Sequence[CheckResult]
) -> ChairDecision:
    """A synthesis replaces the chosen candidate only if it passes at least as many of the
    role's deterministic checks: a merge must not break what a candidate got right."""
    checks = run_checks(role, synthesis)
    ours, theirs = check_points(checks) or 0.0, check_points(base_checks) or 0.0
    if ours < theirs:
        note = f"synthesis set aside: it passes {ours:.0%} of the checks, the candidate {theirs:.0%}"
        return selection.model_copy(update={"note": note})
    return selection.model_copy(update={"mode": "synthesize", "text": synthesis, "checks": checks})


def _summary(candidate: Candidate) -> str:
    passed = sum(c.passed for c in candidate.checks)
    return f"score {candidate.final_score:.2f}, checks passed {passed}/{len(candidate.checks)}"


# -- plumbing: calls, structured answers, parallelism, timing, events -------------------------


async def call(
    run: Run,
    agent: AgentSpec,
    stage_name: Stage,
    messages: list[ChatMessage],
    *,
    temperature: float,
    json_schema: dict[str, Any] | None = None,
    max_tokens: int = PROPOSAL_MAX_TOKENS,
) -> ChatResult:
    """One LLM call, accounted to its stage whether it succeeds or not."""
    request = ChatRequest(
        messages=messages,
        temperature=temperature,
        max_tokens=max_tokens,
        json_schema=json_schema,
        schema_name=f"{stage_name}_answer",
        stage=stage_name,
        agent_id=agent.agent_id,
    )
    ledger = run.ledger(_stage_of(stage_name))
    try:
        result = await run.llm.chat(request)
    except Exception:
        ledger.record(None)
        raise
    ledger.record(result.usage)
    return result


async def structured(
    run: Run,
    agent: AgentSpec,
    stage_name: Stage,
    messages: list[ChatMessage],
    schema: dict[str, Any],
    parse: Callable[[str], T],
    *,
    max_tokens: int,
    temperature: float = REVIEW_TEMPERATURE,
) -> tuple[T, str, Usage]:
    """A structured-output call with one repair attempt: the invalid answer and the reason
    go back to the model. Raises InvalidAnswer if the repair is invalid too."""
    first = await call(
        run, agent, stage_name, messages, temperature=temperature, json_schema=schema, max_tokens=max_tokens
    )
    try:
        return parse(first.text), first.text, first.usage
    except InvalidAnswer as exc:
        error = str(exc)
    repair = [*messages, ChatMessage(role="assistant", content=first.text), repair_message(error)]
    second = await call(
        run, agent, stage_name, repair, temperature=temperature, json_schema=schema, max_tokens=max_tokens
    )
    return parse(second.text), second.text, first.usage + second.usage


async def in_parallel(coros: Iterable[Coroutine[Any, Any, T]]) -> list[T]:
    """Run concurrently; if one raises (only the progress callback can), cancel the rest."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(c) for c in coros]
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return [t.result() for t in tasks]


@asynccontextmanager
async def stage(run: Run, name: StageName, round_no: int = 0) -> AsyncIterator[None]:
    await run.emit("stage_started", name, round=round_no)
    t0 = time.perf_counter()
    yield
    elapsed = _ms_since(t0)
    run.ledger(name).duration_ms += elapsed
    await run.emit("stage_finished", name, round=round_no, duration_ms=elapsed)


async def agent_done(
    run: Run, agent: AgentSpec, name: StageName, round_no: int, t0: float, usage: Usage, text: str
) -> None:
    await run.emit(
        "agent_done",
        name,
        round=round_no,
        agent_id=agent.agent_id,
        duration_ms=_ms_since(t0),
        usage=usage,
        text=text,
    )


async def agent_failed(
    run: Run, agent: AgentSpec, name: StageName, round_no: int, exc: BaseException, t0: float
) -> AgentFailure:
    reason = _reason(exc)
    await run.emit(
        "agent_failed",
        name,
        round=round_no,
        agent_id=agent.agent_id,
        duration_ms=_ms_since(t0),
        error=reason,
    )
    return AgentFailure(agent_id=agent.agent_id, stage=name, round=round_no, reason=reason)


class EmptyAnswer(ValueError):
    pass


def _non_empty(text: str) -> str:
    if not text.strip():
        raise EmptyAnswer("the model returned an empty proposal")
    return text


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _stage_of(stage_name: Stage) -> StageName:
    if stage_name == "warmup":
        raise ValueError("warm-up calls belong to the adapter, not to a deliberation")
    return stage_name


def _ms_since(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000, 3)
