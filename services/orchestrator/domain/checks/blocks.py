"""Fenced code blocks in Markdown text."""

from __future__ import annotations

import re

_FENCE = re.compile(r"^[ \t]*```[ \t]*([\w+-]*)[^\n]*\n(.*?)^[ \t]*```[ \t]*$", re.DOTALL | re.MULTILINE)


def code_blocks(text: str, *languages: str) -> list[str]:
    """Bodies of the fenced blocks tagged with one of `languages` (case-insensitive)."""
    wanted = {lang.lower() for lang in languages}
    return [body for lang, body in _FENCE.findall(text) if lang.lower() in wanted]
