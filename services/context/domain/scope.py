"""Role x phase scope policy: which context sections a role may see, and its tools.

The policy is data (scope_policy.yaml); this module only interprets it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from services.context.domain.errors import InvalidArgument
from services.context.domain.model import PHASES, ROLES

# Every scope a policy may grant. A dotted scope is a field inside its section and
# is only meaningful together with that section.
KNOWN_SCOPES: frozenset[str] = frozenset(
    {
        "story",
        "story.acceptance_criteria",
        "plan",
        "plan.acceptance_criteria",
        "tasks",
        "tasks.other_roles",
        "decisions",
        "decisions.global",
        "decisions.rationale",
        "decisions.alternatives",
        "dependencies",
        "milestones",
        "summary",
    }
)


@dataclass(frozen=True)
class Grant:
    scopes: frozenset[str]
    tools: tuple[str, ...]


@dataclass(frozen=True)
class ScopeCheck:
    allowed: bool
    granted: tuple[str, ...]
    denied: tuple[str, ...]
    unknown: tuple[str, ...]


@dataclass(frozen=True)
class ScopePolicy:
    system: Mapping[str, str]
    grants: Mapping[tuple[str, str], Grant]

    def grant(self, role: str, phase: str) -> Grant:
        return self.grants[(check_role(role), check_phase(phase))]

    def system_prompt(self, role: str) -> str:
        return self.system[check_role(role)]

    def check(self, role: str, phase: str, requested: Iterable[str]) -> ScopeCheck:
        grant = self.grant(role, phase)
        wanted = sorted(set(requested))
        unknown = tuple(s for s in wanted if s not in KNOWN_SCOPES)
        denied = tuple(s for s in wanted if s in KNOWN_SCOPES and s not in grant.scopes)
        granted = tuple(s for s in wanted if s in grant.scopes)
        return ScopeCheck(not unknown and not denied, granted, denied, unknown)


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidArgument("role", f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    return role


def check_phase(phase: str) -> str:
    if phase not in PHASES:
        raise InvalidArgument("phase", f"unknown phase {phase!r}; expected one of {', '.join(PHASES)}")
    return phase


def policy_from_mapping(doc: Mapping[str, Any]) -> ScopePolicy:
    """Build and validate a policy; a typo in the YAML fails at start, not at request time."""
    roles = doc.get("roles") or {}
    missing_roles = [r for r in ROLES if r not in roles]
    if missing_roles:
        raise ValueError(f"scope policy has no entry for roles {missing_roles}")
    system: dict[str, str] = {}
    grants: dict[tuple[str, str], Grant] = {}
    for role in ROLES:
        entry = roles[role]
        system[role] = str(entry.get("system", "")).strip()
        phases = entry.get("phases") or {}
        for phase in PHASES:
            if phase not in phases:
                raise ValueError(f"scope policy: {role} has no phase {phase}")
            scopes = frozenset(phases[phase].get("scopes") or ())
            bad = sorted(scopes - KNOWN_SCOPES)
            if bad:
                raise ValueError(f"scope policy: {role}/{phase} grants unknown scopes {bad}")
            orphans = sorted(s for s in scopes if "." in s and s.split(".")[0] not in scopes)
            if orphans:
                raise ValueError(f"scope policy: {role}/{phase} grants {orphans} without their section")
            tools = tuple(str(t) for t in phases[phase].get("tools") or ())
            grants[(role, phase)] = Grant(scopes, tools)
    return ScopePolicy(system, grants)
