"""The exact token counter: quicktok, whose wheel ships the vocabularies (cl100k_base,
o200k_base, llama3, qwen3), so the service counts exactly and never downloads anything
at start-up. A broken install fails the start rather than counting wrongly."""

from __future__ import annotations

import quicktok

from services.context.domain.tokens import FALLBACK_VOCABULARY, TokenCounter, vocabulary_for


def load_counter(model: str = "", vocabularies: dict[str, str] | None = None) -> tuple[TokenCounter, str]:
    """(counter, vocabulary name) for the model the councils use."""
    name = vocabulary_for(model, vocabularies or {})
    try:
        enc = quicktok.get_encoding(name)
    except (RuntimeError, ValueError, KeyError) as exc:
        raise ValueError(f"tokenizer_vocabularies: {name!r} for model {model!r} is not a vocabulary quicktok ships "
                         f"({exc}); known: cl100k_base, o200k_base, o200k_harmony, llama3, qwen3") from None
    # `count` reads special-token text (e.g. "<|endoftext|>" in a document) as plain text.
    return enc.count, name


__all__ = ["FALLBACK_VOCABULARY", "load_counter"]
