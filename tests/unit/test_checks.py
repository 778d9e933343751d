"""Deterministic per-role checks of proposal text."""

from __future__ import annotations

import pytest

from services.orchestrator.domain.checks import run_checks
from services.orchestrator.domain.checks.blocks import code_blocks
from services.orchestrator.domain.checks.documents import sql_problem
from services.orchestrator.domain.council import Role


def failed(results: list) -> dict[str, str]:
    return {r.name: r.detail for r in results if not r.passed}


DEPLOYMENT = """Here is the manifest:

```yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  replicas: 2
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api, tier: web}
    spec:
      containers:
        - name: api
          image: ghcr.io/acme/api:1.4.2
          resources:
            requests: {cpu: 100m, memory: 128Mi}
            limits: {memory: 256Mi}
---
apiVersion: v1
kind: Service
metadata: {name: api}
spec:
  selector: {app: api}
  ports: [{port: 80, targetPort: 8080}]
```
"""


def test_blocks_are_extracted_by_language() -> None:
    text = "```python\na = 1\n```\n\n```yaml\nb: 2\n```\n```YML\nc: 3\n```\n```\nplain\n```"
    assert code_blocks(text, "python") == ["a = 1\n"]
    assert code_blocks(text, "yaml", "yml") == ["b: 2\n", "c: 3\n"]


def test_a_sound_deployment_passes_every_devops_check() -> None:
    results = run_checks(Role.DEVOPS, DEPLOYMENT)
    assert [r.name for r in results] == [
        "manifest.present",
        "manifest.parse",
        "manifest.objects",
        "manifest.workloads",
        "manifest.schema",
    ]
    assert failed(results) == {}


@pytest.mark.parametrize(
    ("mutation", "check", "detail"),
    [
        (
            ("matchLabels: {app: api}", "matchLabels: {app: web}"),
            "manifest.workloads",
            "selector does not match",
        ),
        (("          image: ghcr.io/acme/api:1.4.2\n", ""), "manifest.workloads", "has no image"),
        (("resources:", "resourcez:"), "manifest.workloads", "has no resources"),
        (("kind: Service\n", ""), "manifest.objects", "lacks kind"),
        (("metadata: {name: api}\n", "metadata: {}\n"), "manifest.objects", "lacks metadata.name"),
        (("  replicas: 2\n", "  replicas: [2\n"), "manifest.parse", "block 1"),
    ],
)
def test_broken_manifests_fail_the_right_check(mutation: tuple[str, str], check: str, detail: str) -> None:
    old, new = mutation
    assert old in DEPLOYMENT
    results = run_checks(Role.DEVOPS, DEPLOYMENT.replace(old, new))
    problems = failed(results)
    assert check in problems and detail in problems[check]


def test_a_manifest_that_does_not_parse_fails_the_checks_that_depend_on_it() -> None:
    problems = failed(run_checks(Role.DEVOPS, "```yaml\nkey: [unclosed\n```"))
    assert set(problems) == {"manifest.parse", "manifest.objects", "manifest.workloads", "manifest.schema"}


def test_no_manifest_fails_everything() -> None:
    assert len(failed(run_checks(Role.DEVOPS, "Just deploy it with helm."))) == 5


def test_manifests_are_validated_strictly_against_the_kubernetes_schema() -> None:
    problems = failed(run_checks(Role.DEVOPS, DEPLOYMENT.replace("replicas: 2", "replicas: 2\n  replikas: 3")))
    assert "replikas" in problems["manifest.schema"]
    problems = failed(run_checks(Role.DEVOPS, DEPLOYMENT.replace("replicas: 2", "replicas: two")))
    assert "spec.replicas" in problems["manifest.schema"]


def test_non_mapping_documents_are_not_kubernetes_objects() -> None:
    problems = failed(run_checks(Role.DEVOPS, "```yaml\n- a\n- b\n```"))
    assert "not a mapping" in problems["manifest.objects"]


GOOD_PYTHON = """Implementation:

```python
from __future__ import annotations

import heapq
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable


def merge(a: "Iterable[int]", b: "Iterable[int]") -> list[int]:
    try:
        return list(heapq.merge(a, b))
    except TypeError as exc:
        raise ValueError("unorderable") from exc
```
"""


def test_clean_python_passes_the_dev_checks() -> None:
    results = run_checks(Role.DEV, GOOD_PYTHON)
    assert [r.name for r in results] == ["python.present", "python.compile", "python.lint"]
    assert failed(results) == {}


def test_python_that_does_not_compile_is_caught_without_running_it() -> None:
    text = (
        "```python\ndef f(:\n    pass\n```\n"
        "```python\nreturn 1\n```\n"
        "```python\nimport os\nos.system('boom')\n```"
    )
    problems = failed(run_checks(Role.DEV, text))
    assert "block 1 line 1" in problems["python.compile"]
    assert "block 2" in problems["python.compile"] and "outside function" in problems["python.compile"]
    assert "python.lint" not in problems  # the block that compiled is clean


def test_lints_find_bare_except_mutable_defaults_and_unused_imports() -> None:
    text = (
        "```python\nimport os\nimport sys as system\n\n"
        "def f(x=[]):\n    try:\n        return x\n    except:\n        pass\n```"
    )
    detail = failed(run_checks(Role.DEV, text))["python.lint"]
    assert "line 7: bare except" in detail
    assert "line 4: mutable default argument" in detail
    assert "'os' imported but unused" in detail and "'system' imported but unused" in detail


def test_dev_proposal_without_code_fails() -> None:
    assert set(failed(run_checks(Role.DEV, "I would write a function."))) == {
        "python.present",
        "python.compile",
        "python.lint",
    }


QA_TESTS = """```python
import pytest

from app import merge


def test_merges_in_order():
    assert merge([1, 3], [2]) == [1, 2, 3]


class TestErrors:
    async def test_rejects_mixed_types(self):
        with pytest.raises(ValueError):
            merge([1], ["a"])
```"""


def test_pytest_tests_pass_the_qa_checks() -> None:
    results = run_checks(Role.QA, QA_TESTS)
    assert failed(results) == {}
    assert next(r for r in results if r.name == "tests.functions").detail == "2 test function(s)"


def test_tests_that_assert_nothing_or_do_not_exist_fail() -> None:
    silent = QA_TESTS.replace("    assert merge([1, 3], [2]) == [1, 2, 3]", "    merge([1, 3], [2])")
    assert "test_merges_in_order" in failed(run_checks(Role.QA, silent))["tests.asserts"]
    no_tests = "```python\ndef helper():\n    return 1\n```"
    assert set(failed(run_checks(Role.QA, no_tests))) == {"tests.functions", "tests.asserts"}


DESIGN = (
    """# Merge service

## Context
Billing needs merged streams of sorted events, """
    + "with ordering guarantees " * 8
    + """.

## Decision
A streaming k-way merge behind one gRPC call.

```json
{"max_streams": 16}
```
"""
)


def test_architect_documents_need_sections_substance_and_valid_blocks() -> None:
    assert failed(run_checks(Role.ARCHITECT, DESIGN)) == {}
    bold = "# Plan\n\n**Decision.** Use a queue. " + "It absorbs bursts. " * 12
    assert failed(run_checks(Role.ARCHITECT, bold)) == {}
    problems = failed(run_checks(Role.ARCHITECT, "Use a queue."))
    assert set(problems) == {"doc.sections", "doc.substance"}
    broken = failed(run_checks(Role.ARCHITECT, DESIGN.replace('{"max_streams": 16}', '{"max_streams": }')))
    assert "json block 1" in broken["doc.blocks"]


def test_data_documents_also_check_sql_balance() -> None:
    good = DESIGN + "\n```sql\nCREATE TABLE t (id int PRIMARY KEY, note text DEFAULT 'a(b');\n```\n"
    assert failed(run_checks(Role.DATA, good)) == {}
    bad = failed(run_checks(Role.DATA, DESIGN + "\n```sql\nSELECT count(* FROM t;\n```\n"))
    assert "1 unclosed '('" in bad["sql.balanced"]
    assert sql_problem("SELECT 'x") == "unterminated ' quote"
    assert sql_problem("SELECT 1)") == "unexpected ')'"


def test_every_role_has_checks() -> None:
    for role in Role:
        results = run_checks(role, "")
        assert results and not results[0].passed
