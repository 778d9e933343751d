"""User commands: publish a plan, deliberate with live progress, watch, show, list councils."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import grpc
import typer
import yaml
from rich.console import Console
from rich.table import Table

from services.gen.fleet.orchestrator.v1 import orchestrator_pb2 as pb
from services.gen.fleet.orchestrator.v1 import orchestrator_pb2_grpc as pb_grpc
from services.orchestrator.entrypoints import pictures
from services.shared import event_parsing, events, jetstream
from services.shared.settings import CommonSettings

console = Console()
ORCHESTRATOR = typer.Option("127.0.0.1:50052", envvar="ORCHESTRATOR_ADDR", help="Orchestrator gRPC address")
NATS = typer.Option("nats://127.0.0.1:4222", envvar="NATS_URL", help="NATS URL")


def plan_from(path: Path | None, fields: dict[str, Any]) -> events.PlanApproved:
    """A plan.approved from a YAML/JSON file, overridden by any flags given."""
    data: dict[str, Any] = yaml.safe_load(path.read_text()) if path else {}
    data.update({k: v for k, v in fields.items() if v})
    return events.PlanApproved.model_validate(data)


async def publish_plan(nats_url: str, event: events.PlanApproved) -> bool:
    nc = await jetstream.connect(nats_url, "conclave-cli")
    try:
        js = nc.jetstream()
        # The services' replica count, so that a publish never shrinks a cluster's streams.
        await jetstream.ensure_streams(js, replicas=CommonSettings().nats_replicas)
        return await jetstream.publish(js, event)
    finally:
        await nc.close()


def register(app: typer.Typer) -> None:
    @app.command("publish-plan")
    def publish(
        file: Path = typer.Argument(None, exists=True, help="YAML or JSON with the plan.approved fields"),
        story_id: str = typer.Option("", help="story id"),
        plan_id: str = typer.Option("", help="plan id"),
        approved_by: str = typer.Option("", help="approver"),
        role: list[str] = typer.Option([], help="role to deliberate (repeatable)"),
        plan_version: int = typer.Option(0, help="plan version"),
        title: str = typer.Option("", help="plan title"),
        nats_url: str = NATS,
    ) -> None:
        """Publish planning.plan.approved, as a planning tool would."""
        fields = {"story_id": story_id, "plan_id": plan_id, "approved_by": approved_by,
                  "roles": [r.upper() for r in role], "plan_version": plan_version, "title": title}
        try:
            event = plan_from(file, fields)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
        stored = asyncio.run(publish_plan(nats_url, event))
        note = "published" if stored else "duplicate (dropped by Nats-Msg-Id)"
        console.print(f"{events.PLAN_APPROVED} {event.event_id}: {note}; roles {', '.join(event.roles)}")

    @app.command("deliberate")
    def deliberate(
        task: str = typer.Argument(..., help="what the council should solve"),
        role: str = typer.Option("DEV", help="council role"),
        agents: int = typer.Option(0, help="council size (0: the council's)"),
        rounds: int = typer.Option(0, help="revise rounds (0: default 1)"),
        constraint: list[str] = typer.Option([], help="acceptance criterion (repeatable)"),
        addr: str = ORCHESTRATOR,
    ) -> None:
        """Run a council with live progress (StreamDeliberation)."""
        request = pb.DeliberateRequest(
            task=task, role=role.upper() if role.upper() in pb.Role.keys() else "ROLE_UNSPECIFIED",
            num_agents=agents, rounds=rounds, constraints=pb.TaskConstraints(acceptance_criteria=constraint),
        )
        result = asyncio.run(stream(addr, request))
        if result is None:
            raise typer.Exit(1)
        show_result(result)

    @app.command("show")
    def show(deliberation_id: str, addr: str = ORCHESTRATOR) -> None:
        """One deliberation: state, candidates, reviews, scores, checks, usage."""
        record = asyncio.run(_call(addr, lambda s: s.GetDeliberationResult(
            pb.GetDeliberationResultRequest(deliberation_id=deliberation_id))))
        state = pb.DeliberationState.Name(record.state)
        console.print(f"[bold]{record.deliberation_id}[/] {pb.Role.Name(record.role)} {state} "
                      f"story={record.story_id or '-'} plan={record.plan_id or '-'} v{record.plan_version}")
        if record.reason:
            console.print(f"reason: {record.reason}")
        if record.HasField("result"):
            show_result(record.result)

    @app.command("councils")
    def councils(addr: str = ORCHESTRATOR) -> None:
        """List councils and their agents."""
        reply = asyncio.run(_call(addr, lambda s: s.ListCouncils(pb.ListCouncilsRequest())))
        table = Table("council", "agent", "temperature", "model", "persona", title="Councils")
        for c in reply.councils:
            for a in c.agents:
                model = f"{a.model or 'default'}" + (f" @ {a.endpoint}" if a.endpoint else "")
                table.add_row(c.council_id, a.agent_id, f"{a.temperature:.2f}", model, a.persona)
        console.print(table)

    @app.command("queue")
    def queue(addr: str = ORCHESTRATOR) -> None:
        """Queued and admitted deliberations, with how long each has waited and run."""
        reply = asyncio.run(_call(addr, lambda s: s.GetStatus(pb.GetStatusRequest())))
        table = Table("deliberation", "story", "role", "state", "waited", "running",
                      title=f"admitted {reply.admitted}/{reply.admission_budget}, queued {reply.queued} "
                            f"(oldest {reply.oldest_queued_wait_s:.0f}s); model budget {reply.model_budget}, "
                            f"{reply.per_job_llm_in_flight} per job")
        for d in reply.open:
            table.add_row(d.deliberation_id, d.story_id or "-", d.role, pb.DeliberationState.Name(d.state),
                          f"{d.waited_s:.1f}s", f"{d.running_s:.1f}s" if d.running_s else "-")
        console.print(table)

    @app.command("watch")
    def watch(nats_url: str = NATS, seconds: float = typer.Option(0, help="stop after this long (0: Ctrl-C)")) -> None:
        """Follow deliberations live: stage events and agent responses as they are published."""
        asyncio.run(follow(nats_url, seconds))


async def _call(addr: str, rpc: Any) -> Any:
    async with grpc.aio.insecure_channel(addr) as channel:
        try:
            return await rpc(pb_grpc.OrchestratorServiceStub(channel))
        except grpc.aio.AioRpcError as exc:
            console.print(f"[red]{exc.code().name}[/]: {exc.details()}")
            raise typer.Exit(1) from None


async def stream(addr: str, request: pb.DeliberateRequest) -> pb.DeliberateResponse | None:
    async with grpc.aio.insecure_channel(addr) as channel:
        stub = pb_grpc.OrchestratorServiceStub(channel)
        with console.status("deliberating...") as status:
            async for item in stub.StreamDeliberation(request):
                kind = item.WhichOneof("payload")
                if kind == "progress":
                    p = item.progress
                    line = f"{p.elapsed_ms / 1000:6.1f}s {pb.ProgressEvent.Kind.Name(p.kind):15} {p.stage:9}"
                    console.print(f"{line} {p.agent_id} {p.message}".rstrip())
                    status.update(f"{p.stage} {p.message}".strip())
                elif kind == "result":
                    return item.result
                else:
                    console.print(f"[red]{item.error.code}[/]: {item.error.message}")
    return None


def show_result(result: pb.DeliberateResponse) -> None:
    table = Table("rank", "agent", "score", "rubric", "checks", "reviews", title=f"{pb.Role.Name(result.role)} council")
    for c in result.ranked:
        rubric = " ".join(f"{k}={v:.1f}" for k, v in sorted(c.rubric.items()))
        checks = " ".join(f"{k.name}:{'ok' if k.passed else 'FAIL'}" for k in c.checks)
        table.add_row(str(c.rank), c.agent_id, f"{c.score:.3f}", rubric, checks, str(len(c.reviews)))
    console.print(table)
    if any(c.reviews for c in result.ranked):
        console.print(pictures.score_matrix(result))
    console.print(pictures.stage_timeline(result))
    u = result.usage
    console.print(f"usage: {u.llm_calls} LLM calls, {u.prompt_tokens} prompt + {u.completion_tokens} completion "
                  f"tokens, {result.duration_ms / 1000:.1f}s")
    for note in [*(f"{f.agent_id} failed at {f.stage}: {f.reason}" for f in result.failures), *result.notes]:
        console.print(f"[yellow]note[/]: {note}")
    console.print(verdict_line(result))
    console.rule(f"winner: {result.winner.agent_id}")
    console.print(result.winner.proposal)


def verdict_line(result: pb.DeliberateResponse) -> str:
    if not result.HasField("margin"):
        return "margin: none to report (a single candidate, or the checks decided)"
    lead = f"margin: {result.margin:.2f} ± {result.margin_error:.2f}"
    if result.tied:
        return f"{lead} [bold yellow]TIED[/]: the top two are within one standard error, a coin flip"
    return f"{lead}, a clear win"


async def follow(nats_url: str, seconds: float) -> None:
    nc = await jetstream.connect(nats_url, "conclave-watch")
    done = asyncio.Event()

    async def on_message(msg: Any) -> None:
        try:
            event = event_parsing.parse_event(msg.subject, msg.data)
        except event_parsing.InvalidEvent as exc:
            console.print(f"[red]{msg.subject}[/] unreadable: {exc}")
            return
        payload = event.model_dump(mode="json", exclude={"proposal", "candidates", "winner", "usage"})
        brief = {k: v for k, v in payload.items() if k not in {"event_id", "event_type", "occurred_at"} and v}
        console.print(f"[cyan]{msg.subject}[/] {json.dumps(brief)[:200]}")

    for subject in (events.DELIBERATION_EVENTS, events.AGENT_RESPONSE_COMPLETED, events.AGENT_RESPONSE_FAILED):
        await nc.subscribe(subject, cb=on_message)
    try:
        await asyncio.wait_for(done.wait(), timeout=seconds or None)
    except TimeoutError:
        pass
    finally:
        await nc.close()
