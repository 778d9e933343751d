"""DEVOPS: every manifest validates strictly (no unknown fields) against the Kubernetes
OpenAPI schema of the newest version kubernetes-validate ships. Custom resources, whose
schema it cannot know, are named in the detail rather than failed."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import yaml
from kubernetes_validate.utils import SchemaNotFoundError, VersionNotSupportedError, latest_version

from services.orchestrator.domain.checks.blocks import code_blocks
from services.orchestrator.domain.model import CheckResult

NAME = "manifest.schema"


def check_schema(text: str) -> list[CheckResult]:
    docs: list[Any] = []
    try:
        for block in code_blocks(text, "yaml", "yml"):
            docs.extend(d for d in yaml.safe_load_all(block) if d is not None)
    except yaml.YAMLError:
        return [CheckResult(name=NAME, passed=False, detail="skipped: YAML did not parse")]
    if not docs:
        return [CheckResult(name=NAME, passed=False, detail="no manifest to validate")]
    version = latest_version()
    problems, unknown = [], []
    for i, doc in enumerate(docs, 1):
        if not isinstance(doc, dict) or not doc.get("apiVersion") or not doc.get("kind"):
            problems.append(f"document {i} is not an object with apiVersion and kind")
            continue
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except SchemaNotFoundError:
            unknown.append(f"{doc.get('apiVersion')}/{doc.get('kind')}")
        except kubernetes_validate.ValidationError as exc:
            where = ".".join(str(p) for p in exc.path) or "<root>"
            problems.append(f"document {i} ({doc.get('kind')}) at {where}: {exc.message[:200]}")
        except (kubernetes_validate.InvalidSchemaError, VersionNotSupportedError) as exc:
            problems.append(f"document {i}: {exc}")
    if problems:
        return [CheckResult(name=NAME, passed=False, detail="; ".join(problems))]
    note = f"; no schema for {', '.join(unknown)}" if unknown else ""
    return [CheckResult(name=NAME, passed=True, detail=f"{len(docs)} document(s) valid against {version}{note}")]
