"""Execution-grounded selection, the pure part: what runs against what, and how agreement
between candidates' code and candidates' tests becomes a score (after CodeT's dual execution
agreement: every candidate's code runs against every candidate's tests)."""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence

from pydantic import BaseModel, Field

from services.orchestrator.domain.checks.blocks import code_blocks
from services.orchestrator.domain.checks.python_code import PYTHON_TAGS
from services.orchestrator.domain.model import CheckResult
from services.orchestrator.domain.runs import CodeRun

OUTPUT_CHARS = 2000
# Less than one test's worth, so agreement in numbers only ever breaks a tie in tests passed.
CLUSTER_TIE_BREAK = 0.01


class Proposal(BaseModel):
    """A DEV proposal's code and tests, split apart."""

    code: str = ""
    tests: str = ""


def split(text: str) -> Proposal:
    """Python blocks that define top-level test functions (or Test classes) are tests; the
    rest is code. A block that does not parse counts as code, so it fails loudly when run."""
    code: list[str] = []
    tests: list[str] = []
    for block in code_blocks(text, *PYTHON_TAGS):
        (tests if _defines_tests(block) else code).append(block)
    return Proposal(code="\n\n".join(code), tests="\n\n".join(tests))


def _defines_tests(block: str) -> bool:
    try:
        tree = ast.parse(block)
    except (SyntaxError, ValueError):
        return False
    return any(
        (isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name.startswith("test"))
        or (isinstance(n, ast.ClassDef) and n.name.startswith("Test"))
        for n in tree.body
    )


def agreement(runs: Sequence[CodeRun]) -> dict[str, float]:
    """Dual agreement per candidate in 0..1: its code runs against all the council's tests
    (every candidate's suite, its own included); each test it fails that the best candidate
    passes halves its score, since a failed test is hard evidence and reviews are soft.
    CodeT's cluster size (programs passing exactly the same tests) only breaks ties: as a
    product, as CodeT has it, two copies of one wrong program outweigh a lone right one in a
    council of three."""
    passed = {run.code_of: frozenset(run.passed()) for run in runs}
    cluster_size: dict[frozenset[tuple[str, str]], int] = {}
    for tests in passed.values():
        cluster_size[tests] = cluster_size.get(tests, 0) + 1
    raw = {agent: len(tests) + CLUSTER_TIE_BREAK * (cluster_size[tests] - 1) for agent, tests in passed.items()}
    best = max(raw.values(), default=0.0)
    if best <= 0:
        return {agent: 0.0 for agent in raw}
    return {agent: round(0.5 ** (best - score), 6) for agent, score in raw.items()}


def dev_checks(runs: Sequence[CodeRun], scores: Mapping[str, float]) -> dict[str, list[CheckResult]]:
    """Per candidate: do its code and its own tests agree, and is it in the best cluster."""
    checks: dict[str, list[CheckResult]] = {}
    for run in runs:
        agent = run.code_of
        own, own_total = len(run.passed(agent)), run.count(agent)
        peers = [s for s in run.suites if s != agent]
        peer_passed = sum(len(run.passed(s)) for s in peers)
        peer_total = sum(run.count(s) for s in peers)
        stopped = f"; stopped: {run.killed}" if run.killed else ""
        checks[agent] = [
            CheckResult(
                name="exec.own_tests",
                passed=own_total > 0 and own == own_total and not run.killed,
                detail=f"its code passes {own}/{own_total} of its own tests{stopped}",
            ),
            CheckResult(
                name="exec.agreement",
                passed=scores.get(agent, 0.0) >= 1.0,
                detail=f"passes {peer_passed}/{peer_total} of the other candidates' tests; "
                f"agreement {scores.get(agent, 0.0):.2f} of the best",
            ),
        ]
    return checks


def reference_checks(runs: Sequence[CodeRun], against: str) -> dict[str, list[CheckResult]]:
    """QA: each candidate's tests, run against reference code, must pass (and exist)."""
    checks: dict[str, list[CheckResult]] = {}
    for run in runs:
        for suite in run.suites:
            total, ok = run.count(suite), len(run.passed(suite))
            checks[suite] = [
                CheckResult(
                    name="exec.tests_pass_reference",
                    passed=total > 0 and ok == total,
                    detail=f"{ok}/{total} of its tests pass against {against}",
                )
            ]
    return checks


def not_run(agents: Sequence[str], reason: str) -> dict[str, list[CheckResult]]:
    check = CheckResult(name="exec.sandbox", passed=False, detail=f"not run: {reason}")
    return {agent: [check] for agent in agents}


def truncate(text: str, limit: int = OUTPUT_CHARS) -> str:
    return text if len(text) <= limit else text[: limit // 2] + "\n...[truncated]...\n" + text[-limit // 2 :]


class ExecutionReport(BaseModel):
    """What the execution stage adds to a deliberation: checks per candidate, the execution
    component of the aggregation (DEV only), and every run with its per-test results."""

    checks: dict[str, list[CheckResult]] = Field(default_factory=dict)
    scores: dict[str, float] = Field(default_factory=dict)
    runs: list[CodeRun] = Field(default_factory=list)

    def runs_of(self, agent: str) -> list[CodeRun]:
        return [r for r in self.runs if r.code_of == agent or (r.code_of == REFERENCE and agent in r.suites)]


REFERENCE = "<reference>"
