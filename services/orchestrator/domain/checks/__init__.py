"""Deterministic, pure checks of a proposal's text, chosen by role."""

from __future__ import annotations

from collections.abc import Callable

from services.orchestrator.domain.checks.documents import check_data_document, check_document
from services.orchestrator.domain.checks.k8s_schema import check_schema
from services.orchestrator.domain.checks.manifests import check_manifests
from services.orchestrator.domain.checks.python_code import check_python
from services.orchestrator.domain.checks.qa_tests import check_tests
from services.orchestrator.domain.council import Role
from services.orchestrator.domain.model import CheckResult

CHECKS: dict[Role, Callable[[str], list[CheckResult]]] = {
    Role.ARCHITECT: check_document,
    Role.DEV: check_python,
    Role.QA: check_tests,
    Role.DEVOPS: lambda text: [*check_manifests(text), *check_schema(text)],
    Role.DATA: check_data_document,
}


def run_checks(role: Role, text: str) -> list[CheckResult]:
    return CHECKS[role](text)


__all__ = ["CHECKS", "run_checks"]
