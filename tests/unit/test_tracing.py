"""Trace context across process hops, the JSON-lines exporter and the `conclave trace` drawing."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection, reflection_pb2, reflection_pb2_grpc
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from rich.console import Console

from services.gen.fleet.context.v1 import context_pb2, context_pb2_grpc
from services.shared import tracing
from services.shared.trace_view import draw, load, ordered, traces_of


def provider(path: Path, service: str) -> TracerProvider:
    p = TracerProvider(resource=Resource.create({"service.name": service}))
    p.add_span_processor(SimpleSpanProcessor(tracing.JsonLinesExporter(path)))
    return p


def test_a_plan_keeps_one_trace_across_processes_and_draws_nested(tmp_path: Path) -> None:
    spans_file = tmp_path / "spans.jsonl"
    orchestrator = provider(spans_file, "orchestrator").get_tracer("t")
    job = provider(spans_file, "ray-job").get_tracer("t")
    with orchestrator.start_as_current_span("orchestrator.dispatch", attributes={"story_id": "S-1"}):
        carried = tracing.inject()  # what the deliberation record (or a NATS header) carries
    assert carried["traceparent"].startswith("00-")
    with job.start_as_current_span("deliberation.job", context=tracing.extract(carried),
                                   attributes={"deliberation_id": "dlb-1"}):
        with job.start_as_current_span("stage.generate"):
            with job.start_as_current_span("llm.generate", attributes={"agent_id": "dev-1"}):
                pass
    with orchestrator.start_as_current_span("unrelated"):
        pass

    found = traces_of(load(spans_file), "S-1")
    [(trace_id, spans)] = found.items()
    assert traces_of(load(spans_file), "dlb-1") == found, "a deliberation id finds the same trace"
    assert [(depth, s["name"], s["service"]) for depth, s in ordered(spans)] == [
        (0, "orchestrator.dispatch", "orchestrator"),
        (1, "deliberation.job", "ray-job"),
        (2, "stage.generate", "ray-job"),
        (3, "llm.generate", "ray-job"),
    ]
    console = Console(record=True, width=140)
    draw(trace_id, spans, console)
    text = console.export_text()
    assert "4 spans" in text and "llm.generate dev-1" in text and "█" in text


def test_a_batch_span_links_every_message_it_handled(tmp_path: Path) -> None:
    tracer = provider(tmp_path / "spans.jsonl", "context").get_tracer("t")
    carriers = []
    for story in ("S-1", "S-2"):
        with tracer.start_as_current_span("publish", attributes={"story_id": story}):
            carriers.append(tracing.inject())
    links = tracing.link_to([*carriers, {}, None])
    assert len(links) == 2
    assert {f"{link.context.trace_id:032x}" for link in links} == {
        c["traceparent"].split("-")[1] for c in carriers
    }


@asynccontextmanager
async def traced_call(spans_file: Path, register: Callable[[grpc.aio.Server], None]) -> AsyncIterator[grpc.aio.Channel]:
    """A channel from a "ray-job" client to a "context" server, both tracing into `spans_file`,
    inside the client's own `deliberation.job` span."""
    caller, callee = provider(spans_file, "ray-job"), provider(spans_file, "context")
    server = grpc.aio.server(interceptors=tracing.server_interceptors(callee))
    register(server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}",
                                             interceptors=tracing.client_interceptors(caller)) as channel:
            with caller.get_tracer("t").start_as_current_span("deliberation.job"):
                yield channel
    finally:
        await server.stop(0)


async def test_grpc_metadata_carries_the_trace_and_probes_make_no_spans(tmp_path: Path) -> None:
    spans_file = tmp_path / "spans.jsonl"

    def probes(server: grpc.aio.Server) -> None:
        health_pb2_grpc.add_HealthServicer_to_server(health.aio.HealthServicer(), server)
        reflection.enable_server_reflection([health.SERVICE_NAME], server)

    async with traced_call(spans_file, probes) as channel:
        await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        async for _ in stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")])):
            pass
    names = [s["name"] for s in load(spans_file)]
    # Health probes and reflection are filtered out: only the job's own span is left.
    assert names == ["deliberation.job"], names


async def test_a_work_rpc_gets_a_client_and_a_server_span_in_one_trace(tmp_path: Path) -> None:
    spans_file = tmp_path / "spans.jsonl"

    class Echo(context_pb2_grpc.ContextServiceServicer):
        async def GetContext(self, request: Any, context: Any) -> Any:
            return context_pb2.GetContextResponse(version=request.story_id)

    def echo(server: grpc.aio.Server) -> None:
        context_pb2_grpc.add_ContextServiceServicer_to_server(Echo(), server)

    async with traced_call(spans_file, echo) as channel:
        reply = await context_pb2_grpc.ContextServiceStub(channel).GetContext(
            context_pb2.GetContextRequest(story_id="S-9"))
    assert reply.version == "S-9"
    spans = {s["service"] + ":" + s["name"]: s for s in load(spans_file)}
    method = "/fleet.context.v1.ContextService/GetContext"
    job, sent, served = spans["ray-job:deliberation.job"], spans[f"ray-job:{method}"], spans[f"context:{method}"]
    assert sent["parent_id"] == job["span_id"] and served["parent_id"] == sent["span_id"]
    assert len({job["trace_id"], sent["trace_id"], served["trace_id"]}) == 1
