"""Prompt builder. Everything the council shares comes first and is byte-identical across
agents (system, role context, task, constraints, stage instructions); the per-agent part
(persona, temperature note, own draft, critiques, the proposals it reviews) comes last,
so a server prefix cache serves the whole council."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from services.orchestrator.domain.council import AgentSpec, Role
from services.orchestrator.domain.llm import ChatMessage, ChatRequest
from services.orchestrator.domain.model import RUBRIC, DeliberationRequest

ROLE_GUIDANCE: dict[Role, str] = {
    Role.ARCHITECT: (
        "Answer in Markdown with headings (for example ## Context, ## Decision, ## Components, "
        "## Risks). Name the trade-offs you accept."
    ),
    Role.DEV: (
        "Put all code in fenced ```python blocks that compile on their own. Use type hints; "
        "no bare except, no unused imports, no mutable default arguments."
    ),
    Role.QA: (
        "Write pytest tests in fenced ```python blocks: functions named test_*, each with at "
        "least one assert or pytest.raises, fast, isolated and deterministic."
    ),
    Role.DEVOPS: (
        "Put Kubernetes manifests in fenced ```yaml blocks. Every object has apiVersion, kind "
        "and metadata.name; a Deployment's spec.selector.matchLabels match its pod template "
        "labels, and every container has an image and resources."
    ),
    Role.DATA: ("Answer in Markdown with headings; put schemas and queries in fenced ```sql blocks."),
}


def system_prompt(role: Role) -> str:
    # "Role: <ROLE>" on its own line is how the model simulator recognises the role.
    return (
        f"You are one member of a council of {role.value} agents. The council drafts "
        "proposals, reviews each other anonymously, revises, and the best proposal wins.\n"
        f"Role: {role.value}\n\n{ROLE_GUIDANCE[role]}"
    )


def shared_head(request: DeliberationRequest) -> str:
    parts = []
    if request.context.strip():
        parts.append(f"## Context\n{request.context.strip()}\n")
    parts.append(f"## Task\n{request.task.strip()}\n")
    if request.constraints:
        bullets = "\n".join(f"- {c}" for c in request.constraints)
        parts.append(f"## Constraints and acceptance criteria\n{bullets}\n")
    return "\n".join(parts) + "\n"


def build_messages(
    request: DeliberationRequest, stage_block: str, personal: str, role: Role | None = None
) -> list[ChatMessage]:
    return [
        ChatMessage(role="system", content=system_prompt(role or request.role)),
        ChatMessage(role="user", content=shared_head(request) + stage_block + personal),
    ]


def temperature_note(temperature: float) -> str:
    if temperature < 0.5:
        return "stay conservative and precise"
    if temperature < 0.75:
        return "balance proven choices with improvements"
    return "explore bolder alternatives the others may miss"


def persona_block(agent: AgentSpec) -> str:
    return (
        f"## You\nYou are {agent.persona}. You sample at temperature {agent.temperature:.2f}: "
        f"{temperature_note(agent.temperature)}.\n\n"
    )


GENERATE_BLOCK = (
    "## Your step: propose\nWrite your complete proposal for the task, meeting every "
    "constraint. Reply with the proposal only.\n\n"
)


def generate_messages(request: DeliberationRequest, agent: AgentSpec) -> list[ChatMessage]:
    return build_messages(request, GENERATE_BLOCK, persona_block(agent))


def review_block(labels: Sequence[str]) -> str:
    return (
        "## Your step: anonymous peer review\n"
        f"You see {len(labels)} proposals by other council members, labelled "
        f'{", ".join(labels)}. Reply with one JSON object and nothing else: under "reviews", '
        f"for every label, integer scores from 1 to 10 (10 is best; for risk, 10 is the lowest "
        f"risk) for {', '.join(RUBRIC)} and a critique the author can act on; under "
        '"ranking", every label once, best first.\n\n'
    )


def review_messages(
    request: DeliberationRequest, agent: AgentSpec, labelled: Sequence[tuple[str, str]]
) -> list[ChatMessage]:
    # Tags, not headings, delimit proposals: a proposal's own headings and YAML keys cannot be
    # mistaken for the start of the next one.
    proposals = "".join(f'<proposal label="{label}">\n{text.strip()}\n</proposal>\n\n' for label, text in labelled)
    personal = persona_block(agent) + "## The proposals to review\n" + proposals
    return build_messages(request, review_block([label for label, _ in labelled]), personal)


def repair_message(error: str) -> ChatMessage:
    return ChatMessage(
        role="user",
        content=(
            f"That answer is invalid: {error}\nReply again with only the corrected JSON object, "
            "matching the requested schema exactly."
        ),
    )


REVISE_BLOCK = (
    "## Your step: revise\nBelow are your current proposal and anonymous critiques from your "
    "peers. Address the critiques that are right, keep what works, and reply with the complete "
    "revised proposal only.\n\n"
)


def revise_messages(
    request: DeliberationRequest, agent: AgentSpec, draft: str, critiques: Sequence[str]
) -> list[ChatMessage]:
    notes = "".join(f"### Critique {i + 1}\n{c.strip()}\n\n" for i, c in enumerate(critiques))
    personal = persona_block(agent) + f"## Your proposal\n{draft.strip()}\n\n## Critiques\n" + notes
    return build_messages(request, REVISE_BLOCK, personal)


CHAIR_BLOCK = (
    "## Your step: chair the council\nThe council ranked its candidates below (1 is best, with "
    "scores from peer review and deterministic checks). Either select one candidate as it is, "
    "or synthesize a better proposal from them. Reply with one JSON object: decision "
    '("select" or "synthesize"), choice (the candidate you select or build on), synthesis (the '
    'full synthesized proposal, or "" when selecting) and rationale.\n\n'
)


def chair_messages(
    request: DeliberationRequest,
    chair: AgentSpec,
    ranked: Sequence[tuple[str, str, str]],
) -> list[ChatMessage]:
    """`ranked` holds (label, score summary, proposal) best first."""
    body = "".join(
        f'<candidate label="{label}">\n({summary})\n{text.strip()}\n</candidate>\n\n' for label, summary, text in ranked
    )
    personal = persona_block(chair) + "## The ranked candidates\n" + body
    return build_messages(request, CHAIR_BLOCK, personal, role=chair.role)


def common_prefix_length(texts: Sequence[str]) -> int:
    if not texts:
        return 0
    first, n = texts[0], min(len(t) for t in texts)
    for i in range(n):
        if any(t[i] != first[i] for t in texts[1:]):
            return i
    return n


def serialized(request: ChatRequest) -> str:
    return "".join(f"<|{m.role}|>{m.content}" for m in request.messages)


def shared_prefix_share(
    requests: Sequence[ChatRequest], count: Callable[[str], int] = len
) -> dict[str, tuple[int, int]]:
    """Per stage, (units in the prefix every call of the stage shares, units in all its prompts),
    counted by `count` (characters by default; pass a tokenizer's length for tokens). Stages
    with a single call share nothing with anyone and are left out."""
    by_stage: dict[str, list[str]] = {}
    for request in requests:
        by_stage.setdefault(request.stage, []).append(serialized(request))
    shares = {}
    for stage, texts in by_stage.items():
        if len(texts) < 2:
            continue
        prefix = count(texts[0][: common_prefix_length(texts)])
        shares[stage] = (prefix * len(texts), sum(count(t) for t in texts))
    return shares
