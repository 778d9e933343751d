"""Context assembly and budgeting: pure functions, no servers."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from services.context.domain.assembly import assemble, context_items
from services.context.domain.model import (
    DecisionItem,
    Milestone,
    PlanHeader,
    StoryContext,
    StoryHeader,
    TaskItem,
)
from services.context.domain.scope import policy_from_mapping
from services.context.domain.tokens import estimate_tokens, truncate_to

POLICY = policy_from_mapping(
    yaml.safe_load((Path(__file__).parents[2] / "services/context/scope_policy.yaml").read_text())
)
count = estimate_tokens


def story_context(**overrides: object) -> StoryContext:
    base: dict[str, object] = dict(
        story=StoryHeader("S-1", "Checkout", "Let users pay", "BUILD", ("pays by card",)),
        plan=PlanHeader("P-1", 2, "Plan", "Two services", "alice", ("DEV", "QA"), ("p99 < 200ms",)),
        tasks=(
            TaskItem("T-2", "DEV", "Write API", "REST endpoint", depends_on=("T-1",)),
            TaskItem("T-1", "DEV", "Schema", "tables"),
            TaskItem("T-3", "QA", "Tests", "e2e", depends_on=("T-2",)),
        ),
        decisions=(
            DecisionItem("D-g", "Use Postgres", "team knows it", made_at="2024-01-01"),
            DecisionItem(
                "D-dev", "FastAPI", "async", role="DEV", affects=("T-2",), score=0.9, made_at="2024-01-02"
            ),
            DecisionItem("D-qa", "Playwright", "", role="QA", affects=("T-3",)),
        ),
        milestones=(Milestone("PHASE", "DESIGN -> BUILD", "2024-01-03"),),
        summary="So far: schema agreed.",
    )
    base.update(overrides)
    return StoryContext(**base)  # type: ignore[arg-type]


def test_blocks_hold_role_scoped_sections_in_priority_order() -> None:
    out = assemble(story_context(), "DEV", "BUILD", POLICY, 4000, count)
    assert out.sections == (
        "story",
        "plan",
        "role_tasks",
        "role_decisions",
        "global_decisions",
        "dependencies",
        "milestones",
        "summary",
    )
    assert "FastAPI" in out.context and "Use Postgres" in out.context
    assert "Playwright" not in out.context, "another role's decision leaked"
    assert "[T-3]" not in out.context, "another role's task leaked"
    assert out.context.index("FastAPI") < out.context.index("Use Postgres")
    assert "write_code" in out.tools and "developer" in out.system
    assert out.token_count == count(out.system) + count(out.context) + count(out.tools)
    assert not out.truncated and out.dropped_items == 0


def test_focus_task_and_its_decisions_come_first() -> None:
    items = context_items(story_context(), "DEV", POLICY.grant("DEV", "BUILD"), task_id="T-2")
    tasks = [i.text for i in items if i.section == "role_tasks"]
    assert tasks[0].startswith("- [T-2]") and "(current task)" in tasks[0]


@pytest.mark.parametrize("budget", [60, 90, 120, 160, 220, 300])
def test_budget_is_never_exceeded_and_lowest_priority_goes_first(budget: int) -> None:
    full = assemble(story_context(), "DEV", "BUILD", POLICY, 10_000, count)
    out = assemble(story_context(), "DEV", "BUILD", POLICY, budget, count)
    assert out.token_count <= budget
    assert out.truncated == (budget < full.token_count)
    # What survives is a prefix of the full priority order.
    assert out.sections == full.sections[: len(out.sections)]


def test_tiny_budget_still_returns_within_budget() -> None:
    out = assemble(story_context(), "DEV", "BUILD", POLICY, 10, count)
    assert out.token_count <= 10 and out.context == ""


def test_secrets_are_redacted_before_budgeting() -> None:
    ctx = story_context(summary="deploy with password=hunter2 and Authorization: Bearer abcdef123456")
    out = assemble(ctx, "DEV", "BUILD", POLICY, 4000, count)
    assert "hunter2" not in out.context and "abcdef123456" not in out.context
    assert "[REDACTED]" in out.context


def test_version_is_deterministic_and_tracks_content() -> None:
    a = assemble(story_context(), "DEV", "BUILD", POLICY, 4000, count)
    b = assemble(story_context(), "DEV", "BUILD", POLICY, 4000, count)
    c = assemble(story_context(summary="changed"), "DEV", "BUILD", POLICY, 4000, count)
    assert a.version == b.version and len(a.version) == 64
    assert c.version != a.version


def test_phase_scope_hides_sections() -> None:
    out = assemble(story_context(), "DEVOPS", "DOCS", POLICY, 4000, count)
    assert "dependencies" not in out.sections and "milestones" not in out.sections


def test_other_roles_tasks_only_with_their_scope() -> None:
    arch = assemble(story_context(), "ARCHITECT", "DESIGN", POLICY, 4000, count)
    assert "[T-3]" in arch.context and arch.sections[-1] == "other_tasks"


def test_truncate_to_respects_limit() -> None:
    text = "word " * 200
    short = truncate_to(text, 20, count)
    assert count(short) <= 20 and short.endswith("…")
    assert truncate_to("short", 20, count) == "short"


def test_estimate_counts_are_plausible() -> None:
    assert estimate_tokens("") == 0
    assert 2 <= estimate_tokens("hello world") <= 4
    assert estimate_tokens("a" * 400) >= 100


def test_decisions_on_upstream_work_reach_the_dependent_role() -> None:
    """QA's T-3 depends on DEV's T-2 (which depends on T-1): DEV's decisions shape QA's work."""
    out = assemble(story_context(), "QA", "BUILD", POLICY, 4000, count)
    assert "upstream_decisions" in out.sections
    assert out.context.index("Playwright") < out.context.index("FastAPI")
    dev = assemble(story_context(), "DEV", "BUILD", POLICY, 4000, count)
    assert "Playwright" not in dev.context, "decisions flow upstream to dependents, not back"
