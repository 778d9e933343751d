"""Token counting as the budgeting code sees it: a plain function str -> int.

The real counter is tiktoken's cl100k_base (loaded by adapters/tokenizer.py).
Where its vocabulary file cannot be loaded (an offline machine), `estimate_tokens`
stands in: it splits text the way cl100k's pre-tokenizer roughly does and charges
about four characters per token for words and two per token for punctuation runs,
which over-counts English prose slightly, so a budget is never exceeded in practice.
"""

from __future__ import annotations

import re
from collections.abc import Callable

TokenCounter = Callable[[str], int]

_PIECES = re.compile(r"\s*[^\W\d_]+|\s*\d{1,3}|\s*[^\w\s]+|\s+", re.UNICODE)


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
