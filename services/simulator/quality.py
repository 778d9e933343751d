"""Judge a proposal's text so simulated reviews track its real quality.

The checks mirror what the council's deterministic checks look at (code that
compiles, lint smells, a complete Deployment), so the simulated reviewers and
the checks agree on which proposal is weaker.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

_FENCE = re.compile(r"```([\w+-]*)[ \t]*\n(.*?)```", re.DOTALL)


@dataclass
class Quality:
    score: float
    notes: list[str] = field(default_factory=list)


def code_blocks(text: str) -> list[tuple[str, str]]:
    return [(lang.lower(), body) for lang, body in _FENCE.findall(text)]


def _python_points(source: str, notes: list[str]) -> float:
    try:
        tree = ast.parse(source)
    except SyntaxError as err:
        notes.append(f"python does not compile (line {err.lineno})")
        return -3.0
    points = 2.0
    imported = {
        (alias.asname or alias.name).split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
        if alias.name != "annotations"
    }
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    unused = sorted(imported - used)
    if unused:
        notes.append(f"unused import {', '.join(unused)}")
        points -= 1.0
    if any(isinstance(n, ast.ExceptHandler) and n.type is None for n in ast.walk(tree)):
        notes.append("bare except swallows every error")
        points -= 1.0
    none_eq = any(
        isinstance(n, ast.Compare)
        and any(isinstance(op, (ast.Eq, ast.NotEq)) for op in n.ops)
        and any(isinstance(c, ast.Constant) and c.value is None for c in n.comparators)
        for n in ast.walk(tree)
    )
    if none_eq:
        notes.append("compares to None with ==")
        points -= 1.0
    funcs = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    hollow = [f.name for f in funcs if f.name.startswith("test_")
              and not any(isinstance(n, (ast.Assert, ast.With)) for n in ast.walk(f))]
    if hollow:
        notes.append(f"{', '.join(hollow)} asserts nothing")
        points -= 1.5
    if funcs and all(f.returns is not None for f in funcs):
        points += 1.0
    elif funcs:
        notes.append("missing type hints")
    return points


def _containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = doc.get("spec") or {}
    pod = ((spec.get("template") or {}).get("spec")) or {}
    return [c for c in pod.get("containers") or [] if isinstance(c, dict)]


def _yaml_points(source: str, notes: list[str]) -> float:
    try:
        docs = [d for d in yaml.safe_load_all(source) if d]
    except yaml.YAMLError:
        notes.append("yaml does not parse")
        return -3.0
    points = 0.0
    for doc in docs:
        if not isinstance(doc, dict) or doc.get("kind") != "Deployment":
            continue
        points += 1.0
        containers = _containers(doc)
        if containers and all("limits" in (c.get("resources") or {}) for c in containers):
            points += 1.0
        else:
            notes.append("no resource limits")
        if containers and all("readinessProbe" in c for c in containers):
            points += 1.0
        else:
            notes.append("no readiness probe")
        if any(str(c.get("image", "")).endswith(":latest") for c in containers):
            notes.append("unpinned :latest image")
            points -= 1.0
        if (doc.get("spec") or {}).get("replicas", 1) < 2:
            notes.append("single replica")
            points -= 0.5
    return points


def _sql_points(source: str, notes: list[str]) -> float:
    upper = source.upper()
    points = 0.0
    if "PRIMARY KEY" in upper:
        points += 1.0
    else:
        notes.append("no primary key")
    if "CREATE INDEX" in upper:
        points += 1.0
    if "NOT NULL" in upper:
        points += 0.5
    return points


def assess(text: str) -> Quality:
    """Score 1..10 from code validity, lint smells, completeness and length."""
    notes: list[str] = []
    score = 5.0
    for lang, body in code_blocks(text):
        if lang in ("python", "py"):
            score += _python_points(body, notes)
            if len(re.findall(r"^def test_", body, re.MULTILINE)) >= 2:
                score += 0.5
        elif lang in ("yaml", "yml"):
            score += _yaml_points(body, notes)
        elif lang == "sql":
            score += _sql_points(body, notes)
    sections = [w for w in ("decision", "risk", "trade-off", "component") if w in text.lower()]
    score += 0.5 * len(sections)
    if len(text) >= 800:
        score += 1.0
    elif len(text) < 250:
        notes.append("very short")
        score -= 1.0
    return Quality(score=max(1.0, min(10.0, score)), notes=notes)
