"""One trace per plan: from the published plan.approved through the Orchestrator's dispatch, the
Ray job and every agent's LLM call, back over NATS to the Context service's Decision write."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from services.shared import events, tracing
from services.shared.trace_view import load, traces_of
from services.stack.api import StackInfo
from tests.e2e.support import Flow, flow, plan, story
from tests.waiting import until

pytestmark = pytest.mark.e2e


@pytest.fixture
async def e2e(stack: StackInfo) -> AsyncIterator[Flow]:
    async with flow(stack.env()) as f:
        yield f


async def test_one_trace_follows_a_plan_to_its_decision(e2e: Flow) -> None:
    spans_file = Path(e2e.env[tracing.TRACE_FILE_ENV])
    # The test is the planning tool: its publish span is the root that every hop joins.
    planning_tool = TracerProvider(resource=Resource.create({"service.name": "planning-tool"}))
    planning_tool.add_span_processor(SimpleSpanProcessor(tracing.JsonLinesExporter(spans_file)))
    sid = story()
    with planning_tool.get_tracer("e2e").start_as_current_span("publish plan.approved", attributes={"story_id": sid}):
        await e2e.publish(plan(sid, [events.Role.DEV]))
    done = await e2e.recorder.terminal(sid, [events.Role.DEV])
    assert isinstance(done["DEV"], events.DeliberationCompleted)
    did = done["DEV"].deliberation_id

    def whole_trace() -> list[dict[str, Any]] | None:
        for spans in traces_of(load(spans_file), did).values():
            names = {s["name"] for s in spans}
            # The Decision's own write, not the earlier one that recorded the queued event.
            decided = any(s["name"] == "ingest.decision_write" and s["attributes"].get("deliberation_id") == did
                          for s in spans)
            served = any(n.endswith("/RehydrateSession") for n in names)
            if decided and served and {"deliberation.job", "ingest.plan_write"} <= names:
                return spans
        return None

    spans = await until(whole_trace, 60, f"the spans of {did}'s trace, from dispatch to the Decision", 0.5)
    by_id = {s["span_id"]: s for s in spans}

    def parent(span: dict[str, Any]) -> dict[str, Any]:
        return by_id[span["parent_id"]]

    [job] = [s for s in spans if s["name"] == "deliberation.job"]
    assert job["service"] == "ray-job" and job["attributes"]["deliberation_id"] == did
    dispatch = parent(job)
    assert dispatch["name"] == "orchestrator.dispatch" and dispatch["service"] == "orchestrator"
    consumed = parent(dispatch)
    assert consumed["name"] == "consume orchestrator-plan-approved", "NATS carried the plan's context"
    assert parent(consumed)["name"] == "publish plan.approved" and parent(consumed)["service"] == "planning-tool"
    assert any(s["name"] == "ingest.plan_write" and s["service"] == "context" for s in spans), \
        "the Context service's ingest of the same plan joins the same trace"
    # The job asks the Context service for the role's context: gRPC metadata carries the trace.
    served = [s for s in spans if s["name"].endswith("/RehydrateSession") and s["service"] == "context"]
    assert served, "the Context service's RehydrateSession span joined the job's trace"
    for call in served:
        caller = parent(call)
        assert caller["service"] == "ray-job" and caller["name"] == call["name"]
        assert parent(caller) is job
    calls = [s for s in spans if s["name"].startswith("llm.")]
    assert calls and all(parent(c)["name"].startswith("stage.") for c in calls)
    assert all(c["attributes"]["llm.time_to_first_token_ms"] > 0 for c in calls), "every call says when it began"
    assert {c["attributes"]["agent_id"] for c in calls if c["name"] == "llm.generate"}
    assert all(parent(parent(c)) is job for c in calls)
    [write] = [s for s in spans
               if s["name"] == "ingest.decision_write" and s["attributes"].get("deliberation_id") == did]
    assert write["service"] == "context"
    consume = parent(write)
    assert consume["name"].startswith("consume ") and parent(consume)["service"] == "ray-job", \
        "the completed event carried the job's context to the Context service"
