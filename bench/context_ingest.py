"""Context ingest and read benchmark on the real stack.

1. Batched: 20,000 `planning.plan.approved` events are published, then the
   service's own batch path (shared process_batch + the context batch handler:
   one UNWIND transaction per fetched batch, ack after commit) ingests them;
   events/s is measured from the first fetch until every event is committed.
2. Baseline, the reference project's way, in the same run: fetch one message,
   write it in its own transaction, ack, repeat (fewer events; reported per second).
3. GetContext over gRPC on 1,000 of those stories: uncached (first read) and
   cached (second read), p50/p99.
4. The ceiling: the same Cypher batches (same rows, same statements, same batch size and
   two concurrent writers) sent by the neo4j driver alone, with no NATS and no service.
   `share_of_ceiling` is the batched ingest rate over it.
5. The batched ingest again under each JetStream `sync_interval` in --sync-intervals (a NATS
   of its own per choice): "always" fsyncs before every ack, a duration flushes that often.
6. Tracing's cost: the batched ingest of --tracing-events with the service's spans off and on
   (to a JSON-lines file, as the stack's CONCLAVE_TRACE_FILE does), in the order off, on, on, off,
   so that a steady drift (the JVM still warming, a neighbour's load) favours neither.
7. The batched ingest on one server and on a three-node JetStream cluster (three copies of
   every stream, the default sync_interval), in alternating rounds: `replication_ratio` is the
   cluster's median rate over the single server's.

Both ingest paths run after a warm-up of 3,000 events through the batched path, so neither
pays for the fresh JVM compiling the write path.

Usage: python bench/context_ingest.py [--events 20000] [--baseline-events 1000] [--stories 1000]
       [--warmup-events 3000] [--sync-intervals always,1s,2m] [--tracing-events 5000]
       [--replication-rounds 2]
The bench floods `planning.plan.approved`, which any Orchestrator on that stack would
later dispatch, so it runs NATS, ValKey and Neo4j of its own on free ports in a
throwaway folder, and stops them at the end.
The last line of output is a JSON object with the headline figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
from common import stack
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from rich.console import Console
from rich.table import Table

from services.context.adapters import cypher_events as ce
from services.context.adapters import cypher_params
from services.context.adapters.neo4j_graph import _revisions
from services.context.bootstrap import ContextApp, bootstrap
from services.context.entrypoints.grpc_servicer import ContextServicer
from services.context.entrypoints.nats_consumers import batch_handler
from services.context.ingest import record_plan_approved_batch
from services.context.settings import ContextSettings
from services.gen.fleet.context.v1 import context_pb2 as pb
from services.gen.fleet.context.v1 import context_pb2_grpc
from services.shared import tracing
from services.shared.deadletter import DeadLetters
from services.shared.event_parsing import parse_event
from services.shared.events import PLAN_APPROVED, Event, PlanApproved, PlanTask
from services.shared.jetstream import DEFAULT_MAX_INLINE_BYTES, ConsumerSpec, process_batch
from services.stack.api import StackConfig

BATCH = 500


def make_events(run: str, n: int, offset: int = 0) -> list[PlanApproved]:
    return [
        PlanApproved(
            story_id=f"{run}-s{i}",
            plan_id=f"{run}-p{i}",
            approved_by=f"{run}-approver",
            roles=["DEV", "QA"],
            title=f"Story {i}: checkout flow",
            description="Let users pay by card and see a receipt.",
            acceptance_criteria=["pays by card", "receipt emailed"],
            tasks=[
                PlanTask(task_id=f"{run}-s{i}-dev", role="DEV", title="API endpoint", description="POST /pay"),
                PlanTask(task_id=f"{run}-s{i}-qa", role="QA", title="E2E test", depends_on=[f"{run}-s{i}-dev"]),
            ],
        )
        for i in range(offset, offset + n)
    ]


async def publish_all(js: Any, events: list[Event]) -> tuple[int, float]:
    """Pipelined publish; returns (first stream sequence, seconds)."""
    started = time.perf_counter()
    first = 0
    for start in range(0, len(events), 1000):
        chunk = events[start : start + 1000]
        acks = await asyncio.gather(
            *(js.publish(e.subject, e.to_bytes(), headers={"Nats-Msg-Id": e.event_id}) for e in chunk)
        )
        first = first or min(a.seq for a in acks)
    return first, time.perf_counter() - started


async def consumer(js: Any, durable: str, start_seq: int) -> Any:
    config = ConsumerConfig(
        durable_name=durable,
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
        opt_start_seq=start_seq,
        filter_subject=PLAN_APPROVED,
        max_deliver=5,
        ack_wait=60,
        max_ack_pending=BATCH * 4,
    )
    return await js.pull_subscribe(PLAN_APPROVED, durable=durable, stream="PLANNING_EVENTS", config=config)


async def committed(app: ContextApp, run: str) -> int:
    records, _, _ = await app.graph.driver.execute_query(
        "MATCH (a:PlanApproval) WHERE a.story_id STARTS WITH $p RETURN count(a) AS n", p=f"{run}-"
    )
    return int(records[0]["n"])


async def batched_ingest(app: ContextApp, run: str, n: int) -> dict[str, float]:
    js = app.nats.jetstream()
    first_seq, publish_s = await publish_all(js, list(make_events(run, n)))
    durable = f"bench-batched-{run}"
    sub = await consumer(js, durable, first_seq)
    spec = ConsumerSpec(durable=durable, subject=PLAN_APPROVED, stream="PLANNING_EVENTS", batch_size=BATCH)
    handler = batch_handler(app.deps)
    letters = DeadLetters(js, DEFAULT_MAX_INLINE_BYTES)
    second = await consumer(js, durable, first_seq)
    done = 0

    async def loop(pull: Any) -> None:
        # Two loops on one durable, as the service runs plan-approved (plan_workers=2).
        nonlocal done
        while done < n:
            try:
                msgs = await pull.fetch(BATCH, timeout=1)
            except TimeoutError:
                continue
            await process_batch(letters, spec, msgs, handler)
            done += len(msgs)

    started = time.perf_counter()
    await asyncio.gather(loop(sub), loop(second))
    await second.unsubscribe()
    elapsed = time.perf_counter() - started
    stored = await committed(app, run)
    await sub.unsubscribe()
    await js.delete_consumer("PLANNING_EVENTS", durable)
    assert stored == n, f"only {stored} of {n} approvals committed"
    return {"events": n, "seconds": elapsed, "events_per_s": n / elapsed, "publish_per_s": n / publish_s}


async def ceiling_ingest(app: ContextApp, run: str, n: int) -> dict[str, float]:
    """The batched path's Cypher alone: rows built beforehand, two writers, no NATS, no service."""
    events = make_events(run, n)
    batches = [cypher_params.plan_rows(events[i : i + BATCH]) for i in range(0, n, BATCH)]
    queue: asyncio.Queue[list[dict[str, Any]]] = asyncio.Queue()
    for batch in batches:
        queue.put_nowait(batch)

    async def work(tx: Any, plans: list[dict[str, Any]]) -> None:
        await (await tx.run(ce.PLAN_APPROVED, rows=plans, marker=uuid.uuid4().hex)).consume()
        await _revisions(tx, {p["story_id"] for p in plans})

    async def writer() -> None:
        while not queue.empty():
            plans = queue.get_nowait()
            async with app.graph.driver.session(database=app.graph.database) as session:
                await session.execute_write(work, plans)

    started = time.perf_counter()
    await asyncio.gather(writer(), writer())
    elapsed = time.perf_counter() - started
    stored = await committed(app, run)
    assert stored == n, f"only {stored} of {n} approvals committed"
    return {"events": n, "seconds": elapsed, "events_per_s": n / elapsed}


async def baseline_ingest(app: ContextApp, run: str, n: int) -> dict[str, float]:
    """One fetch, one transaction, one ack per event: how the reference project consumed."""
    js = app.nats.jetstream()
    first_seq, _ = await publish_all(js, list(make_events(run, n)))
    durable = f"bench-baseline-{run}"
    sub = await consumer(js, durable, first_seq)
    started = time.perf_counter()
    done = 0
    while done < n:
        try:
            msgs = await sub.fetch(1, timeout=2)
        except TimeoutError:
            continue
        for msg in msgs:
            event = parse_event(msg.subject, msg.data)
            assert isinstance(event, PlanApproved)
            await record_plan_approved_batch(app.deps, [event])
            await msg.ack()
            done += 1
    elapsed = time.perf_counter() - started
    stored = await committed(app, run)
    await sub.unsubscribe()
    await js.delete_consumer("PLANNING_EVENTS", durable)
    assert stored == n, f"only {stored} of {n} approvals committed"
    return {"events": n, "seconds": elapsed, "events_per_s": n / elapsed}


async def timed(call: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    started = time.perf_counter()
    reply = await call()
    return (time.perf_counter() - started) * 1000, reply


def percentiles(samples: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {"p50": statistics.median(samples), "p99": cuts[98], "max": max(samples)}


async def get_context_latency(app: ContextApp, run: str, stories: int) -> dict[str, dict[str, float]]:
    server = grpc.aio.server()
    context_pb2_grpc.add_ContextServiceServicer_to_server(ContextServicer(app.deps), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = context_pb2_grpc.ContextServiceStub(channel)

            def req(i: int) -> pb.GetContextRequest:
                return pb.GetContextRequest(story_id=f"{run}-s{i}", role=pb.DEV, phase=pb.BUILD, token_budget=2000)

            for i in range(stories, stories + 50):  # warm connections and code paths
                await stub.GetContext(req(i))
                await stub.GetContext(req(i))
            uncached, cached = [], []
            for i in range(stories):
                ms, reply = await timed(lambda i=i: stub.GetContext(req(i)))
                assert not reply.from_cache
                uncached.append(ms)
            for i in range(stories):
                ms, reply = await timed(lambda i=i: stub.GetContext(req(i)))
                assert reply.from_cache
                cached.append(ms)
    finally:
        await server.stop(0)
    return {"uncached": percentiles(uncached), "cached": percentiles(cached)}


class TracingSwitch(Sampler):
    """Records every span while on; while off drops them at the sampler, which costs about what the
    no-op tracer of an untraced service does (a little more, so the overhead reads slightly low)."""

    on = False

    def should_sample(self, parent_context: Any, trace_id: int, name: str, kind: Any = None,
                      attributes: Any = None, links: Any = None, trace_state: Any = None) -> SamplingResult:
        return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes) if self.on else SamplingResult(Decision.DROP)

    def get_description(self) -> str:
        return "TracingSwitch"


async def tracing_overhead(app: ContextApp, run: str, n: int, rounds: int = 2) -> dict[str, Any]:
    """The batched ingest with spans off and on, ordered off, on, on, off (per two rounds) so a steady
    drift favours neither; on, the spans go through the BatchSpanProcessor to a JSON-lines file, as
    tracing.configure sets it up."""
    switch = TracingSwitch()
    with tempfile.TemporaryDirectory(prefix="conclave-bench-spans-") as folder:
        spans = Path(folder) / "spans.jsonl"
        provider = TracerProvider(resource=Resource.create({"service.name": "context"}), sampler=switch)
        provider.add_span_processor(BatchSpanProcessor(tracing.JsonLinesExporter(spans), schedule_delay_millis=500))
        trace.set_tracer_provider(provider)
        rates: dict[str, list[float]] = {"off": [], "on": []}
        for i in range(rounds):
            for mode in ("off", "on") if i % 2 == 0 else ("on", "off"):
                switch.on = mode == "on"
                rates[mode].append((await batched_ingest(app, f"{run}t{i}{mode}", n))["events_per_s"])
        switch.on = False
        provider.force_flush()
        written = spans.read_text().count("\n") if spans.exists() else 0
    assert written > 0, "tracing on wrote no spans"
    off, on = statistics.median(rates["off"]), statistics.median(rates["on"])
    return {"events": n, "rounds": rounds, "off_events_per_s": off, "on_events_per_s": on,
            "spans_written": written, "ratio": off / on}


async def main(args: argparse.Namespace) -> dict[str, Any]:
    intervals = [i.strip() for i in args.sync_intervals.split(",") if i.strip()]
    default = StackConfig.model_fields["nats_sync_interval"].default
    with tempfile.TemporaryDirectory(prefix="conclave-bench-") as state:
        cfg = StackConfig.private(Path(state) / "graph", services=False)
        async with stack(cfg, ["valkey", "neo4j"]) as graph:
            result: dict[str, Any] = {"by_sync_interval": {}, "default_sync_interval": default}
            # The configured default first: the warm-up, the baseline, the reads and the ceiling run with it.
            for i, interval in enumerate(sorted(intervals, key=lambda x: x != default)):
                nats_cfg = StackConfig.private(Path(state) / f"nats-{i}", services=False, nats_sync_interval=interval)
                async with stack(nats_cfg, ["nats"]) as nats:
                    env = graph.env() | {"NATS_URL": nats.env()["NATS_URL"]}
                    measured = await measure(env, args, full=i == 0)
                result["by_sync_interval"][interval] = measured["batched"]
                if i == 0:
                    result |= measured
            if args.replication_rounds:
                result["replication"] = await replication(graph.env(), Path(state), args)
            return result


async def replication(graph: dict[str, str], state: Path, args: argparse.Namespace) -> dict[str, list[float]]:
    """The batched ingest on one server and on a three-node cluster (three copies of every stream),
    in alternating rounds so that both see the same machine load and a graph of the same size."""
    rates: dict[str, list[float]] = {"1": [], "3": []}
    single_cfg = StackConfig.private(state / "nats-single", services=False)
    cluster_cfg = StackConfig.private(state / "nats-cluster", services=False, nats_nodes=3)
    async with stack(single_cfg, ["nats"]) as single, stack(cluster_cfg, ["nats"]) as cluster:
        for _ in range(args.replication_rounds):
            for nodes, nats in (("1", single), ("3", cluster)):
                env = graph | {"NATS_URL": nats.env()["NATS_URL"], "NATS_REPLICAS": nodes}
                rates[nodes].append((await measure(env, args, full=False))["batched"]["events_per_s"])
    return rates


async def measure(env: dict[str, str], args: argparse.Namespace, full: bool = True) -> dict[str, Any]:
    settings = ContextSettings(
        nats_url=env["NATS_URL"],
        neo4j_uri=env["NEO4J_URI"],
        neo4j_user=env["NEO4J_USER"],
        neo4j_password=env["NEO4J_PASSWORD"],
        valkey_url=env["VALKEY_URL"],
        nats_replicas=int(env.get("NATS_REPLICAS", "1")),
    )  # type: ignore[arg-type]
    app = await bootstrap(settings, consumers=False)
    run = f"bench-{uuid.uuid4().hex[:8]}"
    out: dict[str, Any] = {"run": run, "warmup": args.warmup_events if full else 0}
    try:
        if full and args.warmup_events:
            # The JVM of a fresh private stack compiles the write path during its first batches;
            # a running service has long since done so, and the baseline below runs warm too.
            await batched_ingest(app, f"{run}w", args.warmup_events)
        out["batched"] = await batched_ingest(app, run, args.events)
        if full:
            out["ceiling"] = await ceiling_ingest(app, f"{run}c", args.events)
            out["baseline"] = await baseline_ingest(app, f"{run}b", args.baseline_events)
            out["reads"] = await get_context_latency(app, run, min(args.stories, args.events - 50))
            if args.tracing_events:
                out["tracing"] = await tracing_overhead(app, f"{run}t", args.tracing_events)
    finally:
        await app.close()
    return out


def report(result: dict[str, Any]) -> dict[str, float]:
    b, base, reads, ceiling = result["batched"], result["baseline"], result["reads"], result["ceiling"]
    table = Table(title=f"Context ingest and GetContext ({result['run']})")
    for col in ("measure", "value"):
        table.add_column(col)
    table.add_row("warm-up through the batched path (not measured)", f"{result['warmup']:,} events")
    table.add_row(f"batched ingest ({b['events']:,} events, batch {BATCH})", f"{b['events_per_s']:,.0f} events/s")
    table.add_row("  publish rate (pipelined, not part of ingest)", f"{b['publish_per_s']:,.0f} events/s")
    table.add_row(
        f"baseline ingest ({base['events']:,} events, 1 fetch + 1 tx each)",
        f"{base['events_per_s']:,.0f} events/s",
    )
    table.add_row("speedup", f"{b['events_per_s'] / base['events_per_s']:.1f}x")
    table.add_row(f"ceiling: same Cypher batches, driver alone ({ceiling['events']:,} events)",
                  f"{ceiling['events_per_s']:,.0f} events/s")
    table.add_row("share of ceiling", f"{b['events_per_s'] / ceiling['events_per_s']:.0%}")
    for interval, run in result["by_sync_interval"].items():
        mark = " (default)" if interval == result["default_sync_interval"] else ""
        table.add_row(f"batched ingest, sync_interval {interval}{mark}",
                      f"{run['events_per_s']:,.0f} events/s ({run['events_per_s'] / ceiling['events_per_s']:.0%})")
    rates = result.get("replication") or {"1": [], "3": []}
    one_node = statistics.median(rates["1"]) if rates["1"] else None
    cluster = statistics.median(rates["3"]) if rates["3"] else None
    if one_node and cluster:
        table.add_row(f"batched ingest, one server ({len(rates['1'])} rounds, median)", f"{one_node:,.0f} events/s")
        table.add_row("batched ingest, three-node cluster, 3 replicas (alternating rounds, median)",
                      f"{cluster:,.0f} events/s ({cluster / one_node:.2f} of one server)")
    for kind in ("uncached", "cached"):
        r = reads[kind]
        table.add_row(f"GetContext {kind} p50 / p99 / max", f"{r['p50']:.2f} / {r['p99']:.2f} / {r['max']:.2f} ms")
    tracing_figures = {}
    if t := result.get("tracing"):
        table.add_row(f"batched ingest, tracing off / on ({t['events']:,} events, median of {t['rounds']})",
                      f"{t['off_events_per_s']:,.0f} / {t['on_events_per_s']:,.0f} events/s "
                      f"({t['spans_written']:,} spans written)")
        table.add_row("tracing overhead (time with spans / time without)", f"{t['ratio']:.2f}x")
        tracing_figures = {"tracing_overhead_ratio": round(t["ratio"], 3),
                           "tracing_off_events_per_s": round(t["off_events_per_s"], 1),
                           "tracing_on_events_per_s": round(t["on_events_per_s"], 1)}
    Console().print(table)
    return tracing_figures | {
        "events_per_s": round(b["events_per_s"], 1),
        "baseline_events_per_s": round(base["events_per_s"], 1),
        "speedup": round(b["events_per_s"] / base["events_per_s"], 2),
        "ceiling_events_per_s": round(ceiling["events_per_s"], 1),
        "share_of_ceiling": round(b["events_per_s"] / ceiling["events_per_s"], 3),
        "sync_interval": result["default_sync_interval"],
        "events_per_s_by_sync_interval": {
            k: round(v["events_per_s"], 1) for k, v in result["by_sync_interval"].items()
        },
        "events_per_s_1_node": round(one_node, 1) if one_node else None,
        "events_per_s_3_nodes": round(cluster, 1) if cluster else None,
        "replication_ratio": round(cluster / one_node, 3) if one_node and cluster else None,
        "replication_rounds_events_per_s": {k: [round(r, 1) for r in v] for k, v in rates.items()},
        "get_context_cached_p99_ms": round(reads["cached"]["p99"], 3),
        "get_context_uncached_p99_ms": round(reads["uncached"]["p99"], 3),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--baseline-events", type=int, default=1_000)
    parser.add_argument("--warmup-events", type=int, default=3_000, help="ingested first, not measured")
    parser.add_argument("--stories", type=int, default=1_000)
    parser.add_argument("--sync-intervals", default="always,1s,2m",
                        help="JetStream sync_interval choices to ingest under (2m is the server's default)")
    parser.add_argument("--tracing-events", type=int, default=5_000,
                        help="events per run of the tracing off/on comparison (0: skip it)")
    parser.add_argument("--replication-rounds", type=int, default=2,
                        help="rounds of batched ingest on one server then on a three-node cluster (0: none)")
    logging.basicConfig(level=logging.WARNING)
    outcome = asyncio.run(main(parser.parse_args()))
    print(json.dumps(report(outcome)))
