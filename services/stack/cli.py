"""`conclave stack up | down | status`: the local stack of real servers."""

import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from services.stack import api
from services.stack.config import StackConfig
from services.stack.servers.nats import Placement, placements

app = typer.Typer(help="Local stack of real servers: NATS, ValKey, Neo4j, Ray, simulator, services.")
# A piped or logged table keeps its columns instead of wrapping at 80.
console = Console(width=None if sys.stdout.isatty() else 160)

NoServices = Annotated[bool, typer.Option("--no-services", help="leave out the context and orchestrator services")]
Model = Annotated[
    str | None,
    typer.Option("--model", help="simulator (default) or a real model shipped in a wheel: smollm2"),
]
ModelFile = Annotated[
    Path | None, typer.Option("--model-file", help="serve this GGUF file with llama.cpp (a real model)")
]
NatsNodes = Annotated[
    int | None,
    typer.Option("--nats-nodes", help="1, or 3: a JetStream cluster, three copies of every stream (NATS_REPLICAS=3)"),
]
Only = Annotated[list[str] | None, typer.Option("--only", help=f"just these servers: {', '.join(api.NAMES)}")]


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}s"


def _table(info: api.StackInfo, title: str) -> Table:
    table = Table(title=title)
    for column in ("server", "version", "port", "PID", "health", "started", "start", "prepare", "note"):
        table.add_column(column)
    for s in info.servers:
        health = "[green]healthy[/]" if s.healthy else f"[red]{s.detail or 'unhealthy'}[/]"
        started = time.strftime("%H:%M:%S", time.localtime(s.started_at)) if s.started_at else ""
        table.add_row(
            s.name,
            s.version,
            str(s.port),
            str(s.pid or ""),
            health,
            started,
            _seconds(s.start_seconds),
            _seconds(s.prepare_seconds),
            s.note,
        )
    return table


def _streams(found: list[Placement]) -> Table:
    table = Table(title="JetStream streams (KV_<bucket>, OBJ_<bucket>: buckets)")
    for column in ("stream", "leader", "replicas"):
        table.add_column(column)
    for p in found:
        table.add_row(p.stream, p.leader or "[red]no leader[/]", ", ".join(f"{n} {s}" for n, s in p.replicas.items()))
    return table


def model_config(model: str | None, model_file: Path | None, nats_nodes: int | None = None) -> StackConfig:
    """StackConfig() with the command line's choices over CONCLAVE_STACK_MODEL(_FILE) and _NATS_NODES."""
    choice: dict[str, Any] = {}
    if nats_nodes is not None:
        choice["nats_nodes"] = nats_nodes
    if model is not None:
        choice["model"] = model
    if model_file is not None:
        choice["model_file"] = model_file
    return StackConfig(**choice)


@app.command()
def up(
    no_services: NoServices = False,
    only: Only = None,
    model: Model = None,
    model_file: ModelFile = None,
    nats_nodes: NatsNodes = None,
) -> None:
    """Start every server that is not already running and healthy; wait until all are."""
    try:
        cfg = model_config(model, model_file, nats_nodes)
    except ValueError as exc:
        console.print(f"[red]{exc}[/]", markup=False, highlight=False)
        raise typer.Exit(2) from None
    if no_services:
        cfg.services = False
    console.print(f"stack dir {cfg.state_dir} (the first run builds Neo4j and may take minutes)")
    began = time.monotonic()
    try:
        info = api.up(cfg, only)
    except api.StackError as exc:
        console.print(f"[red]stack up failed[/]\n{exc}", markup=False, highlight=False)
        raise typer.Exit(1) from None
    console.print(_table(info, f"stack up in {time.monotonic() - began:.1f}s (start = spawn to healthy)"))
    served = f"REAL MODEL {cfg.model_name} (llama.cpp)" if cfg.real_model else f"the simulator ({cfg.model_name})"
    console.print(f"the services talk to {served} at {info.variables['VLLM_URL']}")


@app.command()
def down(only: Only = None) -> None:
    """Stop every server this stack dir started, by its recorded PID."""
    stopped = api.down(StackConfig(), only)
    console.print(f"stopped: {', '.join(stopped) if stopped else 'nothing was running'}")


@app.command()
def status() -> None:
    """Each server with version, port, PID and health; exits 1 unless all are healthy."""
    cfg = StackConfig()
    info = api.status(cfg)
    if not cfg.services:
        info.servers = [s for s in info.servers if s.name not in ("context", "orchestrator") or s.pid]
    console.print(_table(info, f"stack {cfg.state_dir}"))
    if any(s.name.startswith("nats-") for s in info.servers):
        console.print(_streams(placements(cfg)))
    if not all(s.healthy for s in info.servers):
        raise typer.Exit(1)


if __name__ == "__main__":
    app()
