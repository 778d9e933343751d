"""Execution checks for real: the task set's truth in the sandbox, and a Deliberate call
through the Orchestrator (real gRPC, the stack's NATS, a private simulator) whose candidates
carry the results of running each other's tests."""

from __future__ import annotations

import os
import random
from concurrent.futures import ThreadPoolExecutor

from services.gen.fleet.orchestrator.v1 import orchestrator_pb2 as pb
from services.orchestrator.adapters.sandbox import BwrapSandbox
from services.orchestrator.execution.run import run_code
from services.simulator import tasks
from tests.integration.test_orchestrator_grpc import Orchestrator, orchestrator  # noqa: F401


def passes(sandbox: BwrapSandbox, code: str, suite: str) -> bool:
    run = run_code(sandbox, "code", code, {"suite": suite})
    return bool(run.tests) and not run.killed and all(t.status == "passed" for t in run.tests)


def test_the_task_set_knows_the_truth(sandbox: BwrapSandbox) -> None:
    """Every reference passes its hidden tests and a right author's tests; every known wrong
    variant fails its hidden tests and at least one of a right author's tests."""
    assert len(tasks.load_tasks()) >= 30
    cases: list[tuple[str, str, str, bool]] = []  # (what, code, suite, should it pass)
    for task in tasks.load_tasks():
        hidden = tasks.hidden_tests(task)
        public = tasks.author_tests(task, task.variants[0], random.Random(0))
        cases += [(task.id, task.reference, hidden, True), (task.id, task.reference, public, True)]
        cases += [(f"{task.id} {w.kind}", w.code, suite, False) for w in task.wrong for suite in (hidden, public)]
    # Each run is a sandboxed process of its own: the machine's cores take them side by side.
    with ThreadPoolExecutor(os.cpu_count()) as pool:
        passed = list(pool.map(lambda case: passes(sandbox, case[1], case[2]), cases))
    wrong = [(what, should) for (what, _, _, should), did in zip(cases, passed, strict=True) if did != should]
    assert not wrong, wrong
    assert {w.kind for task in tasks.load_tasks() for w in task.wrong} == set(tasks.KINDS)


async def test_a_dev_deliberation_carries_the_results_of_running_its_code(orchestrator: Orchestrator) -> None:  # noqa: F811
    task = tasks.task_by_id("fib")
    request = pb.DeliberateRequest(task=f"{tasks.MARKER.format(task.id)} {task.prompt}", role=pb.DEV)
    reply = await orchestrator.stub.Deliberate(request, timeout=120)
    assert len(reply.ranked) == 3
    for candidate in reply.ranked:
        checks = {c.name: c for c in candidate.checks}
        assert "exec.sandbox" not in checks, checks["exec.sandbox"].detail
        assert "of its own tests" in checks["exec.own_tests"].detail
        assert "of the other candidates' tests" in checks["exec.agreement"].detail
    winner = {c.name: c for c in reply.winner.checks}
    assert winner["exec.agreement"].passed, winner["exec.agreement"].detail


def test_qa_tests_run_against_the_reference(sandbox: BwrapSandbox) -> None:
    from services.orchestrator.domain.council import Role
    from services.orchestrator.domain.model import Proposal
    from services.orchestrator.execution.run import execute

    task = tasks.task_by_id("gcd")
    good = tasks.author_tests(task, task.variants[0], random.Random(0))
    wrong = good.replace("== 6", "== 7")
    proposals = [Proposal(agent_id=a, text=f"```python\n{t}\n```") for a, t in (("q1", good), ("q2", wrong))]
    report = execute(Role.QA, proposals, sandbox, reference=task.reference)
    assert [report.checks[a][0].passed for a in ("q1", "q2")] == [True, False]
    assert report.runs[0].code_of == "<reference>" and set(report.runs[0].suites) == {"q1", "q2"}
    without = execute(Role.QA, proposals, sandbox)
    assert "not run" in without.checks["q1"][0].detail and not without.checks["q1"][0].passed
