"""Execution checks: candidates' code and tests run in the sandbox, by role.

DEV: every candidate's code against every candidate's tests (its own included), one sandbox
run per code, scored by dual agreement. QA: every candidate's tests against the reference
code (the story's DEV winner, or one the task provides), when there is one.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from importlib import resources

from services.orchestrator.domain import execution as ex
from services.orchestrator.domain.council import Role
from services.orchestrator.domain.model import Candidate, CheckResult, Proposal
from services.orchestrator.domain.runs import CaseResult, CodeRun
from services.orchestrator.domain.sandbox import SandboxLimits, SandboxPort, SandboxUnavailable

RUNNER = resources.files("services.orchestrator.execution").joinpath("runner.py").read_text()
LIMITS = SandboxLimits(cpu_s=5, wall_s=10.0, memory_mb=512, processes=32, output_bytes=256 * 1024)
PER_TEST_S = 0.5
PARALLEL = 2


def execute(
    role: Role,
    proposals: Sequence[Proposal],
    sandbox: SandboxPort,
    reference: str = "",
    limits: SandboxLimits = LIMITS,
) -> ex.ExecutionReport:
    """Execution checks for the roles that have them; an empty report for the others."""
    if role not in (Role.DEV, Role.QA):
        return ex.ExecutionReport()
    agents = [p.agent_id for p in proposals]
    reason = sandbox.unavailable()
    if reason:
        return ex.ExecutionReport(checks=ex.not_run(agents, f"no sandbox: {reason}"))
    parts = {p.agent_id: ex.split(p.text) for p in proposals}
    try:
        if role == Role.DEV:
            return _dev(parts, sandbox, limits)
        return _qa(parts, reference, sandbox, limits)
    except SandboxUnavailable as exc:
        return ex.ExecutionReport(checks=ex.not_run(agents, f"no sandbox: {exc}"))


def _dev(parts: Mapping[str, ex.Proposal], sandbox: SandboxPort, limits: SandboxLimits) -> ex.ExecutionReport:
    suites = {agent: p.tests for agent, p in parts.items() if p.tests.strip()}
    jobs = [(agent, p.code) for agent, p in parts.items()]
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        runs = list(pool.map(lambda job: run_code(sandbox, job[0], job[1], suites, limits), jobs))
    scores = ex.agreement(runs)
    return ex.ExecutionReport(checks=ex.dev_checks(runs, scores), scores=scores, runs=runs)


def _qa(
    parts: Mapping[str, ex.Proposal], reference: str, sandbox: SandboxPort, limits: SandboxLimits
) -> ex.ExecutionReport:
    # A QA proposal is all tests; whatever split() took for code belongs to the tests too.
    suites = {agent: "\n\n".join(s for s in (p.code, p.tests) if s.strip()) for agent, p in parts.items()}
    if not reference.strip():
        return ex.ExecutionReport(checks=ex.not_run(list(parts), "no DEV winner or reference implementation given"))
    run = run_code(sandbox, ex.REFERENCE, reference, suites, limits)
    return ex.ExecutionReport(checks=ex.reference_checks([run], "the reference code"), runs=[run])


def run_code(
    sandbox: SandboxPort,
    code_of: str,
    code: str,
    suites: Mapping[str, str],
    limits: SandboxLimits = LIMITS,
    per_test_s: float = PER_TEST_S,
) -> CodeRun:
    """One sandbox run of `code` against `suites`; per-test results as far as it got."""
    nonce = secrets.token_hex(16)
    plan = {"code": code, "suites": dict(suites), "per_test_s": per_test_s, "nonce": nonce}
    outcome = sandbox.run_python({"runner.py": RUNNER, "plan.json": json.dumps(plan)}, "runner.py", limits)
    tests, done = [], False
    for line in outcome.stdout.splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(record, dict) or record.pop("nonce", None) != nonce:
            continue  # printed by the candidate's code, not by the runner
        if record.get("done"):
            done = True
        elif record.get("suite") in suites:
            tests.append(CaseResult.model_validate(record))
    killed = outcome.killed or ("" if done else f"runner ended early (exit {outcome.exit_code})")
    return CodeRun(
        code_of=code_of,
        suites=list(suites),
        tests=tests,
        wall_ms=outcome.wall_ms,
        cpu_ms=outcome.cpu_ms,
        killed=killed,
        output=ex.truncate(outcome.stderr),
    )


async def execute_async(
    role: Role, proposals: Sequence[Proposal], sandbox: SandboxPort | None, reference: str = ""
) -> ex.ExecutionReport:
    """The engine's entry: off the event loop, since a run blocks for up to its wall time.
    No sandbox port at all (a scripted test engine) means no execution stage."""
    if sandbox is None:
        return ex.ExecutionReport()
    return await asyncio.to_thread(execute, role, proposals, sandbox, reference)


def merged(checks: Mapping[str, list[CheckResult]], report: ex.ExecutionReport) -> dict[str, list[CheckResult]]:
    return {agent: [*found, *report.checks.get(agent, [])] for agent, found in checks.items()}


def with_runs(candidates: Sequence[Candidate], report: ex.ExecutionReport) -> list[Candidate]:
    return [
        c.model_copy(
            update={"executions": report.runs_of(c.agent_id), "execution_score": report.scores.get(c.agent_id)}
        )
        for c in candidates
    ]
