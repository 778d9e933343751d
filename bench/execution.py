"""Execution-grounded selection: does the council's winner pass the hidden tests?

The production engine (`deliberate`, in-process) runs DEV councils of K=3, R=1 against a
private model SIMULATOR on a free port. Each council gets one task of the shipped task set
(services/simulator/tasks), whose marker makes the simulator answer every agent with one of
the task's variants, right or wrong, with the tests its author would write. Every council runs
twice on the same draws (the simulator is deterministic, the deliberation id is the same):
once with the sandbox (execution checks + the execution component of the aggregation), once
without (today's checks). Each winner's code then runs against the task's hidden tests in the
sandbox. Rates count only councils where at least one candidate passes the hidden tests.

Measured: hidden-test pass rate of the winner with and without execution; sandbox wall and
CPU time per candidate (each candidate's code against every candidate's tests, one sandbox
run); the extra wall time the check stage costs per deliberation.

Usage: python bench/execution.py [--draws 3] [--tasks N]    (last line: one JSON object)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import private_simulator

from services.orchestrator.adapters.llm_openai import OpenAILLM
from services.orchestrator.adapters.sandbox import BwrapSandbox
from services.orchestrator.deliberation import deliberate
from services.orchestrator.domain.council import Role
from services.orchestrator.domain.execution import split
from services.orchestrator.domain.model import DeliberationRequest, DeliberationResult
from services.orchestrator.execution.run import run_code
from services.orchestrator.settings import OrchestratorSettings
from services.simulator import tasks as task_set


class HiddenTests:
    """Runs code against a task's hidden tests in the sandbox, once per distinct code."""

    def __init__(self, sandbox: BwrapSandbox) -> None:
        self.sandbox = sandbox
        self.known: dict[tuple[str, str], bool] = {}

    def passes(self, task: task_set.Task, code: str) -> bool:
        key = (task.id, code)
        if key not in self.known:
            run = run_code(self.sandbox, "candidate", code, {"hidden": task_set.hidden_tests(task)})
            self.known[key] = bool(run.tests) and not run.killed and all(t.status == "passed" for t in run.tests)
        return self.known[key]


def code_of(proposal: str) -> str:
    return split(proposal).code


def check_ms(result: DeliberationResult) -> float:
    return sum(u.duration_ms for u in result.usage if u.stage == "check")


async def council(
    llm: OpenAILLM, sandbox: BwrapSandbox, hidden: HiddenTests, task: task_set.Task, draw: int
) -> dict[str, Any]:
    request = DeliberationRequest(
        task=f"{task_set.MARKER.format(task.id)} {task.prompt}",
        role=Role.DEV,
        constraints=[f"draw {draw}"],
        num_agents=3,
        rounds=1,
        deliberation_id=f"exec-{task.id}-{draw}",
    )
    with_exec = await deliberate(llm, request, sandbox=sandbox)
    without = await deliberate(llm, request)
    truth = {
        c.agent_id: await asyncio.to_thread(hidden.passes, task, code_of(c.proposal)) for c in with_exec.candidates
    }
    drawn = [{c.agent_id: c.proposal for c in result.candidates} for result in (with_exec, without)]
    same_draw = drawn[0] == drawn[1]
    runs = [r for c in with_exec.candidates for r in c.executions]
    return {
        "task": task.id,
        "any_passes": any(truth.values()),
        "all_pass": all(truth.values()),
        "with": truth[with_exec.winner.agent_id],
        "without": truth.get(without.winner.agent_id, False),
        "same_draw": same_draw,
        "kinds": [getattr(task_set.variant_of(task, c.proposal), "kind", "?") for c in with_exec.candidates],
        "winner_kind": getattr(task_set.variant_of(task, with_exec.winner.proposal), "kind", "?"),
        "exec_scores": [c.execution_score for c in with_exec.candidates],
        "sandbox_wall_ms": [r.wall_ms for r in runs],
        "sandbox_cpu_ms": [r.cpu_ms for r in runs],
        "extra_check_ms": check_ms(with_exec) - check_ms(without),
        "not_run": [c.detail for c in with_exec.winner.checks if c.name == "exec.sandbox"],
    }


def rate(rows: list[dict[str, Any]], key: str) -> float:
    return sum(r[key] for r in rows) / len(rows) if rows else 0.0


def report(rows: list[dict[str, Any]]) -> dict[str, Any]:
    counted = [r for r in rows if r["any_passes"]]
    contested = [r for r in counted if not r["all_pass"]]
    wall = [ms for r in rows for ms in r["sandbox_wall_ms"]]
    cpu = [ms for r in rows for ms in r["sandbox_cpu_ms"]]
    result = {
        "councils": len(rows),
        "councils_counted": len(counted),
        "councils_contested": len(contested),
        "hidden_pass_with_execution": round(rate(counted, "with"), 4),
        "hidden_pass_without_execution": round(rate(counted, "without"), 4),
        "contested_pass_with_execution": round(rate(contested, "with"), 4),
        "contested_pass_without_execution": round(rate(contested, "without"), 4),
        "sandbox_ms_per_candidate": round(statistics.fmean(wall), 1) if wall else None,
        "sandbox_ms_per_candidate_p95": round(statistics.quantiles(wall, n=20)[-1], 1) if len(wall) > 1 else None,
        "sandbox_cpu_ms_per_candidate": round(statistics.fmean(cpu), 1) if cpu else None,
        "extra_wall_ms_per_deliberation": round(statistics.fmean(r["extra_check_ms"] for r in rows), 1),
        "same_draws": all(r["same_draw"] for r in rows),
        "not_run": sorted({d for r in rows for d in r["not_run"]}),
        "simulator": True,
    }
    gain = result["hidden_pass_with_execution"] - result["hidden_pass_without_execution"]
    lines = [
        ("councils (tasks x draws)", f"{len(rows)}", ""),
        ("  with at least one candidate passing the hidden tests", f"{len(counted)}", "counted"),
        ("  of those, with a wrong candidate too (contested)", f"{len(contested)}", ""),
        ("winner passes hidden tests, WITH execution", f"{result['hidden_pass_with_execution']:.3f}", ">= 0.95"),
        ("winner passes hidden tests, without (today's checks)", f"{result['hidden_pass_without_execution']:.3f}", ""),
        ("gain (points)", f"{gain * 100:.1f}", ">= 20"),
        ("contested only: with / without", f"{result['contested_pass_with_execution']:.3f} / "
         f"{result['contested_pass_without_execution']:.3f}", ""),
        ("sandbox wall ms per candidate (mean / p95)", f"{result['sandbox_ms_per_candidate']} / "
         f"{result['sandbox_ms_per_candidate_p95']}", "<= 300"),
        ("sandbox CPU ms per candidate (inside + bwrap)", f"{result['sandbox_cpu_ms_per_candidate']}", ""),
        ("extra wall ms per deliberation (check stage)", f"{result['extra_wall_ms_per_deliberation']}", ""),
    ]  # fmt: skip
    width = max(len(name) for name, _, _ in lines)
    print("\nExecution-grounded selection (model SIMULATOR, K=3, R=1)\n")
    for name, value, target in lines:
        print(f"{name:<{width}}  {value:>16}  {target}")
    missed = [r for r in counted if not r["with"]]
    if missed:
        print("\ncouncils whose winner WITH execution fails the hidden tests (task: ranked kinds, execution scores)")
        for r in missed:
            print(f"  {r['task']}: {r['kinds']} {r['exec_scores']}")
    if result["not_run"]:
        print(f"\nEXECUTION DID NOT RUN: {result['not_run']}")
    return result


async def main(args: argparse.Namespace) -> dict[str, Any]:
    sandbox = BwrapSandbox()
    if sandbox.unavailable():
        print(f"no sandbox: {sandbox.unavailable()}", file=sys.stderr)
    hidden = HiddenTests(sandbox)
    chosen = task_set.load_tasks()[: args.tasks or None]
    log = Path(tempfile.gettempdir()) / f"bench-exec-sim-{uuid.uuid4().hex[:8]}.log"
    rows = []
    async with private_simulator(0.0, log) as (sim_url, _):
        settings = OrchestratorSettings(vllm_url=sim_url, vllm_model="conclave-sim", default_councils=False)
        llm = OpenAILLM(settings)
        try:
            for draw in range(args.draws):
                for task in chosen:
                    rows.append(await council(llm, sandbox, hidden, task, draw))
        finally:
            await llm.aclose()
    return report(rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--draws", type=int, default=3, help="councils per task")
    parser.add_argument("--tasks", type=int, default=0, help="only the first N tasks (0: all)")
    logging.basicConfig(level=logging.WARNING)
    print(json.dumps(asyncio.run(main(parser.parse_args()))))
