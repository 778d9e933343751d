"""Programming tasks with hidden tests, for execution-grounded selection.

Each task (tasks/*.yaml) has a reference solution, public cases (what a council's author may
test), hidden cases the council never sees, and known wrong variants (off-by-one, missing edge
case, wrong exception, slow path). A DEV prompt that carries a task's marker gets one of its
variants back from the simulator, with tests its author would write: a few public cases, plus,
for a wrong variant, the cases that encode its author's mistaken belief. The bench knows which
variant each candidate is, so it knows the truth.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import yaml

MARKER = "[bench-task:{}]"
_MARKER = re.compile(r"\[bench-task:([a-z0-9_]+)\]")
KINDS = ("off_by_one", "edge_case", "wrong_exception", "slow_path")
# Share of first drafts that are right: enough that most councils have a right answer to find,
# few enough that picking one is not a coin toss.
CORRECT_SHARE = 0.4

Case = tuple[list[Any], Any]


@dataclass(frozen=True)
class Variant:
    kind: str  # "correct" or one of KINDS
    code: str
    believes: tuple[Case, ...] = ()

    @property
    def correct(self) -> bool:
        return self.kind == "correct"


@dataclass(frozen=True)
class Task:
    id: str
    entry: str
    prompt: str
    reference: str
    public: tuple[Case, ...]
    hidden: tuple[Case, ...]
    public_raises: tuple[Case, ...] = ()
    hidden_raises: tuple[Case, ...] = ()
    hidden_src: str = ""
    # Extra test code an author who understood the task writes (a large input, say).
    public_src: str = ""
    wrong: tuple[Variant, ...] = field(default_factory=tuple)

    @property
    def variants(self) -> tuple[Variant, ...]:
        return (Variant("correct", self.reference), *self.wrong)


class TaskError(ValueError):
    pass


def _cases(raw: dict[str, Any], key: str, where: str) -> tuple[Case, ...]:
    value = raw.get(key, [])
    if not isinstance(value, list) or any(not (isinstance(c, list) and len(c) == 2) for c in value):
        raise TaskError(f"{where}.{key}: expected a list of [args, expected] pairs")
    if any(not isinstance(c[0], list) for c in value):
        raise TaskError(f"{where}.{key}: args must be a list")
    return tuple((c[0], c[1]) for c in value)


def parse_task(raw: Any, where: str) -> Task:
    if not isinstance(raw, dict):
        raise TaskError(f"{where}: a task is a mapping")
    for key in ("id", "entry", "prompt", "reference"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise TaskError(f"{where}.{key}: required text")
    where = f"{where}({raw['id']})"
    wrong = []
    for i, v in enumerate(raw.get("wrong") or []):
        if not isinstance(v, dict) or v.get("kind") not in KINDS or not isinstance(v.get("code"), str):
            raise TaskError(f"{where}.wrong[{i}]: needs kind (one of {', '.join(KINDS)}) and code")
        wrong.append(Variant(v["kind"], v["code"], _cases(v, "believes", f"{where}.wrong[{i}]")))
    if not wrong:
        raise TaskError(f"{where}.wrong: at least one wrong variant")
    task = Task(
        id=raw["id"],
        entry=raw["entry"],
        prompt=raw["prompt"],
        reference=raw["reference"],
        public=_cases(raw, "public", where),
        hidden=_cases(raw, "hidden", where),
        public_raises=_cases(raw, "public_raises", where),
        hidden_raises=_cases(raw, "hidden_raises", where),
        hidden_src=raw.get("hidden_src", ""),
        public_src=raw.get("public_src", ""),
        wrong=tuple(wrong),
    )
    if len(task.public) < 2:
        raise TaskError(f"{where}.public: at least two cases")
    return task


@cache
def load_tasks() -> tuple[Task, ...]:
    tasks: list[Task] = []
    for path in sorted(resources.files("services.simulator").joinpath("tasks").iterdir(), key=lambda p: p.name):
        if path.name.endswith(".yaml"):
            for i, raw in enumerate(yaml.safe_load(path.read_text()) or []):
                tasks.append(parse_task(raw, f"{path.name}[{i}]"))
    ids = [t.id for t in tasks]
    if len(set(ids)) != len(ids):
        raise TaskError(f"tasks: duplicate ids {sorted({i for i in ids if ids.count(i) > 1})}")
    return tuple(tasks)


def task_by_id(task_id: str) -> Task:
    for task in load_tasks():
        if task.id == task_id:
            return task
    raise TaskError(f"task_id: no task {task_id!r}")


def marked_task(text: str) -> Task | None:
    found = _MARKER.search(text)
    return task_by_id(found.group(1)) if found else None


# -- test code ------------------------------------------------------------------------------


def case_tests(entry: str, cases: tuple[Case, ...], raises: tuple[Case, ...], prefix: str) -> str:
    lines = []
    for i, (args, expected) in enumerate(cases):
        call = f"{entry}({', '.join(repr(a) for a in args)})"
        lines += [f"def test_{prefix}_{i}():", f"    assert {call} == {expected!r}", "", ""]
    for i, (args, exception) in enumerate(raises):
        call = f"{entry}({', '.join(repr(a) for a in args)})"
        lines += [f"def test_{prefix}_raises_{i}():", f"    with pytest.raises({exception}):"]
        lines += [f"        {call}", "", ""]
    return "import pytest\n\n\n" + "\n".join(lines)


def hidden_tests(task: Task) -> str:
    source = case_tests(task.entry, task.public + task.hidden, task.hidden_raises + task.public_raises, "hidden")
    return source + ("\n" + task.hidden_src if task.hidden_src else "")


def author_tests(task: Task, variant: Variant, rng: random.Random) -> str:
    """What this variant's author tests. One who understood the task tests every public case;
    one who did not tests most of them, not the failure it did not think of, and writes its
    mistaken beliefs down as tests."""
    if variant.correct:
        source = case_tests(task.entry, task.public, task.public_raises, "case")
        return source + ("\n" + task.public_src if task.public_src else "")
    cases = rng.sample(task.public, k=max(2, len(task.public) - 1))
    raises = task.public_raises if variant.kind != "wrong_exception" else ()
    return case_tests(task.entry, (*variant.believes, *cases), raises, "case")


def pick_variant(task: Task, rng: random.Random) -> Variant:
    if rng.random() < CORRECT_SHARE:
        return task.variants[0]
    return rng.choice(task.wrong)


def dev_proposal(task: Task, variant: Variant, rng: random.Random) -> str:
    return (
        f"## Implementation of `{task.entry}`\n\n"
        f"```python\n{variant.code.rstrip()}\n```\n\n"
        f"## Tests\n\n```python\n{author_tests(task, variant, rng).rstrip()}\n```\n"
    )


def variant_of(task: Task, proposal: str) -> Variant | None:
    """Which of the task's variants a proposal carries (None if none of them)."""
    for variant in task.variants:
        if variant.code.rstrip() in proposal:
            return variant
    return None
