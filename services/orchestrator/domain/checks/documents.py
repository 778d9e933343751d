"""ARCHITECT and DATA: prose proposals are structured, and any embedded blocks are well formed."""

from __future__ import annotations

import json
import re

import yaml

from services.orchestrator.domain.checks.blocks import code_blocks
from services.orchestrator.domain.model import CheckResult

# A section opens with a Markdown heading or a bold lead-in such as "**Decision.**".
_SECTION = re.compile(r"^(?:#{1,6}\s+\S|\*\*[^*\n]+\*\*)", re.MULTILINE)
MIN_SECTIONS = 2
MIN_CHARS = 200


def check_document(text: str, min_sections: int = MIN_SECTIONS) -> list[CheckResult]:
    sections = len(_SECTION.findall(text))
    return [
        CheckResult(
            name="doc.sections",
            passed=sections >= min_sections,
            detail=f"{sections} section(s), want at least {min_sections}",
        ),
        CheckResult(
            name="doc.substance",
            passed=len(text.strip()) >= MIN_CHARS,
            detail=f"{len(text.strip())} chars, want at least {MIN_CHARS}",
        ),
        _data_blocks(text),
    ]


def check_data_document(text: str) -> list[CheckResult]:
    # A data proposal's substance is its schema or query, so one titled section is enough.
    return [*check_document(text, min_sections=1), _sql_blocks(text)]


def _data_blocks(text: str) -> CheckResult:
    problems = []
    for i, block in enumerate(code_blocks(text, "yaml", "yml")):
        try:
            list(yaml.safe_load_all(block))
        except yaml.YAMLError as exc:
            problems.append(f"yaml block {i + 1}: {exc}")
    for i, block in enumerate(code_blocks(text, "json")):
        try:
            json.loads(block)
        except json.JSONDecodeError as exc:
            problems.append(f"json block {i + 1}: {exc}")
    if problems:
        return CheckResult(name="doc.blocks", passed=False, detail="; ".join(problems))
    return CheckResult(name="doc.blocks", passed=True, detail="embedded yaml/json blocks parse")


def _sql_blocks(text: str) -> CheckResult:
    blocks = code_blocks(text, "sql")
    problems = [f"sql block {i + 1}: {p}" for i, b in enumerate(blocks) if (p := sql_problem(b))]
    if problems:
        return CheckResult(name="sql.balanced", passed=False, detail="; ".join(problems))
    return CheckResult(name="sql.balanced", passed=True, detail=f"{len(blocks)} sql block(s) balanced")


def sql_problem(sql: str) -> str:
    """Unbalanced quotes or parentheses: the cheapest sign of a truncated or broken statement."""
    if not sql.strip():
        return "empty"
    depth, quote = 0, ""
    for ch in sql:
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                return "unexpected ')'"
    if quote:
        return f"unterminated {quote} quote"
    return f"{depth} unclosed '('" if depth else ""
