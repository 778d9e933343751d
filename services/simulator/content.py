"""Turn a chat-completions request body into the simulator's answer text.

Everything is a pure function of the request (messages, temperature, model),
so the same request always gets the same answer and different agents (who
differ in temperature and persona) get different ones.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import dataclass
from typing import Any

from services.simulator import roles, tasks
from services.simulator.models import ModelProfile
from services.simulator.quality import assess
from services.simulator.review import ReviewHints, find_proposals
from services.simulator.schema_gen import generate_instance

_ROLE = re.compile(r"\brole\s*:\s*\**\s*(ARCHITECT|DEVOPS|DEV|QA|DATA)\b", re.IGNORECASE)
_REVISE = re.compile(r"step:\s*revis|\brevise your|\brevised proposal", re.IGNORECASE)
_OWN_DRAFT = re.compile(
    r"^#+\s*your (?:current )?(?:proposal|draft)\s*$(.*?)(?=^#+\s*(?:critiques?|feedback|reviews?)\b|\Z)",
    re.IGNORECASE | re.MULTILINE | re.DOTALL,
)
_TASK = re.compile(r"^#+\s*task\s*$\s*^(.+)$", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class Answer:
    text: str
    structured: bool


def request_seed(body: dict[str, Any]) -> int:
    key = json.dumps(
        {"m": body.get("messages"), "t": body.get("temperature"), "model": body.get("model")},
        sort_keys=True,
        default=str,
    )
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")


def _texts(messages: list[dict[str, Any]], role: str | None = None) -> list[str]:
    out = []
    for m in messages:
        if role is not None and m.get("role") != role:
            continue
        content = m.get("content")
        if isinstance(content, list):  # content parts
            content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
        out.append(str(content or ""))
    return out


def detect_role(messages: list[dict[str, Any]]) -> str | None:
    for text in _texts(messages, "system") + _texts(messages):
        m = _ROLE.search(text)
        if m:
            return m.group(1).upper()
    return None


def topic_of(messages: list[dict[str, Any]]) -> str:
    users = [t for t in _texts(messages, "user") if t.strip()]
    if not users:
        return "the task"
    marked = _TASK.search(users[0])
    if marked:
        return marked.group(1).strip()[:80]
    for line in users[0].splitlines():
        line = re.sub(r"^(task|story|plan)\s*:\s*", "", line.strip(), flags=re.IGNORECASE)
        if len(line) > 3 and not line.startswith(("#", "```")):
            return line[:80]
    return "the task"


def is_weak(seed: int, revising: bool, own_draft: str | None) -> bool:
    """A quarter of first drafts are weak; a revision has read critiques, so a strong draft
    stays strong and half of the weak ones improve."""
    if not revising:
        return seed % 4 == 0
    if own_draft is None:
        return seed % 8 == 0
    return assess(own_draft).score < 6 and seed % 2 == 0


def prose_answer(messages: list[dict[str, Any]], seed: int) -> str:
    role = detect_role(messages)
    last_user = (_texts(messages, "user") or [""])[-1]
    revising = bool(_REVISE.search(last_user))
    draft = _OWN_DRAFT.search(last_user)
    rng = random.Random(seed)
    task = tasks.marked_task("\n".join(_texts(messages, "user"))) if role == "DEV" else None
    if task is not None:
        return _task_answer(task, rng, draft.group(1).strip() if revising and draft else None)
    writer = roles.WRITERS.get(role or "", roles.generic)
    weak = is_weak(seed, revising, draft.group(1) if draft else None)
    text = writer(rng, topic_of(messages), weak)
    if revising:
        text = "Revised after the peer critiques.\n\n" + text
    return text


def _task_answer(task: tasks.Task, rng: random.Random, own_draft: str | None) -> str:
    """A bench task: one of its variants, right or wrong. A revision keeps the author's variant,
    as a model that cannot see its own bug would."""
    if own_draft and tasks.variant_of(task, own_draft) is not None:
        return "Revised after the peer critiques.\n\n" + own_draft
    return tasks.dev_proposal(task, tasks.pick_variant(task, rng), rng)


def structured_answer(
    messages: list[dict[str, Any]], schema: dict[str, Any], seed: int, model: ModelProfile | None = None
) -> str:
    prompt = "\n\n".join(_texts(messages))
    hints = ReviewHints(find_proposals(prompt), seed, model)
    return json.dumps(generate_instance(schema, seed, hints))


def answer(body: dict[str, Any], model: ModelProfile | None = None) -> Answer:
    messages = body.get("messages") or []
    seed = request_seed(body)
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        schema = (fmt.get("json_schema") or {}).get("schema") or {"type": "object"}
        return Answer(structured_answer(messages, schema, seed, model), structured=True)
    if fmt.get("type") == "json_object":
        return Answer(json.dumps({"answer": prose_answer(messages, seed)}), structured=True)
    return Answer(prose_answer(messages, seed), structured=False)
