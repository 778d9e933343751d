"""DEVOPS: Kubernetes manifests in ```yaml blocks parse and look like sound objects."""

from __future__ import annotations

from typing import Any

import yaml

from services.orchestrator.domain.checks.blocks import code_blocks
from services.orchestrator.domain.model import CheckResult

WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"}


def check_manifests(text: str) -> list[CheckResult]:
    blocks = code_blocks(text, "yaml", "yml")
    if not blocks:
        return _all_failed("no ```yaml block found")
    present = CheckResult(name="manifest.present", passed=True, detail=f"{len(blocks)} block(s)")
    docs: list[Any] = []
    for i, block in enumerate(blocks):
        try:
            docs.extend(d for d in yaml.safe_load_all(block) if d is not None)
        except yaml.YAMLError as exc:
            skipped = "skipped: YAML did not parse"
            return [
                present,
                CheckResult(name="manifest.parse", passed=False, detail=f"block {i + 1}: {exc}"),
                CheckResult(name="manifest.objects", passed=False, detail=skipped),
                CheckResult(name="manifest.workloads", passed=False, detail=skipped),
            ]
    if not docs:
        return [present, *_all_failed("the yaml blocks are empty")[1:]]
    parsed = CheckResult(name="manifest.parse", passed=True, detail=f"{len(docs)} document(s)")
    return [present, parsed, _objects(docs), _workloads(docs)]


def _all_failed(reason: str) -> list[CheckResult]:
    names = ("manifest.present", "manifest.parse", "manifest.objects", "manifest.workloads")
    return [CheckResult(name=n, passed=False, detail=reason) for n in names]


def _objects(docs: list[Any]) -> CheckResult:
    problems = [p for i, doc in enumerate(docs) for p in _object_problems(i + 1, doc)]
    return _result("manifest.objects", problems, f"{len(docs)} object(s) well formed")


def _object_problems(n: int, doc: Any) -> list[str]:
    if not isinstance(doc, dict):
        return [f"document {n} is not a mapping"]
    problems = [f"document {n} lacks {key}" for key in ("apiVersion", "kind") if not _text(doc.get(key))]
    metadata = doc.get("metadata")
    if not isinstance(metadata, dict) or not _text(metadata.get("name")):
        problems.append(f"document {n} lacks metadata.name")
    return problems


def _workloads(docs: list[Any]) -> CheckResult:
    workloads = [d for d in docs if isinstance(d, dict) and d.get("kind") in WORKLOAD_KINDS]
    problems = [p for w in workloads for p in _workload_problems(w)]
    return _result("manifest.workloads", problems, f"{len(workloads)} workload(s) sound")


def _workload_problems(doc: dict[str, Any]) -> list[str]:
    name = f"{doc.get('kind')} {_get(doc, 'metadata', 'name') or '?'}"
    match_labels = _get(doc, "spec", "selector", "matchLabels")
    labels = _get(doc, "spec", "template", "metadata", "labels")
    problems = []
    if not isinstance(match_labels, dict) or not match_labels:
        problems.append(f"{name}: spec.selector.matchLabels missing")
    elif not isinstance(labels, dict) or any(labels.get(k) != v for k, v in match_labels.items()):
        problems.append(f"{name}: selector does not match the pod template labels")
    containers = _get(doc, "spec", "template", "spec", "containers")
    if not isinstance(containers, list) or not containers:
        return [*problems, f"{name}: no containers"]
    for i, container in enumerate(containers):
        if not isinstance(container, dict):
            problems.append(f"{name}: container {i + 1} is not a mapping")
            continue
        label = container.get("name") or str(i + 1)
        if not _text(container.get("image")):
            problems.append(f"{name}: container {label} has no image")
        resources = container.get("resources")
        if not isinstance(resources, dict) or not (resources.get("requests") or resources.get("limits")):
            problems.append(f"{name}: container {label} has no resources")
    return problems


def _get(doc: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(key)
    return doc


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _result(name: str, problems: list[str], ok: str) -> CheckResult:
    if problems:
        return CheckResult(name=name, passed=False, detail="; ".join(problems))
    return CheckResult(name=name, passed=True, detail=ok)
