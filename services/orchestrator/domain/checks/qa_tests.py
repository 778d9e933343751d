"""QA: pytest-style tests in ```python blocks compile and actually assert something."""

from __future__ import annotations

import ast

from services.orchestrator.domain.checks.blocks import code_blocks
from services.orchestrator.domain.checks.python_code import PYTHON_TAGS, compile_result, parse_blocks
from services.orchestrator.domain.model import CheckResult

TestDef = ast.FunctionDef | ast.AsyncFunctionDef


def check_tests(text: str) -> list[CheckResult]:
    blocks = code_blocks(text, *PYTHON_TAGS)
    names = ("tests.present", "tests.compile", "tests.functions", "tests.asserts")
    if not blocks:
        return [CheckResult(name=n, passed=False, detail="no ```python block found") for n in names]
    trees, errors = parse_blocks(blocks)
    tests = [fn for tree in trees for fn in find_test_functions(tree)]
    silent = [fn.name for fn in tests if not asserts_something(fn)]
    return [
        CheckResult(name="tests.present", passed=True, detail=f"{len(blocks)} block(s)"),
        compile_result("tests.compile", blocks, errors),
        CheckResult(
            name="tests.functions",
            passed=bool(tests),
            detail=f"{len(tests)} test function(s)" if tests else "no test_* function found",
        ),
        CheckResult(
            name="tests.asserts",
            passed=bool(tests) and not silent,
            detail=f"without assertions: {', '.join(silent)}" if silent else f"{len(tests)} asserting",
        ),
    ]


def find_test_functions(tree: ast.Module) -> list[TestDef]:
    found: list[TestDef] = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
            found.append(node)
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            found.extend(
                item
                for item in node.body
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name.startswith("test")
            )
    return found


def asserts_something(fn: TestDef) -> bool:
    for node in ast.walk(fn):
        if isinstance(node, ast.Assert):
            return True
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in {"raises", "warns", "fail"} or name.startswith("assert"):
                return True
    return False
