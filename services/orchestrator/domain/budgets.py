"""How long a structured answer may be, and how many tokens it may take to write.

Every free-text field of a structured-output schema carries a maxLength, so a model under
constrained decoding cannot write until `max_tokens` and leave unterminated JSON (a 135M
model did exactly that with an unbounded critique). `answer_tokens` bounds the longest
answer a schema admits, and the engine asks for that many tokens: the budget fits the
schema by construction, not by a guess per stage.
"""

from __future__ import annotations

from typing import Any

CRITIQUE_MAX_CHARS = 240
RATIONALE_MAX_CHARS = 400
# A synthesis merges candidates: up to twice the longest one, within these bounds.
SYNTHESIS_MIN_CHARS = 800
SYNTHESIS_MAX_CHARS = 4000
# Free text is charged one token per character. Prose averages 3-4 characters per token,
# but a weak model's degenerate text does not: SmolLM2-135M filled a critique with ", 2, 2"
# at 1.5 characters per token and ran past a budget that assumed 2. Only non-ASCII text can
# cost more than a token per character; such an answer is cut off, repaired, or excluded.
CHARS_PER_TOKEN = 1
# JSON punctuation, quotes, a key and the whitespace a grammar lets a model put around
# them: per property, per array item, per scalar.
PER_PROPERTY = 8
PER_ITEM = 3
PER_SCALAR = 4


def synthesis_chars(longest_candidate: int) -> int:
    return max(SYNTHESIS_MIN_CHARS, min(SYNTHESIS_MAX_CHARS, 2 * longest_candidate))


def answer_tokens(schema: dict[str, Any]) -> int:
    """An upper bound on the tokens of any answer `schema` admits (ValueError if unbounded)."""
    kind = schema.get("type")
    if "enum" in schema:
        return PER_SCALAR + max(len(str(v)) for v in schema["enum"]) // CHARS_PER_TOKEN
    if kind == "object":
        props = schema.get("properties", {})
        return 2 + sum(PER_PROPERTY + len(name) // CHARS_PER_TOKEN + answer_tokens(p) for name, p in props.items())
    if kind == "array":
        if "maxItems" not in schema:
            raise ValueError("an array without maxItems has no length bound")
        return 2 + schema["maxItems"] * (PER_ITEM + answer_tokens(schema.get("items", {})))
    if kind == "string":
        if "maxLength" not in schema:
            raise ValueError("a string without maxLength or enum has no length bound")
        return PER_SCALAR + -(-int(schema["maxLength"]) // CHARS_PER_TOKEN)
    if kind in ("integer", "number", "boolean", "null"):
        return PER_SCALAR + 4
    raise ValueError(f"no length bound for a schema of type {kind!r}")


def unbounded_text(schema: dict[str, Any], path: str = "$") -> list[str]:
    """Paths of string fields with neither maxLength nor enum."""
    found: list[str] = []
    if schema.get("type") == "string" and "maxLength" not in schema and "enum" not in schema:
        found.append(path)
    for name, sub in schema.get("properties", {}).items():
        found += unbounded_text(sub, f"{path}.{name}")
    if isinstance(schema.get("items"), dict):
        found += unbounded_text(schema["items"], f"{path}[]")
    return found


def capped(schema: dict[str, Any], chars: int) -> dict[str, Any]:
    """`schema` with every free-text field's maxLength lowered to `chars` (never below its
    minLength; enums untouched). An answer to the capped schema also satisfies the original."""
    out = dict(schema)
    if out.get("type") == "string" and "maxLength" in out and "enum" not in out:
        out["maxLength"] = max(int(out.get("minLength", 0)), min(int(out["maxLength"]), chars))
    if "properties" in out:
        out["properties"] = {name: capped(sub, chars) for name, sub in out["properties"].items()}
    if isinstance(out.get("items"), dict):
        out["items"] = capped(out["items"], chars)
    return out


def within_ceiling(schema: dict[str, Any] | None, max_tokens: int, ceiling: int) -> tuple[dict[str, Any] | None, int]:
    """The schema and token budget of a call under an answer ceiling of `ceiling` tokens (0: none).

    Reviews are most of a council's tokens, so the ceiling bounds their free text too, not only
    proposals; a capped schema's budget is recomputed, so the answer still fits it by construction."""
    if not ceiling:
        return schema, max_tokens
    if schema is None:
        return None, min(max_tokens, ceiling)
    schema = capped(schema, ceiling * CHARS_PER_TOKEN)
    return schema, min(max_tokens, answer_tokens(schema))
