"""Token counting for the simulator's `usage`.

tiktoken's cl100k_base is used when its vocabulary is already in the local
tiktoken cache; tiktoken would otherwise try to download it, and the simulator
must start offline. The fallback estimate counts one token per five characters
of each word (at least one), one per punctuation mark and one per line break,
which lands within ~20% of cl100k_base on English prose and code.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import tempfile
from collections.abc import Callable

_CL100K_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
_PIECE = re.compile(r"\s+|\w{1,4}|[^\w\s]")
_COUNTED = re.compile(r"\w+|[^\w\s]|\n")


def split_pieces(text: str) -> list[str]:
    """Lossless split into token-sized pieces; ''.join(pieces) == text."""
    return _PIECE.findall(text)


def estimate_tokens(text: str) -> int:
    return sum((len(p) + 4) // 5 for p in _COUNTED.findall(text))


def _cached_vocab_present() -> bool:
    cache_dir = os.environ.get("TIKTOKEN_CACHE_DIR") or os.environ.get("DATA_GYM_CACHE_DIR")
    if cache_dir is None:
        cache_dir = os.path.join(tempfile.gettempdir(), "data-gym-cache")
    if not cache_dir:
        return False
    key = hashlib.sha1(_CL100K_URL.encode()).hexdigest()
    return os.path.exists(os.path.join(cache_dir, key))


@functools.cache
def _counter() -> tuple[str, Callable[[str], int]]:
    if _cached_vocab_present():
        try:
            import tiktoken

            enc = tiktoken.get_encoding("cl100k_base")
            return "cl100k_base", lambda text: len(enc.encode(text, disallowed_special=()))
        except Exception:  # any tokenizer failure falls back to the estimate
            pass
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
