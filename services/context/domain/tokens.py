"""Token counting as the budgeting code sees it: a plain function str -> int.

The service counts exactly, with the vocabulary of the configured model (loaded by
adapters/tokenizer.py; `vocabulary_for` picks it). `estimate_tokens` is a pure stand-in
for unit tests of the budgeting code: it charges about four characters per token for
words and two per punctuation run, over-counting English by 20-30%.
"""

from __future__ import annotations

import re
from collections.abc import Callable

TokenCounter = Callable[[str], int]

_PIECES = re.compile(r"\s*[^\W\d_]+|\s*\d{1,3}|\s*[^\w\s]+|\s+", re.UNICODE)


FALLBACK_VOCABULARY = "cl100k_base"


def vocabulary_for(model: str, vocabularies: dict[str, str]) -> str:
    """The vocabulary of the longest key `model` starts with (case-insensitive, any
    "org/" prefix dropped), else cl100k_base."""
    name = model.lower().rsplit("/", 1)[-1]
    for key in sorted(vocabularies, key=len, reverse=True):
        if name.startswith(key.lower()):
            return vocabularies[key]
    return FALLBACK_VOCABULARY


def estimate_tokens(text: str) -> int:
    total = 0
    for piece in _PIECES.findall(text):
        body = piece.strip()
        if not body:
            total += piece.count("\n")
        elif body.isalpha():
            total += max(1, -(-len(body) // 4)) + (0 if body.isascii() else len(body) // 2)
        elif body.isdigit():
            total += 1
        else:
            total += max(1, -(-len(body) // 2))
    return total


def truncate_to(text: str, limit: int, count: TokenCounter, marker: str = " …") -> str:
    """The longest prefix of `text` (plus marker) that costs at most `limit` tokens."""
    if count(text) <= limit:
        return text
    if limit <= count(marker):
        return ""
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if count(text[:mid] + marker) <= limit:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo].rstrip() + marker if lo else ""
