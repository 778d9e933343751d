"""Load the token counter: tiktoken cl100k_base when its vocabulary is available.

tiktoken fetches the vocabulary over the network on first use (then caches it
under TIKTOKEN_CACHE_DIR); on an offline machine that fails, and the service
falls back to the documented estimate in domain/tokens.py rather than refusing to start.
"""

from __future__ import annotations

import logging
from functools import lru_cache

from services.context.domain.tokens import TokenCounter, estimate_tokens

log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def load_counter() -> tuple[TokenCounter, str]:
    """Return (counter, name); name says which tokenizer is in use."""
    try:
        import tiktoken

        enc = tiktoken.get_encoding("cl100k_base")
    except Exception as exc:  # any failure to fetch or parse the vocabulary
        log.warning("tiktoken cl100k_base unavailable (%s); using the estimate tokenizer", exc)
        return estimate_tokens, "estimate"

    def count(text: str) -> int:
        return len(enc.encode(text, disallowed_special=()))

    return count, "cl100k_base"
