"""Why a structured answer was refused, said so the model (on repair) and the result
(on exclusion) can tell a truncated or empty answer from an off-schema one.

A weak model's answer is repaired once: the refused answer and this reason go back to
it. An answer still invalid after that is excluded with the reason, never fatal while
other answers exist.
"""

from __future__ import annotations


def refusal(text: str, error: str, finish_reason: str, max_tokens: int) -> str:
    if not text.strip():
        return "the answer was empty"
    if finish_reason == "length":
        return f"the answer was cut off at max_tokens={max_tokens} before the JSON ended ({error})"
    return error

