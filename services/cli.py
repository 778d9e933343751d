"""The `conclave` command: one typer app assembled from each house's entrypoints."""

from __future__ import annotations

import asyncio

import typer

from services.context.entrypoints.graph_cli import register as register_graph
from services.demo.run import register as register_demo
from services.orchestrator.entrypoints.cli import register as register_user_commands
from services.shared import tracing
from services.simulator.cli import app as sim_app
from services.stack.cli import app as stack_app

app = typer.Typer(help="Conclave: self-hosted LLM agent councils.", no_args_is_help=True)
context_app = typer.Typer(help="The Context service.", no_args_is_help=True)
orchestrator_app = typer.Typer(help="The Orchestrator service.", no_args_is_help=True)
streams_app = typer.Typer(help="NATS JetStream streams.", no_args_is_help=True)

app.add_typer(stack_app, name="stack")
app.add_typer(sim_app, name="sim")
app.add_typer(context_app, name="context")
app.add_typer(orchestrator_app, name="orchestrator")
app.add_typer(streams_app, name="streams")
register_user_commands(app)
register_demo(app)
register_graph(app)


@context_app.command("serve")
def context_serve() -> None:
    """Run the Context service (gRPC + NATS consumers) until SIGTERM."""
    from services.context.bootstrap import serve
    from services.context.settings import ContextSettings
    from services.shared.logs import configure

    settings = ContextSettings()
    configure("context", settings.log_level)
    tracing.configure("context")
    asyncio.run(serve(settings))


@orchestrator_app.command("serve")
def orchestrator_serve() -> None:
    """Run the Orchestrator service (gRPC + NATS consumers) until SIGTERM."""
    from services.orchestrator.entrypoints.service import serve
    from services.orchestrator.settings import OrchestratorSettings
    from services.shared.logs import configure

    settings = OrchestratorSettings()
    configure("orchestrator", settings.log_level)
    tracing.configure("orchestrator")
    asyncio.run(serve(settings))


@app.command("trace")
def trace(
    key: str = typer.Argument(..., help="a story id, deliberation id or trace id"),
    file: str = typer.Option(None, envvar="CONCLAVE_TRACE_FILE", help="the spans file (the local stack's by default)"),
) -> None:
    """Draw the trace of a plan or deliberation as a nested timeline, one bar per span."""
    from pathlib import Path

    from rich.console import Console

    from services.shared.trace_view import draw, load, traces_of
    from services.stack.config import StackConfig

    path = Path(file) if file else StackConfig().path("traces", "spans.jsonl")
    found = traces_of(load(path), key)
    if not found:
        typer.echo(f"no trace mentions {key!r} in {path}", err=True)
        raise typer.Exit(1)
    console = Console()
    for trace_id, spans in found.items():
        draw(trace_id, spans, console)


@streams_app.command("ensure")
def streams_ensure(
    nats_url: str = typer.Option(None, envvar="NATS_URL"),
    replicas: int = typer.Option(1, envvar="NATS_REPLICAS", min=1, max=5, help="copies of each stream"),
) -> None:
    """Create or update every stream of the contract (idempotent; replicas are changed in place)."""
    from services.shared.jetstream import connect, ensure_streams

    async def main() -> None:
        nc = await connect(nats_url or "nats://127.0.0.1:4222", "conclave-streams")
        try:
            await ensure_streams(nc.jetstream(), replicas=replicas)
        finally:
            await nc.close()

    asyncio.run(main())
    typer.echo("streams ensured")
