"""Execution-grounded selection, the pure part: splitting proposals, dual agreement, checks."""

from services.orchestrator.domain import execution as ex
from services.orchestrator.domain.aggregation import aggregate
from services.orchestrator.domain.model import Proposal
from services.orchestrator.domain.runs import CaseResult, CodeRun

PROPOSAL = """Plan.

```python
def add(a: int, b: int) -> int:
    return a + b
```

```python
from adder import add


def test_add() -> None:
    assert add(1, 2) == 3
```
"""


def run(code_of: str, results: dict[str, list[str]], killed: str = "") -> CodeRun:
    """results: suite -> statuses of its tests, in order."""
    tests = [
        CaseResult(suite=suite, test=f"test_{i}", status=status)  # type: ignore[arg-type]
        for suite, statuses in results.items()
        for i, status in enumerate(statuses)
    ]
    return CodeRun(code_of=code_of, suites=list(results), tests=tests, killed=killed)


def test_blocks_with_test_functions_are_tests_the_rest_is_code() -> None:
    parts = ex.split(PROPOSAL)
    assert "def add" in parts.code and "test_add" not in parts.code
    assert "def test_add" in parts.tests and "return a + b" not in parts.tests


def test_a_block_that_does_not_parse_is_code_so_it_fails_when_run() -> None:
    assert ex.split("```python\ndef test_x(:\n```").code.startswith("def test_x(")


def test_agreeing_programs_outscore_a_lone_one_that_passes_its_own_tests() -> None:
    runs = [
        run("a", {"a": ["passed", "passed"], "b": ["passed"], "c": ["failed"]}),
        run("b", {"a": ["passed", "passed"], "b": ["passed"], "c": ["failed"]}),
        run("c", {"a": ["failed", "passed"], "b": ["failed"], "c": ["passed"]}),
    ]
    scores = ex.agreement(runs)
    assert scores["a"] == scores["b"] == 1.0
    assert scores["c"] < 0.5
    checks = ex.dev_checks(runs, scores)
    assert [(c.name, c.passed) for c in checks["a"]] == [("exec.own_tests", True), ("exec.agreement", True)]
    assert [(c.name, c.passed) for c in checks["c"]] == [("exec.own_tests", True), ("exec.agreement", False)]


def test_code_that_passes_nothing_scores_zero_and_a_killed_run_fails_its_own_tests() -> None:
    runs = [run("a", {"a": ["passed"]}), run("b", {"a": ["failed"], "b": ["passed"]}, killed="wall time")]
    scores = ex.agreement(runs)
    checks = ex.dev_checks(runs, scores)
    assert scores == {"a": 1.0, "b": 1.0}
    assert not checks["b"][0].passed and "wall time" in checks["b"][0].detail
    assert ex.agreement([run("a", {"a": ["failed"]})]) == {"a": 0.0}


def test_qa_tests_must_all_pass_against_the_reference() -> None:
    checks = ex.reference_checks([run(ex.REFERENCE, {"q1": ["passed"], "q2": ["passed", "failed"], "q3": []})], "ref")
    assert [checks[q][0].passed for q in ("q1", "q2", "q3")] == [True, False, False]


def test_no_sandbox_is_a_failed_check_with_the_reason_never_a_pass() -> None:
    checks = ex.not_run(["a", "b"], "no sandbox: bwrap missing")
    assert all(not c[0].passed and "not run: no sandbox" in c[0].detail for c in checks.values())


def test_execution_decides_between_candidates_the_reviews_cannot_tell_apart() -> None:
    proposals = [Proposal(agent_id=a, text=PROPOSAL) for a in ("a", "b")]
    without = aggregate(proposals, [], {}, {})
    assert [c.agent_id for c in without] == ["a", "b"]
    ranked = aggregate(proposals, [], {}, {}, execution={"a": 0.2, "b": 1.0})
    assert [c.agent_id for c in ranked] == ["b", "a"]
    assert ranked[0].execution_score == 1.0


def test_output_is_truncated_in_the_middle() -> None:
    text = "a" * 5000 + "b" * 5000
    cut = ex.truncate(text, 100)
    assert len(cut) < 200 and cut.startswith("a") and cut.endswith("b")


async def test_qa_runs_against_the_dev_winner_of_the_same_plan_once_it_is_complete() -> None:
    from services.orchestrator.domain.council import Role
    from services.orchestrator.domain.model import DeliberationRequest
    from services.orchestrator.domain.tracking import DeliberationRecord, State, deliberation_id
    from services.orchestrator.execution.reference import dev_winner_code

    def record(role: Role, **fields: object) -> DeliberationRecord:
        return DeliberationRecord(
            deliberation_id=deliberation_id("S", "P", 1, role),
            role=role,
            story_id="S",
            plan_id="P",
            request=DeliberationRequest(task="t", role=role),
            **fields,  # type: ignore[arg-type]
        )

    dev = record(Role.DEV, state=State.COMPLETED, result={"winner": {"proposal": PROPOSAL}})
    records = {dev.deliberation_id: dev}

    async def get(key: str) -> DeliberationRecord | None:
        return records.get(key)

    qa = record(Role.QA)
    code = await dev_winner_code(get, qa)
    assert "def add" in code and "test_add" not in code
    assert await dev_winner_code(get, record(Role.DATA)) == ""
    records[dev.deliberation_id] = record(Role.DEV, state=State.RUNNING)
    assert await dev_winner_code(get, qa) == ""


def test_with_pairwise_selection_passing_more_tests_comes_first() -> None:
    from services.orchestrator.domain.aggregation import select
    from services.orchestrator.domain.selection import DEFAULT

    proposals = [Proposal(agent_id=a, text=PROPOSAL) for a in ("a", "b", "c")]
    ranked, _ = select(proposals, [], {}, {}, DEFAULT, final_round=2, execution={"a": 0.25, "b": 1.0, "c": 1.0})
    assert [c.agent_id for c in ranked] == ["b", "c", "a"] and [c.rank for c in ranked] == [1, 2, 3]
    unchanged, _ = select(proposals, [], {}, {}, DEFAULT, final_round=2)
    assert [c.agent_id for c in unchanged] == ["a", "b", "c"]
