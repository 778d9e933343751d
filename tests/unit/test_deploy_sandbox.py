"""Deploying the execution checks: the images carry bubblewrap, the pods that run candidates'
code may create namespaces, and the gVisor component renders."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tests.unit.test_deploy_manifests import K8S, OVERLAYS, find, one, render, rendered

DOCKER = K8S.parent.parent / "docker"


@pytest.mark.parametrize("dockerfile", ["ray.Dockerfile", "orchestrator.Dockerfile"])
def test_images_that_run_councils_install_bubblewrap(dockerfile: str) -> None:
    text = (DOCKER / dockerfile).read_text()
    runtime = text[text.index("AS runtime") :]
    assert "apt-get install" in runtime and "bubblewrap" in runtime


def sandbox_containers(docs: tuple[dict, ...] | list[dict]) -> list[dict]:
    ray = one(docs, "RayCluster", "conclave-ray")
    workers = [c for group in ray["spec"]["workerGroupSpecs"] for c in group["template"]["spec"]["containers"]]
    return [*workers, *one(docs, "Deployment", "orchestrator")["spec"]["template"]["spec"]["containers"]]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pods_that_run_candidates_code_may_create_namespaces(overlay: str) -> None:
    for container in sandbox_containers(rendered(overlay)):
        context = container["securityContext"]
        assert context["seccompProfile"]["type"] == "Unconfined", container["name"]
        assert context["allowPrivilegeEscalation"] is False and context["capabilities"]["drop"] == ["ALL"]


def test_gvisor_component_moves_them_under_gvisor(tmp_path: Path) -> None:
    shutil.copytree(K8S, tmp_path / "k8s")
    overlay = tmp_path / "k8s" / "overlays" / "dev"
    kustomization = yaml.safe_load((overlay / "kustomization.yaml").read_text())
    kustomization.setdefault("components", []).append("../../components/gvisor")
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    docs = render(overlay)
    ray = one(docs, "RayCluster", "conclave-ray")
    assert all(g["template"]["spec"]["runtimeClassName"] == "gvisor" for g in ray["spec"]["workerGroupSpecs"])
    assert one(docs, "Deployment", "orchestrator")["spec"]["template"]["spec"]["runtimeClassName"] == "gvisor"
    assert "runtimeClassName" not in one(docs, "Deployment", "context")["spec"]["template"]["spec"]
    assert find(docs, "RayCluster")
