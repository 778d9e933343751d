"""Role x phase scope policy loaded from the repository's YAML."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from services.context.domain.errors import InvalidArgument
from services.context.domain.model import PHASES, ROLES
from services.context.domain.scope import KNOWN_SCOPES, policy_from_mapping

DOC: dict[str, Any] = yaml.safe_load(
    (Path(__file__).parents[2] / "services/context/scope_policy.yaml").read_text()
)
POLICY = policy_from_mapping(DOC)


def test_every_role_and_phase_has_a_grant_with_story_and_tools() -> None:
    for role in ROLES:
        assert POLICY.system_prompt(role)
        for phase in PHASES:
            grant = POLICY.grant(role, phase)
            assert "story" in grant.scopes and grant.tools


def test_check_reports_granted_denied_and_unknown() -> None:
    result = POLICY.check("DEVOPS", "DOCS", ["story", "milestones", "secrets", "story"])
    assert not result.allowed
    assert result.granted == ("story",)
    assert result.denied == ("milestones",)
    assert result.unknown == ("secrets",)
    assert POLICY.check("QA", "TEST", ["story", "plan.acceptance_criteria"]).allowed


def test_unknown_role_or_phase_names_the_field() -> None:
    with pytest.raises(InvalidArgument) as err:
        POLICY.check("PM", "BUILD", ["story"])
    assert err.value.field == "role"
    with pytest.raises(InvalidArgument) as err:
        POLICY.grant("DEV", "RELEASE")
    assert err.value.field == "phase"


def test_policy_rejects_unknown_scopes_and_orphan_fields() -> None:
    doc = yaml.safe_load(yaml.safe_dump(DOC))
    doc["roles"]["DEV"]["phases"]["BUILD"]["scopes"] = ["story", "bogus"]
    with pytest.raises(ValueError, match="bogus"):
        policy_from_mapping(doc)
    doc["roles"]["DEV"]["phases"]["BUILD"]["scopes"] = ["story", "plan.acceptance_criteria"]
    with pytest.raises(ValueError, match="without their section"):
        policy_from_mapping(doc)


def test_policy_rejects_missing_role() -> None:
    doc = yaml.safe_load(yaml.safe_dump(DOC))
    del doc["roles"]["DATA"]
    with pytest.raises(ValueError, match="DATA"):
        policy_from_mapping(doc)


def test_known_scopes_cover_the_yaml() -> None:
    used = {s for r in DOC["roles"].values() for p in r["phases"].values() for s in p["scopes"]}
    assert used <= KNOWN_SCOPES
