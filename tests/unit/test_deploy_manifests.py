"""The Kubernetes manifests render with kustomize and validate strictly and offline.

Core kinds are checked against the schemas bundled with kubernetes-validate, the RayCluster against
the KubeRay CRD kept in ../shared/schemas. Unknown fields fail, as `kubectl apply` (strict field
validation) would. The helpers here are reused by the other test_deploy_* modules.
"""

from __future__ import annotations

import copy
import functools
import re
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import SchemaNotFoundError, latest_version

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
OVERLAYS = ("dev", "gpu")
KUBERAY_CRD = REPO / "../shared/schemas/kuberay/ray.io_rayclusters.yaml"
# The oldest Kubernetes minor the manifests promise to work on, and the newest schemas bundled.
K8S_VERSIONS = ("1.29", latest_version())
PROJECT_IMAGES = (
    "conclave/context",
    "conclave/orchestrator",
    "conclave/ray",
    "conclave/ray-gpu",
    "conclave/simulator",
)
POD_KINDS = ("Deployment", "StatefulSet", "Job", "CronJob")

Doc = dict[str, Any]


def render(path: Path) -> list[Doc]:
    """`kustomize build`, or the copy of kustomize inside kubectl."""
    if kustomize := shutil.which("kustomize"):
        cmd = [kustomize, "build", str(path)]
    elif kubectl := shutil.which("kubectl"):
        cmd = [kubectl, "kustomize", str(path)]
    else:
        pytest.fail("kustomize or kubectl is needed to render deploy/k8s")
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RenderError(out.stderr)
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


class RenderError(Exception):
    pass


@functools.cache
def rendered(overlay: str) -> tuple[Doc, ...]:
    return tuple(render(K8S / "overlays" / overlay))


def fresh(overlay: str) -> list[Doc]:
    """A copy the caller may mutate."""
    return copy.deepcopy(list(rendered(overlay)))


def find(docs: list[Doc] | tuple[Doc, ...], kind: str, name: str | None = None) -> list[Doc]:
    return [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]


def one(docs: list[Doc] | tuple[Doc, ...], kind: str, name: str) -> Doc:
    found = find(docs, kind, name)
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def template_of(d: Doc) -> Doc:
    """The pod template of a workload in POD_KINDS."""
    return d["spec"]["jobTemplate"]["spec"]["template"] if d["kind"] == "CronJob" else d["spec"]["template"]


def pod_templates(docs: list[Doc] | tuple[Doc, ...]) -> Iterator[tuple[str, Doc]]:
    """(owner, pod template) for every workload, RayCluster groups included."""
    for d in docs:
        owner = f"{d['kind']}/{d['metadata']['name']}"
        if d["kind"] in POD_KINDS:
            yield owner, template_of(d)
        elif d["kind"] == "RayCluster":
            yield f"{owner}/head", d["spec"]["headGroupSpec"]["template"]
            for group in d["spec"].get("workerGroupSpecs", []):
                yield f"{owner}/{group['groupName']}", group["template"]


def containers(docs: list[Doc] | tuple[Doc, ...]) -> Iterator[tuple[str, Doc, Doc]]:
    for owner, template in pod_templates(docs):
        for c in template["spec"].get("initContainers", []) + template["spec"]["containers"]:
            yield owner, template, c


def image_repo(image: str) -> str:
    return image.split("@")[0].rsplit(":", 1)[0]


def project_version() -> str:
    return str(tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"])


def _strict(schema: Any) -> Any:
    """Reject unknown fields the way the API server does for a structural CRD schema."""
    if isinstance(schema, dict):
        schema = {k: _strict(v) for k, v in schema.items()}
        if (
            "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


@functools.cache
def raycluster_validator() -> jsonschema.Draft202012Validator:
    crd = yaml.safe_load(KUBERAY_CRD.read_text())
    (v1,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    return jsonschema.Draft202012Validator(_strict(v1["schema"]["openAPIV3Schema"]))


def schema_errors(docs: list[Doc] | tuple[Doc, ...], version: str) -> list[str]:
    """Every way the documents break their schemas; a kind with no schema is an error too."""
    errors = []
    for d in docs:
        where = f"{d.get('kind')}/{d.get('metadata', {}).get('name')}"
        if d.get("kind") == "RayCluster" and d.get("apiVersion") == "ray.io/v1":
            errors += [
                f"{where}: {'.'.join(map(str, e.path))}: {e.message}"
                for e in raycluster_validator().iter_errors(d)
            ]
            continue
        try:
            kubernetes_validate.validate(d, version, strict=True)
        except kubernetes_validate.ValidationError as e:
            errors.append(f"{where}: {'.'.join(map(str, e.path))}: {e.message}")
        except SchemaNotFoundError as e:
            errors.append(f"{where}: {e.message}")
    return errors


def reference_errors(docs: list[Doc] | tuple[Doc, ...]) -> list[str]:
    """ConfigMap/Secret keys, PVCs and Service selectors that point at nothing."""
    data = {
        (d["kind"], d["metadata"]["name"]): set(d.get("data", {})) | set(d.get("stringData", {}))
        for d in docs
        if d["kind"] in ("ConfigMap", "Secret")
    }
    pvcs = {d["metadata"]["name"] for d in find(docs, "PersistentVolumeClaim")}
    errors = []
    for owner, _, c in containers(docs):
        for src in c.get("envFrom", []):
            for kind, ref in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
                if ref in src and (kind, src[ref]["name"]) not in data:
                    errors.append(f"{owner}: envFrom {kind} {src[ref]['name']} does not exist")
        for env in c.get("env", []):
            source = env.get("valueFrom", {})
            for kind, ref in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
                if ref in source and source[ref]["key"] not in data.get((kind, source[ref]["name"]), set()):
                    errors.append(
                        f"{owner}: {env['name']} reads missing {kind} key "
                        f"{source[ref]['name']}/{source[ref]['key']}"
                    )
    for owner, template in pod_templates(docs):
        for vol in template["spec"].get("volumes", []):
            claim = vol.get("persistentVolumeClaim", {}).get("claimName")
            if claim and claim not in pvcs:
                errors.append(f"{owner}: volume {vol['name']} claims missing PVC {claim}")
    for rc in find(docs, "RayCluster"):
        secret = rc["spec"].get("authOptions", {}).get("secretName")
        if secret and "auth_token" not in data.get(("Secret", secret), set()):
            errors.append(f"RayCluster/{rc['metadata']['name']}: Secret {secret} lacks auth_token")
    for svc in find(docs, "Service"):
        selected = [
            (t, c)
            for _, t, c in containers(docs)
            if svc["spec"]["selector"].items() <= t["metadata"].get("labels", {}).items()
        ]
        if not selected:
            errors.append(f"Service/{svc['metadata']['name']} selects no pod")
        names = {p.get("name") for _, c in selected for p in c.get("ports", [])}
        for port in svc["spec"]["ports"]:
            if isinstance(port.get("targetPort"), str) and port["targetPort"] not in names:
                errors.append(f"Service/{svc['metadata']['name']}: no container port {port['targetPort']}")
    return errors


def all_errors(path: Path) -> list[str]:
    try:
        docs = render(path)
    except RenderError as e:
        return [f"render: {e}"]
    return schema_errors(docs, K8S_VERSIONS[0]) + reference_errors(docs)


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_validates_strictly(overlay: str, version: str) -> None:
    assert schema_errors(rendered(overlay), version) == []


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_references_resolve(overlay: str) -> None:
    assert reference_errors(rendered(overlay)) == []


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_raycluster_is_checked_against_the_kuberay_crd(overlay: str) -> None:
    (rc,) = find(rendered(overlay), "RayCluster")
    assert list(raycluster_validator().iter_errors(rc)) == []
    typo = copy.deepcopy(rc)
    typo["spec"]["workerGroupSpecs"][0]["maxReplica"] = 3
    assert list(raycluster_validator().iter_errors(typo)), "unknown RayCluster fields must be rejected"


BREAKAGES = [
    # (file under deploy/k8s, text, replacement): each must make the suite fail.
    ("base/context.yaml", "containerPort: 50051", "containerPrt: 50051"),
    ("base/orchestrator.yaml", "replicas: 2", "replicas: two"),
    ("base/raycluster.yaml", "maxReplicas: 4", "maxReplicas: many"),
    ("base/raycluster.yaml", 'rayVersion: "2.60.0"', "rayVersion: 2.60"),
    ("base/raycluster.yaml", "enableInTreeAutoscaling: true", "enableInTreeAutoScaling: true"),
    ("base/networkpolicies.yaml", "policyTypes:", "policyType:"),
    ("base/kustomization.yaml", "- valkey.yaml", "- valkey-missing.yaml"),
    ("base/context.yaml", "key: NEO4J_PASSWORD", "key: NEO4J_PASSWD"),
    ("overlays/gpu/raycluster-gpu-workers.yaml", "value: gpu", "value: 7"),
    ("components/nats-cluster/statefulset.yaml", "topologyKey:", "topologyKy:"),
    ("base/raycluster.yaml", "externalStorageNamespace:", "externalStorageNS:"),
    ("base/graph-backup.yaml", "claimName: graph-backups", "claimName: graph-backup"),
]


def copied(into: Path) -> Path:
    tree = into / "k8s"
    shutil.copytree(K8S, tree)
    return tree


@pytest.fixture(scope="module")
def copies_validate(tmp_path_factory: pytest.TempPathFactory) -> None:
    """An unbroken copy validates, so an error in a broken one is the breakage's (checked once:
    every copy is made the same way, and a validation costs over a second)."""
    tree = copied(tmp_path_factory.mktemp("pristine"))
    assert [e for o in OVERLAYS for e in all_errors(tree / "overlays" / o)] == []


@pytest.mark.usefixtures("copies_validate")
@pytest.mark.parametrize(("path", "old", "new"), BREAKAGES)
def test_a_broken_manifest_fails_validation(tmp_path: Path, path: str, old: str, new: str) -> None:
    target = copied(tmp_path) / path
    assert old in target.read_text(), f"{path} no longer contains {old!r}; update this test"
    target.write_text(target.read_text().replace(old, new, 1))
    overlays = [tmp_path / "k8s" / "overlays" / o for o in OVERLAYS]
    assert any(all_errors(o) for o in overlays), f"{path}: {old!r} -> {new!r} went unnoticed"


def _env(c: Doc) -> dict[str, Doc]:
    return {e["name"]: e for e in c.get("env", [])}


def _pods_of(docs: tuple[Doc, ...], name: str) -> list[tuple[str, Doc, Doc]]:
    return [
        (o, t, c)
        for o, t, c in containers(docs)
        if t["metadata"]["labels"].get("app.kubernetes.io/name") == name
    ]


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize(("service", "grpc_port"), [("context", 50051), ("orchestrator", 50052)])
def test_service_deployments_are_hardened(overlay: str, service: str, grpc_port: int) -> None:
    docs = rendered(overlay)
    deploy = one(docs, "Deployment", service)
    pod = deploy["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert deploy["spec"]["replicas"] == 2
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert c[probe]["grpc"]["port"] == grpc_port, f"{probe} must be a native gRPC probe"
    # Readiness follows loops and dependencies (""), liveness only the process (services/shared/grpcserver.py).
    assert c["readinessProbe"]["grpc"].get("service", "") == ""
    assert c["livenessProbe"]["grpc"]["service"] == c["startupProbe"]["grpc"]["service"] == "liveness"
    assert {"name": "grpc", "containerPort": grpc_port} in c["ports"]
    for bound in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(c["resources"][bound])
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    tmp = [m for m in c["volumeMounts"] if m["mountPath"] == "/tmp"]
    assert tmp and "emptyDir" in next(v for v in pod["volumes"] if v["name"] == tmp[0]["name"])
    (pdb,) = [
        p
        for p in find(docs, "PodDisruptionBudget")
        if p["spec"]["selector"]["matchLabels"].items()
        <= deploy["spec"]["template"]["metadata"]["labels"].items()
    ]
    assert pdb["spec"]["minAvailable"] == 1


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_is_bounded_and_non_root(overlay: str) -> None:
    for owner, template, c in containers(rendered(overlay)):
        for bound in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(c.get("resources", {}).get(bound, {})), f"{owner}: {bound}"
        pod_ctx = template["spec"].get("securityContext", {})
        assert pod_ctx.get("runAsNonRoot") or c.get("securityContext", {}).get("runAsNonRoot"), owner
        assert c["securityContext"]["allowPrivilegeEscalation"] is False, owner
        assert c["securityContext"]["capabilities"]["drop"] == ["ALL"], owner


def test_vllm_runs_on_a_gpu_in_the_gpu_overlay_only() -> None:
    docs = rendered("gpu")
    pod = one(docs, "Deployment", "vllm")["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert c["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert c["image"].startswith("vllm/vllm-openai:v")
    assert c["readinessProbe"]["httpGet"]["path"] == "/v1/models"
    startup = c["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 15 * 60, "model loads are slow"
    token = _env(c)["HUGGING_FACE_HUB_TOKEN"]["valueFrom"]["secretKeyRef"]
    assert token["key"] == "HUGGING_FACE_HUB_TOKEN"
    claims = [v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"] if "persistentVolumeClaim" in v]
    assert claims == ["vllm-model-cache"]
    served = _env(c)["VLLM_MODEL"]["valueFrom"]["configMapKeyRef"]
    assert (served["name"], served["key"]) == ("conclave-orchestrator", "VLLM_MODEL")
    config = one(docs, "ConfigMap", "conclave-orchestrator")["data"]
    assert config["VLLM_URL"] == "http://vllm:8000/v1"
    assert config["RAY_JOB_NUM_GPUS"] == "1"
    assert not find(docs, "Deployment", "simulator")


def test_dev_overlay_uses_the_simulator_and_no_gpu() -> None:
    docs = rendered("dev")
    assert not find(docs, "Deployment", "vllm")
    assert "nvidia.com/gpu" not in yaml.safe_dump_all(list(docs))
    config = one(docs, "ConfigMap", "conclave-orchestrator")["data"]
    assert config["VLLM_URL"] == "http://simulator:8000/v1"
    (sim,) = one(docs, "Deployment", "simulator")["spec"]["template"]["spec"]["containers"]
    assert _env(sim)["SIM_MODEL"]["value"] == config["VLLM_MODEL"]
    assert sim["readinessProbe"]["httpGet"]["path"] == "/v1/models"


@pytest.mark.parametrize(("overlay", "gpus"), [("dev", False), ("gpu", True)])
def test_raycluster_autoscales_the_worker_group(overlay: str, gpus: bool) -> None:
    docs = rendered(overlay)
    (rc,) = find(docs, "RayCluster")
    spec = rc["spec"]
    assert spec["enableInTreeAutoscaling"] is True
    assert spec["rayVersion"] == "2.60.0"
    for group in spec["workerGroupSpecs"]:
        assert 0 <= group["minReplicas"] <= group["replicas"] <= group["maxReplicas"]
        assert group["maxReplicas"] > group["minReplicas"], "autoscaling needs room to grow"
        (c,) = group["template"]["spec"]["containers"]
        assert ("nvidia.com/gpu" in c["resources"]["limits"]) is gpus
        assert image_repo(c["image"]) == ("conclave/ray-gpu" if gpus else "conclave/ray")
    # The job API URL the orchestrator uses is the head Service KubeRay creates.
    address = one(docs, "ConfigMap", "conclave-orchestrator")["data"]["RAY_ADDRESS"]
    assert address == f"http://{rc['metadata']['name']}-head-svc:8265"
    (head,) = spec["headGroupSpec"]["template"]["spec"]["containers"]
    assert {"name": "dashboard", "containerPort": 8265} in head["ports"]
    assert spec["authOptions"] == {"mode": "token", "secretName": "conclave-ray-auth"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_images_are_pinned_and_project_images_share_the_project_version(overlay: str) -> None:
    version = project_version()
    for owner, _, c in containers(rendered(overlay)):
        image = c["image"]
        if image_repo(image) in PROJECT_IMAGES:
            assert image == f"{image_repo(image)}:{version}", f"{owner}: {image} is not at {version}"
        else:
            assert re.search(r":[^:@/]*\d[^:@/]*@sha256:[0-9a-f]{64}$", image), f"{owner}: {image} not pinned"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_secrets_hold_example_values_only(overlay: str) -> None:
    for secret in find(rendered(overlay), "Secret"):
        assert secret["metadata"]["annotations"]["conclave.dev/example-values"] == "true"
        assert "data" not in secret, "examples are readable stringData, never base64 that looks real"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_nats_keeps_jetstream_on_a_volume_and_streams_job_exists(overlay: str) -> None:
    docs = rendered(overlay)
    nats = one(docs, "StatefulSet", "nats")
    (c,) = nats["spec"]["template"]["spec"]["containers"]
    assert c["args"] == ["--config=/etc/nats/nats.conf"]
    assert {"name": "data", "mountPath": "/data"} in c["volumeMounts"]
    conf = one(docs, "ConfigMap", "nats-config")["data"]["nats.conf"]
    assert re.search(r"jetstream\s*\{[^}]*store_dir:\s*/data", conf), conf
    # Durability on purpose: an explicit fsync policy, not the server's 2-minute default.
    assert re.search(r'sync_interval:\s*"?(always|\d+(ms|s))"?', conf), conf
    assert [t["metadata"]["name"] for t in nats["spec"]["volumeClaimTemplates"]] == ["data"]
    (job,) = one(docs, "Job", "conclave-streams")["spec"]["template"]["spec"]["containers"]
    assert job["args"] == ["streams", "ensure"]


# --- NetworkPolicy: a small evaluator of the rendered policies -------------------------------------

KUBERAY_LABELS = {"head": {"ray.io/node-type": "head"}, "worker": {"ray.io/node-type": "worker"}}


def pods(docs: tuple[Doc, ...]) -> dict[str, tuple[dict[str, str], dict[str | int, int]]]:
    """name -> (labels, ports by name and number), with the labels KubeRay adds to Ray pods."""
    out = {}
    templates: dict[str, tuple[Doc, dict[str, str]]]
    for d in docs:
        if d["kind"] in POD_KINDS:
            templates = {d["metadata"]["name"]: (template_of(d), {})}
        elif d["kind"] == "RayCluster":
            extra = {"ray.io/cluster": d["metadata"]["name"]}
            templates = {"ray-head": (d["spec"]["headGroupSpec"]["template"], extra | KUBERAY_LABELS["head"])}
            templates |= {
                f"ray-{g['groupName']}": (g["template"], extra | KUBERAY_LABELS["worker"])
                for g in d["spec"]["workerGroupSpecs"]
            }
        else:
            continue
        for name, (template, extra) in templates.items():
            ports: dict[str | int, int] = {}
            for c in template["spec"]["containers"]:
                for p in c.get("ports", []):
                    ports[p["containerPort"]] = p["containerPort"]
                    if "name" in p:
                        ports[p["name"]] = p["containerPort"]
            out[name] = (template["metadata"].get("labels", {}) | extra, ports)
    return out


def _selects(selector: Doc, labels: dict[str, str]) -> bool:
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    for expr in selector.get("matchExpressions", []):
        present = expr["key"] in labels
        if expr["operator"] == "In" and not (present and labels[expr["key"]] in expr["values"]):
            return False
        if expr["operator"] == "Exists" and not present:
            return False
    return True


def _peer_matches(peer: Doc, labels: dict[str, str]) -> bool:
    if "ipBlock" in peer:
        return peer["ipBlock"]["cidr"] == "0.0.0.0/0"  # pod IPs fall inside "anywhere"
    if "namespaceSelector" in peer:
        return False  # every pod here is in the one namespace, which no policy selects by label
    return _selects(peer["podSelector"], labels)


def _rule_allows(
    rule: Doc, side: str, peer: dict[str, str], port: int, dst_ports: dict[str | int, int]
) -> bool:
    peers = rule.get(side)
    if peers is not None and not any(_peer_matches(p, peer) for p in peers):
        return False
    wanted = rule.get("ports")
    return wanted is None or any(dst_ports.get(p["port"], p["port"]) == port for p in wanted)


def allowed(docs: tuple[Doc, ...], src: str, dst: str, port: int) -> bool:
    everyone = pods(docs)
    (src_labels, _), (dst_labels, dst_ports) = everyone[src], everyone[dst]
    policies = [p["spec"] for p in find(docs, "NetworkPolicy")]

    def direction(kind: str, subject: dict[str, str], peer: dict[str, str], side: str) -> bool:
        governing = [p for p in policies if kind in p["policyTypes"] and _selects(p["podSelector"], subject)]
        if not governing:
            return True
        return any(
            _rule_allows(r, side, peer, port, dst_ports) for p in governing for r in p.get(kind.lower(), [])
        )

    return direction("Egress", src_labels, dst_labels, "to") and direction(
        "Ingress", dst_labels, src_labels, "from"
    )


MODEL_SERVER = {"dev": "simulator", "gpu": "vllm"}
FLOWS = [
    ("context", "nats", 4222),
    ("orchestrator", "nats", 4222),
    ("conclave-streams", "nats", 4222),
    ("ray-worker", "nats", 4222),
    ("context", "neo4j", 7687),
    ("context", "valkey", 6379),
    ("orchestrator", "ray-head", 8265),
    ("orchestrator", "ray-head", 6379),
    ("ray-worker", "model", 8000),
    ("orchestrator", "model", 8000),
    ("ray-worker", "context", 50051),
    ("orchestrator", "context", 50051),
    ("ray-worker", "ray-head", 6379),
    ("ray-head", "ray-worker", 10002),
    ("nats", "nats", 6222),
    ("ray-head", "valkey", 6379),
    ("graph-backup", "neo4j", 7687),
]
DENIED = [
    ("orchestrator", "neo4j", 7687),
    ("orchestrator", "valkey", 6379),
    ("ray-worker", "neo4j", 7687),
    ("ray-worker", "valkey", 6379),
    ("model", "nats", 4222),
    ("conclave-streams", "neo4j", 7687),
    ("context", "ray-head", 8265),
    ("context", "model", 8000),
    ("neo4j", "nats", 4222),
    ("valkey", "context", 50051),
    ("ray-worker", "orchestrator", 9102),
    ("model", "context", 50051),
    ("context", "nats", 6222),
    ("ray-worker", "nats", 6222),
    ("graph-backup", "nats", 4222),
    ("graph-backup", "valkey", 6379),
    ("ray-head", "neo4j", 7687),
]


def _name(overlay: str, pod: str) -> str:
    return {"model": MODEL_SERVER[overlay], "ray-worker": f"ray-{'gpu' if overlay == 'gpu' else 'cpu'}"}.get(
        pod, pod
    )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policies_allow_exactly_the_flow(overlay: str) -> None:
    docs = rendered(overlay)
    assert any(
        p["spec"]["podSelector"] == {} and p["spec"].get("ingress") == [] and p["spec"].get("egress") == []
        for p in find(docs, "NetworkPolicy")
    ), "a default-deny policy must exist"
    blocked = [f for f in FLOWS if not allowed(docs, _name(overlay, f[0]), _name(overlay, f[1]), f[2])]
    leaked = [f for f in DENIED if allowed(docs, _name(overlay, f[0]), _name(overlay, f[1]), f[2])]
    assert (blocked, leaked) == ([], [])


def test_network_policy_evaluator_notices_a_missing_rule() -> None:
    docs = tuple(d for d in fresh("gpu") if d["metadata"]["name"] != "neo4j-ingress")
    assert not allowed(docs, "context", "neo4j", 7687)


def test_servicemonitor_component_renders_and_selects_the_metrics_ports(tmp_path: Path) -> None:
    # The way the README tells users to enable it: add the component to their overlay.
    shutil.copytree(K8S, tmp_path / "k8s")
    overlay = tmp_path / "k8s" / "overlays" / "gpu"
    kustomization = yaml.safe_load((overlay / "kustomization.yaml").read_text())
    kustomization["components"].append("../../components/servicemonitor")
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    docs = render(overlay)
    (monitor,) = find(docs, "ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["namespace"] == "conclave"
    selected = [
        s
        for s in find(docs, "Service")
        if _selects(monitor["spec"]["selector"], s["metadata"].get("labels", {}))
    ]
    assert sorted(s["metadata"]["name"] for s in selected) == ["context", "orchestrator"]
    for endpoint in monitor["spec"]["endpoints"]:
        assert all(endpoint["port"] in {p["name"] for p in s["spec"]["ports"]} for s in selected)
    assert schema_errors([d for d in docs if d["kind"] != "ServiceMonitor"], K8S_VERSIONS[0]) == []
    scrape = one(docs, "NetworkPolicy", "metrics-ingress")["spec"]["ingress"][0]
    assert scrape["from"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "monitoring"
    }
