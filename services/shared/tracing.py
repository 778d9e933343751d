"""One trace per plan: W3C trace context carried through NATS headers, gRPC metadata and the
deliberation's record into its Ray job, with a span for every hop and every LLM call.

Where spans go: OTLP when the standard OTEL_EXPORTER_OTLP_ENDPOINT (or ..._TRACES_ENDPOINT) is
set, with the other OTEL_* variables as the SDK reads them; otherwise one JSON object per span
appended to CONCLAVE_TRACE_FILE (the local stack sets it under its dir), which `conclave trace`
draws; with neither, the API's no-op tracer costs next to nothing.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import grpc
from opentelemetry import context, propagate, trace
from opentelemetry.instrumentation.grpc import aio_client_interceptors, aio_server_interceptor, filters
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

TRACE_FILE_ENV = "CONCLAVE_TRACE_FILE"
_configured = False

tracer = trace.get_tracer("conclave")


def configure(service: str) -> None:
    """Install the process's tracer provider once; a no-op when nowhere to send spans."""
    global _configured
    if _configured:
        return
    exporter: SpanExporter | None = None
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    elif path := os.environ.get(TRACE_FILE_ENV):
        exporter = JsonLinesExporter(Path(path))
    if exporter is None:
        return
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=500))
    trace.set_tracer_provider(provider)
    _configured = True


def shutdown() -> None:
    """Flush what is buffered; a short-lived process (a Ray job) must call it before it exits."""
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.shutdown()


def inject(carrier: dict[str, str] | None = None) -> dict[str, str]:
    """The current trace context as W3C headers (traceparent, tracestate) added to `carrier`."""
    carrier = {} if carrier is None else carrier
    propagate.inject(carrier)
    return carrier


def extract(carrier: Mapping[str, str] | None) -> context.Context:
    return propagate.extract(dict(carrier or {}))


# Probes and reflection would bury the calls that carry work under spans nobody follows.
_WORK_CALLS = filters.negate(filters.any_of(
    filters.service_prefix("grpc.health."), filters.service_prefix("grpc.reflection.")
))


def server_interceptors(provider: trace.TracerProvider | None = None) -> list[grpc.aio.ServerInterceptor]:
    """A server span per RPC, continuing the caller's trace from its gRPC metadata."""
    return [aio_server_interceptor(tracer_provider=provider, filter_=_WORK_CALLS)]


def client_interceptors(provider: trace.TracerProvider | None = None) -> list[grpc.aio.ClientInterceptor]:
    """A client span per RPC, its context sent in the call's metadata."""
    return list(aio_client_interceptors(tracer_provider=provider, filter_=_WORK_CALLS))


def link_to(carriers: Sequence[Mapping[str, str] | None]) -> list[trace.Link]:
    """Links to the spans that sent a batch's messages: one batch span, many parents."""
    links = []
    for carrier in carriers:
        span_context = trace.get_current_span(extract(carrier)).get_span_context()
        if span_context.is_valid:
            links.append(trace.Link(span_context))
    return links


class JsonLinesExporter(SpanExporter):
    """Appends finished spans to a file, one JSON object a line; several processes may share it."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = "".join(json.dumps(span_record(s)) + "\n" for s in spans)
        with self._lock, open(self.path, "a", encoding="utf-8") as out:
            out.write(lines)  # one write per batch: lines of concurrent writers do not interleave
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None


def span_record(span: ReadableSpan) -> dict[str, Any]:
    ctx = span.get_span_context()
    assert ctx is not None
    return {
        "trace_id": f"{ctx.trace_id:032x}",
        "span_id": f"{ctx.span_id:016x}",
        "parent_id": f"{span.parent.span_id:016x}" if span.parent else "",
        "name": span.name,
        "service": str(span.resource.attributes.get("service.name", "")),
        "start_ns": span.start_time,
        "end_ns": span.end_time,
        "status": span.status.status_code.name,
        "attributes": {k: v if isinstance(v, str | int | float | bool) else str(v)
                       for k, v in (span.attributes or {}).items()},
        "links": [f"{link.context.trace_id:032x}:{link.context.span_id:016x}" for link in span.links],
    }
