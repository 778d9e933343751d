"""`conclave graph export | import`: the graph's logical backup and restore (adapters/graph_backup.py).

Both connect with the Context service's settings (NEO4J_URI, NEO4J_USER, NEO4J_PASSWORD).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import typer

T = TypeVar("T")

graph_app = typer.Typer(help="Back up and restore the knowledge graph (Neo4j) as JSON lines.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(graph_app, name="graph")


async def _with_driver(work: Callable[[Any], Awaitable[T]]) -> T:
    from neo4j import AsyncGraphDatabase

    from services.context.settings import ContextSettings

    settings = ContextSettings()
    auth = (settings.neo4j_user, settings.neo4j_password.get_secret_value())
    async with AsyncGraphDatabase.driver(settings.neo4j_uri, auth=auth, notifications_min_severity="OFF") as driver:
        await driver.verify_connectivity()
        return await work(driver)


def backup_name(now: datetime) -> str:
    return f"graph-{now.strftime('%Y%m%dT%H%M%SZ')}.jsonl"


def prune(folder: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` backups in the folder (names sort by time)."""
    old = sorted(folder.glob("graph-*.jsonl"))[:-keep] if keep > 0 else []
    for path in old:
        path.unlink()
    return old


@graph_app.command("export")
def export(
    path: Path = typer.Argument(..., help="the file to write, or a folder: then graph-<UTC time>.jsonl inside it"),
    keep: int = typer.Option(0, help="with a folder: keep only the newest N backups there (0: keep all)"),
) -> None:
    """Write every node and relationship to a JSON-lines file; the services may keep running."""
    from services.context.adapters.graph_backup import BackupError, export_graph

    target = path / backup_name(datetime.now(UTC)) if path.is_dir() else path
    # Written aside and renamed when whole, so a crash never leaves a file that looks like a backup.
    partial = target.with_name(target.name + ".partial")
    try:
        with partial.open("w", encoding="utf-8") as out:
            counts = asyncio.run(_with_driver(lambda driver: export_graph(driver, out)))
    except BackupError as e:
        partial.unlink(missing_ok=True)
        typer.echo(f"export failed: {e}", err=True)
        raise typer.Exit(1) from e
    partial.replace(target)
    typer.echo(f"exported {counts.nodes} nodes and {counts.relationships} relationships to {target}")
    if path.is_dir():
        for old in prune(path, keep):
            typer.echo(f"removed {old}")


@graph_app.command("import")
def import_(
    path: Path = typer.Argument(..., exists=True, dir_okay=False, help="a file written by `graph export`"),
) -> None:
    """Recreate a backup in an empty database (stop the Context service first)."""
    from services.context.adapters.graph_backup import BackupError, import_graph

    try:
        counts = asyncio.run(_with_driver(lambda driver: import_graph(driver, path)))
    except BackupError as e:
        typer.echo(f"import refused: {e}", err=True)
        raise typer.Exit(1) from e
    typer.echo(f"imported {counts.nodes} nodes and {counts.relationships} relationships from {path}")
