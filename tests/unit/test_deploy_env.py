"""Environment variables in the manifests and the services' settings classes name the same things.

A variable set in a manifest that no settings field reads is a typo or a leftover; a settings field
that no manifest sets silently runs on its localhost default in the cluster. Both fail here.
"""

from __future__ import annotations

import re

import pytest
from pydantic import SecretStr
from pydantic_settings import BaseSettings

from services.context.settings import ContextSettings
from services.orchestrator.entrypoints.job_launch import SOCKET_ENV
from services.orchestrator.settings import OrchestratorSettings
from services.stack.servers.ray_head import JOB_START_TIMEOUT_S
from tests.unit.test_deploy_manifests import OVERLAYS, Doc, containers, fresh, image_repo, one, rendered

# The conclave command a container runs decides which settings class reads its environment.
SERVICES: dict[str, type[BaseSettings]] = {
    "context serve": ContextSettings,
    "orchestrator serve": OrchestratorSettings,
}


def names(cls: type[BaseSettings]) -> set[str]:
    prefix = str(cls.model_config.get("env_prefix") or "")
    return {(prefix + field).upper() for field in cls.model_fields}


def simulator_settings() -> type[BaseSettings] | None:
    try:
        from services.simulator.settings import SimSettings
    except ImportError:
        return None
    return SimSettings


def readers(c: Doc) -> tuple[str, set[str]]:
    """(who, the variable names allowed in this container) for Conclave's own containers."""
    repo = image_repo(c["image"])
    command = " ".join(c.get("args", [])[:2])
    if command in SERVICES:
        return command, names(SERVICES[command])
    if command == "sim serve" and (sim := simulator_settings()):
        return command, names(sim)
    if repo in ("conclave/ray", "conclave/ray-gpu"):
        # Ray job drivers build their clients from the orchestrator's settings; Ray reads its own,
        # the job forkserver and its launchers theirs (entrypoints/job_launch.py, job_forkserver.py).
        return "ray", names(OrchestratorSettings) | {
            "RAY_JOB_START_TIMEOUT_SECONDS", SOCKET_ENV, "FORKSERVER_METRICS_PORT"}
    return command or repo, set().union(*(names(cls) for cls in SERVICES.values()))


def environment(docs: list[Doc] | tuple[Doc, ...], c: Doc) -> dict[str, str]:
    """Every variable the container gets, with its value (secrets: the example value) or source."""
    data = {
        (d["kind"], d["metadata"]["name"]): d.get("data", {}) | d.get("stringData", {})
        for d in docs
        if d["kind"] in ("ConfigMap", "Secret")
    }
    env: dict[str, str] = {}
    for src in c.get("envFrom", []):
        for kind, ref in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
            if ref in src:
                prefix = src.get("prefix", "")
                env |= {prefix + k: v for k, v in data.get((kind, src[ref]["name"]), {}).items()}
    for var in c.get("env", []):
        source = var.get("valueFrom", {})
        if "value" in var:
            env[var["name"]] = var["value"]
        for kind, ref in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
            if ref in source:
                env[var["name"]] = data.get((kind, source[ref]["name"]), {}).get(source[ref]["key"], "")
    return env


def secret_backed(docs: list[Doc] | tuple[Doc, ...], c: Doc) -> set[str]:
    secrets = {
        d["metadata"]["name"]: set(d.get("stringData", {})) | set(d.get("data", {}))
        for d in docs
        if d["kind"] == "Secret"
    }
    found = {e["name"] for e in c.get("env", []) if "secretKeyRef" in e.get("valueFrom", {})}
    for src in c.get("envFrom", []):
        if "secretRef" in src:
            found |= {src.get("prefix", "") + k for k in secrets.get(src["secretRef"]["name"], set())}
    return found


def drift(docs: list[Doc] | tuple[Doc, ...]) -> list[str]:
    problems = []
    served = set()
    for owner, _, c in containers(docs):
        if not image_repo(c["image"]).startswith("conclave/"):
            continue
        who, allowed = readers(c)
        env = environment(docs, c)
        # A variable that only feeds another one's $(NAME) (a password into a URL) is read by Kubernetes.
        allowed = allowed | {n for v in env.values() for n in re.findall(r"\$\((\w+)\)", str(v))}
        problems += [
            f"{owner} ({who}): {name} is read by no settings field" for name in sorted(set(env) - allowed)
        ]
        if cls := SERVICES.get(who):
            served.add(who)
            problems += [
                f"{owner} ({who}): settings field {name} is not set" for name in sorted(names(cls) - set(env))
            ]
            secret = {n.upper() for n, f in cls.model_fields.items() if f.annotation is SecretStr}
            problems += [
                f"{owner} ({who}): {name} must come from a Secret"
                for name in sorted(secret - secret_backed(docs, c))
            ]
    problems += [f"no container runs `conclave {who}`" for who in sorted(set(SERVICES) - served)]
    every = set().union(*(names(cls) for cls in SERVICES.values()))
    for config in (
        d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("conclave-")
    ):
        problems += [
            f"ConfigMap/{config['metadata']['name']}: {key} is read by no settings field"
            for key in sorted(set(config.get("data", {})) - every)
        ]
    return problems


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_manifest_env_and_settings_agree(overlay: str) -> None:
    assert drift(rendered(overlay)) == []


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize(
    ("deployment", "cls"), [("context", ContextSettings), ("orchestrator", OrchestratorSettings)]
)
def test_manifest_values_parse_and_match_the_pod(
    overlay: str, deployment: str, cls: type[BaseSettings]
) -> None:
    docs = rendered(overlay)
    pod = one(docs, "Deployment", deployment)["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    env = environment(docs, c)
    # Validation alone, from the manifest's values only: the test runner's environment must not leak in.
    settings = cls.model_validate({k.lower(): v for k, v in env.items()}).model_dump()
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert settings["grpc_port"] == ports["grpc"]
    assert settings["metrics_port"] == ports["metrics"]
    assert settings["shutdown_grace_s"] < pod["terminationGracePeriodSeconds"]


def test_orchestrator_reaches_the_context_service_it_is_deployed_with() -> None:
    docs = rendered("gpu")
    config = one(docs, "ConfigMap", "conclave-orchestrator")["data"]
    host, port = config["CONTEXT_ADDR"].split(":")
    context = one(docs, "Service", "context")
    assert host == context["metadata"]["name"]
    assert int(port) in {p["port"] for p in context["spec"]["ports"]}


def _context_container(docs: list[Doc]) -> Doc:
    (c,) = one(docs, "Deployment", "context")["spec"]["template"]["spec"]["containers"]
    return c


def test_drift_is_caught_in_both_directions() -> None:
    docs = fresh("gpu")
    _context_container(docs)["env"].append({"name": "NATS_URLL", "value": "nats://nats:4222"})
    assert any("NATS_URLL is read by no settings field" in p for p in drift(docs))

    docs = fresh("gpu")
    del one(docs, "ConfigMap", "conclave-context")["data"]["CONTEXT_CACHE_TTL_S"]
    assert any("CONTEXT_CACHE_TTL_S is not set" in p for p in drift(docs))

    docs = fresh("gpu")
    password = next(e for e in _context_container(docs)["env"] if e["name"] == "NEO4J_PASSWORD")
    password.pop("valueFrom")
    password["value"] = "in-plain-sight"
    assert any("NEO4J_PASSWORD must come from a Secret" in p for p in drift(docs))

    docs = fresh("dev")
    one(docs, "ConfigMap", "conclave-orchestrator")["data"]["VLLM_MODLE"] = "x"
    assert any("VLLM_MODLE" in p for p in drift(docs))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_ray_head_gives_up_on_a_lost_pending_job_as_soon_as_the_local_one(overlay: str) -> None:
    # Past the deliberation deadline, a job lost with its head would fail instead of running again.
    [head] = [c for _, _, c in containers(rendered(overlay)) if c["name"] == "ray-head"]
    assert environment(rendered(overlay), head)["RAY_JOB_START_TIMEOUT_SECONDS"] == JOB_START_TIMEOUT_S
