"""`conclave demo`: the whole loop on a sample story, against the running stack.

Publishes an approved plan, follows the per-role deliberations live as the Ray jobs
report over NATS, then prints each role's winner and what the graph now holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections import Counter
from importlib import resources
from typing import Any

import grpc
import typer
import yaml
from rich.console import Console
from rich.table import Table

from services.gen.fleet.context.v1 import context_pb2 as cpb
from services.gen.fleet.context.v1 import context_pb2_grpc as cpb_grpc
from services.gen.fleet.orchestrator.v1 import orchestrator_pb2 as opb
from services.gen.fleet.orchestrator.v1 import orchestrator_pb2_grpc as opb_grpc
from services.orchestrator.entrypoints.cli import show_result
from services.orchestrator.settings import OrchestratorSettings
from services.shared import event_parsing, events, jetstream, tracing
from services.stack.api import StackConfig, stack_env

console = Console()
TERMINAL = (events.DELIBERATION_COMPLETED, events.DELIBERATION_FAILED, events.DELIBERATION_CANCELLED)


def sample_plan(story_suffix: str) -> events.PlanApproved:
    data: dict[str, Any] = yaml.safe_load(resources.files("services.demo").joinpath("sample_plan.yaml").read_text())
    story = f"{data['story_id']}-{story_suffix}"
    data["story_id"] = story
    data["plan_id"] = f"{story}-plan"
    for task in data["tasks"]:
        task["task_id"] = task["task_id"].replace("SHOP-142", story)
        task["depends_on"] = [d.replace("SHOP-142", story) for d in task.get("depends_on", [])]
    return events.PlanApproved.model_validate(data)


async def model_banner(stub: opb_grpc.OrchestratorServiceStub) -> None:
    model = (await stub.GetStatus(opb.GetStatusRequest(), timeout=15)).model_server
    if model.simulator:
        console.print(f"[bold yellow]MODEL SIMULATOR[/]: answers come from `conclave sim serve` at {model.url}, "
                      "not a real LLM. `make demo MODEL=smollm2` runs a real one.")
        return
    console.print(f"[bold green]REAL MODEL[/]: {model.url} serving {', '.join(model.models) or 'nothing yet'}")
    if any("smollm2" in name.lower() for name in model.models):
        console.print("[bold]SmolLM2-135M is a tiny model running on the CPU: its answers are not meant to be good. "
                      "This run proves every step (drafts, structured peer review, revision, ranking, Ray jobs, "
                      "the graph) on a real inference server; quality needs a real-size model (vLLM, or "
                      "`conclave stack up --model-file PATH.gguf`).[/]")


async def seat_councils(stub: opb_grpc.OrchestratorServiceStub, roles: list[events.Role], agents: int) -> None:
    """Re-seat each role's council with `agents` members, so a small CPU model finishes in minutes."""
    for role in roles:
        with contextlib.suppress(grpc.aio.AioRpcError):  # no council yet: nothing to delete
            await stub.DeleteCouncil(opb.DeleteCouncilRequest(council_id=role.value), timeout=15)
        await stub.CreateCouncil(opb.CreateCouncilRequest(role=role.value, num_agents=agents), timeout=15)
    console.print(f"councils re-seated with {agents} agents each for {', '.join(roles)}")


async def follow(nc: Any, plan: events.PlanApproved, timeout_s: float) -> dict[str, str]:
    """Print agent and deliberation events for this story until every role is done."""
    finished: dict[str, str] = {}
    ids: set[str] = set()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    subs = [await nc.subscribe(s, cb=queue.put) for s in (
        events.DELIBERATION_EVENTS, events.AGENT_RESPONSE_COMPLETED, events.AGENT_RESPONSE_FAILED)]
    deadline = time.monotonic() + timeout_s
    try:
        while len(finished) < len(plan.roles) and time.monotonic() < deadline:
            try:
                msg = await asyncio.wait_for(queue.get(), timeout=max(0.1, deadline - time.monotonic()))
            except TimeoutError:
                break
            event = event_parsing.parse_event(msg.subject, msg.data)
            if isinstance(event, events.DeliberationEvent):
                if event.story_id != plan.story_id:
                    continue
                ids.add(event.deliberation_id)
                reason = getattr(event, "reason", "")
                console.print(f"[cyan]{event.role.value:9}[/] {msg.subject.rsplit('.', 1)[-1]}"
                              + (f": {reason}" if reason else ""))
                if msg.subject in TERMINAL:
                    finished[event.role.value] = event.deliberation_id
            elif isinstance(event, events.AgentResponse) and event.deliberation_id in ids:
                status = "ok" if not event.error else f"FAILED {event.error[:60]}"
                console.print(f"  {event.role.value:9} {event.agent_id:12} {event.stage:9} "
                              f"{event.duration_ms / 1000:5.1f}s {event.usage.completion_tokens:4} tok {status}")
    finally:
        for sub in subs:
            await sub.unsubscribe()
    return finished


async def graph_summary(context_addr: str, story_id: str, decisions_expected: int) -> None:
    """The graph around the story once the Context service has recorded a Decision per winner
    (it consumes the completed events in batches, a moment after the demo saw them), or after 20 s."""
    async with grpc.aio.insecure_channel(context_addr) as channel:
        stub = cpb_grpc.ContextServiceStub(channel)
        deadline = time.monotonic() + 20
        while True:
            reply = await stub.GetGraphRelationships(
                cpb.GetGraphRelationshipsRequest(node_id=story_id, node_label="Story", depth=2), timeout=15)
            counts = Counter(label for node in reply.nodes for label in node.labels)
            if counts["Decision"] >= decisions_expected or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.25)
        table = Table("label", "nodes", title=f"Neo4j records around story {story_id} (depth 2)")
        for label, n in sorted(counts.items()):
            table.add_row(label, str(n))
        console.print(table)
        qa = await stub.GetContext(cpb.GetContextRequest(story_id=story_id, role="QA", phase="DESIGN"), timeout=15)
        decisions = next((b.content for b in qa.blocks if "Decision" in b.content), "")
        console.print(f"QA's context now ({qa.token_count} tokens, version {qa.version[:12]}):")
        console.print(decisions[:1200] or "(no decisions yet)")


async def demo(timeout_s: float, agents: int = 0) -> int:
    # The local stack's addresses (CONCLAVE_STACK_*_PORT) unless the environment names others.
    for name, value in stack_env(StackConfig()).items():
        os.environ.setdefault(name, value)
    settings = OrchestratorSettings()
    # The demo plays the planning tool: its publish span is the root of the plan's trace.
    os.environ.setdefault(tracing.TRACE_FILE_ENV, str(StackConfig().path("traces", "spans.jsonl")))
    tracing.configure("planning-tool")
    plan = sample_plan(time.strftime("%H%M%S"))
    nc = await jetstream.connect(settings.nats_url, "conclave-demo")
    js = nc.jetstream()
    try:
        async with grpc.aio.insecure_channel(settings.orchestrator_addr) as channel:
            stub = opb_grpc.OrchestratorServiceStub(channel)
            await model_banner(stub)
            if agents:
                await seat_councils(stub, list(plan.roles), agents)
            console.print(f"publishing {events.PLAN_APPROVED} for story {plan.story_id}: {plan.title!r}, "
                          f"roles {', '.join(plan.roles)}")
            following = asyncio.create_task(follow(nc, plan, timeout_s))
            await asyncio.sleep(0.2)
            began = time.monotonic()
            with tracing.tracer.start_as_current_span("publish plan.approved", attributes={"story_id": plan.story_id}):
                await jetstream.publish(js, plan)
            finished = await following
            wall = time.monotonic() - began
            calls = tokens = repaired = excluded = won = 0
            for role in plan.roles:
                did = finished.get(role.value)
                if did is None:
                    console.print(f"[red]{role.value}: no result within {timeout_s:.0f}s[/]")
                    continue
                record = await stub.GetDeliberationResult(opb.GetDeliberationResultRequest(deliberation_id=did))
                if record.HasField("result"):
                    show_result(record.result)
                    won += 1
                    usage = record.result.usage
                    calls += usage.llm_calls
                    tokens += usage.completion_tokens
                    repaired += usage.repaired_answers
                    excluded += usage.excluded_answers
                else:
                    console.print(f"[red]{role.value}: {opb.DeliberationState.Name(record.state)}: {record.reason}")
            console.print(f"[bold]{won}/{len(plan.roles)} roles with a winner in {wall:.0f}s wall: {calls} LLM calls, "
                          f"{tokens} completion tokens ({tokens / max(wall, 1e-9):.1f} tokens/s across the councils), "
                          f"{repaired} reviews repaired, {excluded} excluded[/]")
        await graph_summary(settings.context_addr, plan.story_id, decisions_expected=won)
    finally:
        await nc.close()
        tracing.shutdown()
    console.print(f"\nThe whole trace, from this publish to each Decision: `conclave trace {plan.story_id}`.")
    console.print("The stack is still running: `make down` (or `conclave stack down`) stops it.")
    return 0 if won == len(plan.roles) else 1


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def run_demo(
        timeout: float = typer.Option(600, help="seconds to wait for every role"),
        agents: int = typer.Option(0, help="re-seat every role's council with this many agents first (0: keep)"),
    ) -> None:
        """Publish a sample approved plan and follow it through councils, Ray jobs and the graph."""
        raise typer.Exit(asyncio.run(demo(timeout, agents)))
