"""`conclave trace <story, deliberation or trace id>`: the spans of a plan's trace, drawn as a
nested timeline in the terminal from the JSON-lines file the services write (tracing.py)."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

BAR = 48


def load(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    spans = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            spans.append(json.loads(line))
    return spans


def traces_of(spans: list[dict[str, Any]], key: str) -> dict[str, list[dict[str, Any]]]:
    """Every span of each trace that mentions `key` as its story, deliberation or trace id."""
    wanted = {
        s["trace_id"] for s in spans
        if key == s["trace_id"] or key in (s["attributes"].get("story_id"), s["attributes"].get("deliberation_id"))
    }
    by_trace: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for span in spans:
        if span["trace_id"] in wanted:
            by_trace[span["trace_id"]].append(span)
    return dict(by_trace)


def ordered(spans: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    """Depth-first, children by start time; a span whose parent is not in the file starts a root."""
    ids = {s["span_id"] for s in spans}
    children: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for span in spans:
        children[span["parent_id"] if span["parent_id"] in ids else ""].append(span)
    rows: list[tuple[int, dict[str, Any]]] = []

    def walk(parent: str, depth: int) -> None:
        for span in sorted(children[parent], key=lambda s: s["start_ns"]):
            rows.append((depth, span))
            walk(span["span_id"], depth + 1)

    walk("", 0)
    return rows


def bar(start: int, end: int, t0: int, total: int) -> str:
    left = int((start - t0) / total * BAR)
    width = max(1, round((end - start) / total * BAR))
    return " " * left + "█" * min(width, BAR - left)


def draw(trace_id: str, spans: list[dict[str, Any]], console: Console) -> None:
    t0 = min(s["start_ns"] for s in spans)
    total = max(1, max(s["end_ns"] for s in spans) - t0)
    table = Table("span", "service", "timeline", "ms", title=f"trace {trace_id}: {len(spans)} spans, "
                  f"{total / 1e6:.0f} ms", show_lines=False)
    for depth, span in ordered(spans):
        detail = span["attributes"].get("agent_id") or span["attributes"].get("role") or ""
        name = "  " * depth + span["name"] + (f" [dim]{detail}[/]" if detail else "")
        style = "red" if span["status"] == "ERROR" else "cyan"
        timeline = bar(span["start_ns"], span["end_ns"], t0, total)
        ms = (span["end_ns"] - span["start_ns"]) / 1e6
        table.add_row(name, span["service"], f"[{style}]{timeline}[/]", f"{ms:.1f}")
    console.print(table)
