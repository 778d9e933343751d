"""Trace context across process hops, the JSON-lines exporter and the `conclave trace` drawing."""

from __future__ import annotations

from pathlib import Path

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from rich.console import Console

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
