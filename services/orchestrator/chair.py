"""Orchestrate: the council deliberates, then a chair (ARCHITECT by default) selects a
candidate or synthesizes from them. If the chair fails, the council's winner stands."""

from __future__ import annotations

import time
from collections.abc import Sequence

from services.orchestrator.deliberation import run_council
from services.orchestrator.domain.aggregation import check_points
from services.orchestrator.domain.budgets import answer_tokens, synthesis_chars
from services.orchestrator.domain.checks import run_checks
from services.orchestrator.domain.council import AgentSpec, Council, Role, council_for_role, default_chair
from services.orchestrator.domain.llm import LLMPort
from services.orchestrator.domain.model import (
    Candidate,
    ChairDecision,
    CheckResult,
    DeliberationRequest,
    DeliberationResult,
    OrchestrationResult,
)
from services.orchestrator.domain.prompts import chair_messages
from services.orchestrator.domain.sandbox import SandboxPort
from services.orchestrator.domain.structured_answers import chair_schema, parse_chair
from services.orchestrator.domain.validation import validate_request
from services.orchestrator.session import OnEvent, Session, reason_of


async def orchestrate(
    llm: LLMPort,
    request: DeliberationRequest,
    council: Council | None = None,
    *,
    chair: AgentSpec | None = None,
    on_event: OnEvent | None = None,
    sandbox: SandboxPort | None = None,
) -> OrchestrationResult:
    request = validate_request(request)
    seated = council_for_role(council, request.role, request.num_agents)
    session = Session(llm, request, seated, on_event, sandbox=sandbox)
    result = await run_council(session)
    decision = await _chair(session, result, chair or default_chair())
    return OrchestrationResult(deliberation=result, decision=decision)


async def _chair(session: Session, result: DeliberationResult, chair: AgentSpec) -> ChairDecision:
    by_label = {str(c.rank): c for c in result.candidates}
    labels = list(by_label)
    ranked = [(label, _summary(c), c.proposal) for label, c in by_label.items()]
    messages = chair_messages(session.request, chair, ranked)
    schema = chair_schema(labels, synthesis_chars(max(len(c.proposal) for c in result.candidates)))
    t0 = time.perf_counter()
    async with session.stage("chair"):
        try:
            answer, text, usage = await session.structured(
                chair,
                "chair",
                messages,
                schema,
                lambda reply: parse_chair(reply, labels),
                max_tokens=answer_tokens(schema),
                temperature=chair.temperature,
            )
        except Exception as exc:  # the council's own winner is the fallback
            await session.agent_failed(chair, "chair", 0, exc, t0)
            return ChairDecision(
                mode="fallback",
                chair_agent_id=chair.agent_id,
                selected_agent_id=result.winner.agent_id,
                text=result.winner.proposal,
                fallback_reason=f"chair failed, top-ranked proposal kept: {reason_of(exc)}",
                checks=result.winner.checks,
                usage=session.ledger("chair"),
            )
        await session.agent_done(chair, "chair", 0, t0, usage, text)
    chosen = by_label[answer.choice]
    decision = ChairDecision(
        mode="select",
        chair_agent_id=chair.agent_id,
        selected_agent_id=chosen.agent_id,
        text=chosen.proposal,
        rationale=answer.rationale,
        checks=chosen.checks,
        usage=session.ledger("chair"),
    )
    if answer.decision != "synthesize":
        return decision
    return weigh_synthesis(session.request.role, decision, answer.synthesis, chosen.checks)


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
