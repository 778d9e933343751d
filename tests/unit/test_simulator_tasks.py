"""The bench task set and the simulator's answers to a DEV prompt that carries a task."""

from __future__ import annotations

import random

import pytest

from services.orchestrator.domain import execution as ex
from services.simulator import content, tasks


def test_at_least_thirty_tasks_each_with_every_part() -> None:
    loaded = tasks.load_tasks()
    assert len(loaded) >= 30
    for task in loaded:
        assert task.reference and task.hidden and len(task.public) >= 2 and task.wrong
    assert {v.kind for t in loaded for v in t.wrong} == set(tasks.KINDS)


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"entry": "f", "prompt": "p", "reference": "r"}, "x[0].id"),
        ({"id": "t", "entry": "f", "prompt": "p", "reference": "r", "public": [[[1], 1], [[2], 2]]}, "wrong"),
        (
            {"id": "t", "entry": "f", "prompt": "p", "reference": "r", "wrong": [{"kind": "typo", "code": "c"}]},
            "wrong[0]",
        ),
        (
            {
                "id": "t",
                "entry": "f",
                "prompt": "p",
                "reference": "r",
                "public": [[1, 1]],
                "wrong": [{"kind": "edge_case", "code": "c"}],
            },
            "public",
        ),
    ],
)
def test_a_bad_task_is_an_error_naming_the_field(raw: dict[str, object], field: str) -> None:
    with pytest.raises(tasks.TaskError, match=field.replace("[", r"\[").replace("]", r"\]")):
        tasks.parse_task(raw, "x[0]")


def messages(user: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": "Role: DEV"}, {"role": "user", "content": user}]


def test_a_dev_prompt_with_a_task_marker_gets_one_of_its_variants_with_tests() -> None:
    task = tasks.task_by_id("fib")
    seen = set()
    for temperature in (0.2, 0.5, 0.7, 0.9, 1.1, 0.3, 0.4, 0.6, 0.8, 1.0):
        body = {
            "messages": messages(f"## Task\n{tasks.MARKER.format('fib')} {task.prompt}"),
            "temperature": temperature,
        }
        text = content.answer(body).text
        variant = tasks.variant_of(task, text)
        assert variant is not None
        seen.add(variant.kind)
        parts = ex.split(text)
        assert "def fib" in parts.code and "def test_case_0" in parts.tests
    assert "correct" in seen and len(seen) >= 2


def test_a_revision_keeps_the_authors_variant() -> None:
    task = tasks.task_by_id("chunk")
    wrong = task.wrong[0]
    draft = tasks.dev_proposal(task, wrong, random.Random(1))
    user = (
        f"## Task\n{tasks.MARKER.format('chunk')} {task.prompt}\n\n## Your step: revise your proposal\n"
        f"## Your proposal\n{draft}\n## Critiques\n### Critique 1\nlooks fine\n"
    )
    text = content.answer({"messages": messages(user), "temperature": 0.7}).text
    assert tasks.variant_of(task, text) == wrong
