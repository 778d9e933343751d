"""DEV: ```python blocks compile, and pass a few AST lints. Pure: nothing is executed."""

from __future__ import annotations

import ast

from services.orchestrator.domain.checks.blocks import code_blocks
from services.orchestrator.domain.model import CheckResult

PYTHON_TAGS = ("python", "py", "python3")


def parse_blocks(blocks: list[str]) -> tuple[list[ast.Module], list[str]]:
    trees, errors = [], []
    for i, block in enumerate(blocks):
        try:
            tree = ast.parse(block, filename=f"<block {i + 1}>")
            # compile() catches what the parser lets through, e.g. `return` outside a function.
            compile(tree, f"<block {i + 1}>", "exec", dont_inherit=True)
        except SyntaxError as exc:
            errors.append(f"block {i + 1} line {exc.lineno}: {exc.msg}")
        except (ValueError, RecursionError, MemoryError) as exc:
            errors.append(f"block {i + 1}: {type(exc).__name__}: {exc}")
        else:
            trees.append(tree)
    return trees, errors


def compile_result(name: str, blocks: list[str], errors: list[str]) -> CheckResult:
    if errors:
        return CheckResult(name=name, passed=False, detail="; ".join(errors))
    return CheckResult(name=name, passed=True, detail=f"{len(blocks)} block(s) compile")


def check_python(text: str) -> list[CheckResult]:
    blocks = code_blocks(text, *PYTHON_TAGS)
    if not blocks:
        reason = "no ```python block found"
        return [
            CheckResult(name=n, passed=False, detail=reason)
            for n in ("python.present", "python.compile", "python.lint")
        ]
    trees, errors = parse_blocks(blocks)
    findings = [f for tree in trees for f in lint(tree)]
    if not trees:
        lint_result = CheckResult(name="python.lint", passed=False, detail="skipped: nothing compiled")
    elif findings:
        lint_result = CheckResult(name="python.lint", passed=False, detail="; ".join(findings))
    else:
        lint_result = CheckResult(name="python.lint", passed=True, detail="no findings")
    return [
        CheckResult(name="python.present", passed=True, detail=f"{len(blocks)} block(s)"),
        compile_result("python.compile", blocks, errors),
        lint_result,
    ]


def lint(tree: ast.Module) -> list[str]:
    return [*bare_excepts(tree), *mutable_defaults(tree), *unused_imports(tree)]


def bare_excepts(tree: ast.AST) -> list[str]:
    return [
        f"line {node.lineno}: bare except"
        for node in ast.walk(tree)
        if isinstance(node, ast.ExceptHandler) and node.type is None
    ]


def mutable_defaults(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            defaults = [*node.args.defaults, *(d for d in node.args.kw_defaults if d is not None)]
            if any(_is_mutable(d) for d in defaults):
                found.append(f"line {node.lineno}: mutable default argument")
    return found


def _is_mutable(node: ast.expr) -> bool:
    if isinstance(node, (ast.List, ast.Dict, ast.Set, ast.ListComp, ast.DictComp, ast.SetComp)):
        return True
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in {"list", "dict", "set"}
    )


def unused_imports(tree: ast.Module) -> list[str]:
    imported: dict[str, int] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                imported[alias.asname or alias.name.split(".")[0]] = node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module != "__future__":
            for alias in node.names:
                if alias.name != "*":
                    imported[alias.asname or alias.name] = node.lineno
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    # Names in string annotations and __all__ count as used; a cheap way to avoid false alarms.
    strings = " ".join(
        n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    )
    return [
        f"line {line}: {name!r} imported but unused"
        for name, line in sorted(imported.items(), key=lambda item: item[1])
        if name not in used and name not in strings
    ]
