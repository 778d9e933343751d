"""Roles, agents and councils: who deliberates, with what diversity."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from pydantic import BaseModel, Field

from services.orchestrator.domain.errors import ValidationError
from services.shared.events import Role

DEFAULT_NUM_AGENTS = 3
MIN_AGENTS = 1
MAX_AGENTS = 7
# Spread of sampling temperatures across a council: diversity of drafts without
# letting the hottest agent drift into nonsense.
MIN_TEMPERATURE = 0.3
MAX_TEMPERATURE = 0.9


PERSONAS: dict[Role, tuple[str, ...]] = {
    Role.ARCHITECT: (
        "a pragmatist who favours the simplest design that meets every constraint",
        "a reliability engineer who designs for failure modes and operability",
        "a domain modeller who cares about clear boundaries and explicit contracts",
    ),
    Role.DEV: (
        "a careful engineer who writes small, typed, well-tested functions",
        "a performance-minded engineer who avoids needless allocation and I/O",
        "a maintainer who optimises for readability and obvious error handling",
    ),
    Role.QA: (
        "a tester who hunts edge cases and boundary values",
        "a tester focused on failure paths and error handling",
        "a tester who keeps tests fast, isolated and deterministic",
    ),
    Role.DEVOPS: (
        "an SRE focused on resource limits, probes and safe rollouts",
        "a security-minded operator: least privilege, non-root, pinned images",
        "a cost-conscious operator who keeps manifests minimal and explicit",
    ),
    Role.DATA: (
        "a data modeller who normalises carefully and names things well",
        "an analytics engineer focused on query performance and indexes",
        "a data steward focused on quality constraints and lineage",
    ),
}


def parse_role(value: str | Role, field: str = "role") -> Role:
    name = value.value if isinstance(value, Role) else str(value).strip().upper()
    try:
        return Role(name)
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise ValidationError(field, f"unknown role {value!r}; expected one of {allowed}") from None


class AgentSpec(BaseModel, frozen=True):
    agent_id: str
    role: Role
    persona: str
    temperature: float = Field(ge=0.0, le=2.0)
    # The agent's own model and OpenAI-compatible base URL; empty: the deployment's default.
    # A council that mixes model families does not share one family's blind spots.
    model: str = ""
    endpoint: str = ""


MAX_MODEL_CHARS = 200
_MODEL_NAME = re.compile(r"^[\w.:/@+-]+$")


def validate_model(model: str, field: str = "model") -> str:
    """A model name as OpenAI-compatible servers list them (e.g. Qwen/Qwen2.5-7B-Instruct)."""
    model = model.strip()
    if len(model) > MAX_MODEL_CHARS:
        raise ValidationError(field, f"{len(model)} chars exceeds {MAX_MODEL_CHARS}")
    if model and not _MODEL_NAME.match(model):
        raise ValidationError(field, f"{model!r} is not a model name (letters, digits and . _ : / @ + -)")
    return model


def validate_endpoint(endpoint: str, field: str = "endpoint") -> str:
    """An http(s) base URL with a host and no query, e.g. http://vllm-b:8000/v1."""
    endpoint = endpoint.strip()
    if not endpoint:
        return ""
    try:
        parts = urlsplit(endpoint)
        port_ok = parts.port is None or 0 < parts.port < 65536
    except ValueError as exc:
        raise ValidationError(field, f"{endpoint!r} is not a URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
        raise ValidationError(field, f"{endpoint!r} must be an http(s) URL with a host, e.g. http://vllm:8000/v1")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValidationError(field, "must not carry a query, fragment or credentials")
    return endpoint.rstrip("/")


class Council(BaseModel, frozen=True):
    role: Role
    agents: tuple[AgentSpec, ...]
    council_id: str = ""

    def with_agent(self, agent: AgentSpec) -> Council:
        if agent.role != self.role:
            raise ValidationError("agent.role", f"agent is {agent.role}, council is {self.role}")
        if any(a.agent_id == agent.agent_id for a in self.agents):
            raise ValidationError("agent.agent_id", f"{agent.agent_id!r} is already in the council")
        if len(self.agents) >= MAX_AGENTS:
            raise ValidationError("agents", f"a council holds at most {MAX_AGENTS} agents")
        return self.model_copy(update={"agents": (*self.agents, agent)})

    def without_agent(self, agent_id: str) -> Council:
        kept = tuple(a for a in self.agents if a.agent_id != agent_id)
        if len(kept) == len(self.agents):
            raise ValidationError("agent_id", f"{agent_id!r} is not in the council")
        return self.model_copy(update={"agents": kept})


def temperatures(k: int) -> list[float]:
    if k == 1:
        return [round((MIN_TEMPERATURE + MAX_TEMPERATURE) / 2, 2)]
    step = (MAX_TEMPERATURE - MIN_TEMPERATURE) / (k - 1)
    return [round(MIN_TEMPERATURE + i * step, 2) for i in range(k)]


def default_council(role: Role, num_agents: int = DEFAULT_NUM_AGENTS) -> Council:
    if not MIN_AGENTS <= num_agents <= MAX_AGENTS:
        raise ValidationError("num_agents", f"must be between {MIN_AGENTS} and {MAX_AGENTS}")
    personas = PERSONAS[role]
    agents = tuple(
        AgentSpec(
            agent_id=f"{role.value.lower()}-{i + 1}",
            role=role,
            persona=personas[i % len(personas)],
            temperature=t,
        )
        for i, t in enumerate(temperatures(num_agents))
    )
    return Council(role=role, agents=agents)


def council_for_role(council: Council | None, role: Role, num_agents: int) -> Council:
    """The agents that deliberate: the first K of a stored council, or a default one."""
    if council is None:
        return default_council(role, num_agents)
    if council.role != role:
        raise ValidationError("role", f"council is for {council.role}, request is for {role}")
    if len(council.agents) < num_agents:
        raise ValidationError("num_agents", f"{num_agents} requested but the council has {len(council.agents)} agents")
    return council.model_copy(update={"agents": council.agents[:num_agents]})


CHAIR_PERSONA = (
    "the chair of the council, who weighs the candidates impartially and prefers the simplest "
    "proposal that meets every constraint"
)


def default_chair(role: Role = Role.ARCHITECT) -> AgentSpec:
    return AgentSpec(agent_id=f"{role.value.lower()}-chair", role=role, persona=CHAIR_PERSONA, temperature=0.2)
