"""End to end with execution checks: plan.approved for DEV -> Ray job -> the council's
candidates run each other's tests in the sandbox -> the completed event and the Decision in
the graph carry per-test results."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from neo4j import AsyncGraphDatabase

from services.shared import events
from services.simulator import tasks
from services.stack.api import StackInfo
from tests.e2e.support import Flow, flow, plan, story

pytestmark = pytest.mark.e2e


@pytest.fixture
async def e2e(stack: StackInfo) -> AsyncIterator[Flow]:
    async with flow(stack.env()) as f:
        yield f


async def test_the_dev_decision_records_what_running_the_code_showed(e2e: Flow) -> None:
    sid = story()
    task = tasks.task_by_id("binary_search")
    approved = plan(sid, [events.Role.DEV])
    await e2e.publish(approved.model_copy(update={"description": f"{tasks.MARKER.format(task.id)} {task.prompt}"}))
    done = await e2e.recorder.terminal(sid, [events.Role.DEV])
    event = done["DEV"]
    assert isinstance(event, events.DeliberationCompleted), event
    for candidate in event.candidates:
        assert "exec.sandbox" not in candidate.checks, candidate.check_details["exec.sandbox"]
        assert {"exec.own_tests", "exec.agreement"} <= set(candidate.checks)
        assert candidate.execution_score is not None
        [run] = candidate.executions
        assert run.code_of == candidate.agent_id and not run.killed
        assert set(run.suites) == {c.agent_id for c in event.candidates}
        assert {t.status for t in run.tests} <= {"passed", "failed", "errored"} and run.tests
    env = e2e.env
    driver = AsyncGraphDatabase.driver(env["NEO4J_URI"], auth=(env["NEO4J_USER"], env["NEO4J_PASSWORD"]))
    try:
        for _ in range(80):
            records, _, _ = await driver.execute_query(
                "MATCH (d:Decision {story_id: $sid, status: 'CHOSEN'}) RETURN d.checks_json AS checks", sid=sid
            )
            if records:
                break
            await asyncio.sleep(0.25)  # the Context service records the Decision asynchronously
        assert records, "the Decision was never recorded"
        stored = json.loads(records[0]["checks"])
        assert stored["executions"][0]["tests"], stored
        assert "exec.agreement" in stored["checks"]
    finally:
        await driver.close()
