"""What lets the deployment lose a node and lose nothing, checked offline in the rendered manifests.

NATS: three servers in one cluster (gpu overlay), one per node, a PDB that keeps the quorum, routes to
every server, and NATS_REPLICAS=3 in every process that creates streams or buckets; dev stays one
server. Ray: GCS fault tolerance in ValKey under its own ACL user. Neo4j: a nightly export to a PVC
and a restore Job that validates against the same cluster objects.
"""

from __future__ import annotations

import re
import shlex
import subprocess

import pytest
import yaml

from services.stack.config import StackConfig
from services.stack.servers.base import tool
from tests.unit.test_deploy_env import environment
from tests.unit.test_deploy_manifests import (
    K8S,
    K8S_VERSIONS,
    OVERLAYS,
    Doc,
    containers,
    find,
    one,
    rendered,
    schema_errors,
    template_of,
)

CLUSTERED = {"dev": False, "gpu": True}


def nats_conf(docs: tuple[Doc, ...]) -> str:
    return str(one(docs, "ConfigMap", "nats-config")["data"]["nats.conf"])


def routes(conf: str) -> list[str]:
    block = re.search(r"routes:\s*\[([^\]]*)\]", conf)
    return block.group(1).split() if block else []


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_nats_is_a_three_server_cluster_where_the_overlay_says_so(overlay: str) -> None:
    docs = rendered(overlay)
    sts = one(docs, "StatefulSet", "nats")
    conf = nats_conf(docs)
    pdbs = [p for p in find(docs, "PodDisruptionBudget") if p["metadata"]["name"] == "nats"]
    if not CLUSTERED[overlay]:
        assert sts["spec"]["replicas"] == 1
        assert "cluster" not in conf and pdbs == [], "one server must not wait for peers or block drains"
        return
    replicas = sts["spec"]["replicas"]
    assert replicas == 3
    assert sts["spec"]["podManagementPolicy"] == "Parallel"
    headless = one(docs, "Service", sts["spec"]["serviceName"])
    assert headless["spec"]["clusterIP"] == "None" and headless["spec"]["publishNotReadyAddresses"] is True
    assert {"name": "cluster", "port": 6222, "targetPort": "cluster"} in headless["spec"]["ports"]
    # Routes name every pod of the StatefulSet by its stable DNS name, and nothing else.
    assert sorted(routes(conf)) == [f"nats://nats-{i}.{sts['spec']['serviceName']}:6222" for i in range(replicas)]
    assert re.search(r"cluster\s*\{[^}]*listen:\s*0\.0\.0\.0:6222", conf)
    assert re.search(r"cluster\s*\{[^}]*name:\s*\w+", conf)
    # Each server is named after its pod (the JetStream peer name must differ per server).
    assert re.search(r"^server_name:\s*\$POD_NAME$", conf, re.M)
    (c,) = sts["spec"]["template"]["spec"]["containers"]
    pod_name = next(e for e in c["env"] if e["name"] == "POD_NAME")
    assert pod_name["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    affinity = sts["spec"]["template"]["spec"]["affinity"]
    anti = affinity["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert [(a["topologyKey"], a["labelSelector"]["matchLabels"]) for a in anti] == [
        ("kubernetes.io/hostname", sts["spec"]["selector"]["matchLabels"])
    ]
    (pdb,) = pdbs
    assert pdb["spec"]["minAvailable"] == 2 and pdb["spec"]["selector"] == sts["spec"]["selector"]
    assert re.search(r'sync_interval:\s*"?always"?', conf), "R3 keeps fsync-before-ack (see the component)"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_stream_creator_gets_the_replica_count_and_every_server(overlay: str) -> None:
    docs = rendered(overlay)
    replicas = one(docs, "StatefulSet", "nats")["spec"]["replicas"]
    # The services, the streams Job and the Ray nodes (job drivers create buckets too).
    creators = {
        owner: environment(docs, c)
        for owner, _, c in containers(docs)
        if owner.split("/")[1] in ("context", "orchestrator", "conclave-streams", "conclave-ray")
    }
    assert {o.split("/")[1] for o in creators} == {"context", "orchestrator", "conclave-streams", "conclave-ray"}
    for owner, env in creators.items():
        assert env.get("NATS_REPLICAS") == str(replicas), owner
        servers = env["NATS_URL"].split(",")
        if replicas == 1:
            assert servers == ["nats://nats:4222"], owner
        else:
            assert servers == [f"nats://nats-{i}.nats-headless:4222" for i in range(replicas)], owner


def test_the_rendered_nats_config_is_one_nats_server_accepts() -> None:
    """nats-server -t parses both configurations: the single server and a member of the cluster."""
    binary = tool(StackConfig(), "nats-server")
    for overlay in OVERLAYS:
        conf = nats_conf(rendered(overlay))
        out = subprocess.run(
            [binary, "-t", "-c", "/dev/stdin"], input=conf, capture_output=True, text=True,
            env={"POD_NAME": "nats-1"}, timeout=30, check=False,
        )  # fmt: skip
        assert out.returncode == 0, f"{overlay}: {out.stdout}{out.stderr}"
    broken = nats_conf(rendered("gpu")).replace("listen: 0.0.0.0:6222", "listen: 0.0.0.0:6222 }")
    out = subprocess.run([binary, "-t", "-c", "/dev/stdin"], input=broken, capture_output=True, text=True,
                         env={"POD_NAME": "nats-1"}, timeout=30, check=False)  # fmt: skip
    assert out.returncode != 0, "a broken config must fail the check"


def valkey_acl(docs: tuple[Doc, ...]) -> dict[str, list[str]]:
    """ACL user -> its rules, from the script the ValKey container starts with."""
    (c,) = one(docs, "StatefulSet", "valkey")["spec"]["template"]["spec"]["containers"]
    script = c["args"][0]
    lines = [w for w in shlex.split(script.split("> /run/valkey/users.acl")[0]) if w.startswith("user ")]
    return {line.split()[1]: line.split()[2:] for line in lines}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_valkey_gives_the_cache_and_ray_their_own_users_and_keys(overlay: str) -> None:
    docs = rendered(overlay)
    acl = valkey_acl(docs)
    assert acl["default"] == ["off"], "no unauthenticated access"
    assert "~ctx:*" in acl["context"] and "~*" not in acl["context"]
    (rc,) = find(docs, "RayCluster")
    ft = rc["spec"]["gcsFaultToleranceOptions"]
    assert f"~RAY{ft['externalStorageNamespace']}@*" in acl["ray"] and "~*" not in acl["ray"]
    assert "-@dangerous" in acl["ray"] and "+info" in acl["ray"]
    (valkey,) = one(docs, "StatefulSet", "valkey")["spec"]["template"]["spec"]["containers"]
    assert "--maxmemory-policy volatile-lru" in " ".join(valkey["args"]), "Ray's keys have no TTL: never evict them"
    secrets = {(d["metadata"]["name"]): d["stringData"] for d in find(docs, "Secret")}
    env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in valkey["env"]}
    # The passwords the server sets are the ones the clients send.
    ray_ref = ft["redisPassword"]["valueFrom"]["secretKeyRef"]
    assert (ray_ref["name"], ray_ref["key"]) == (env["RAY_PASSWORD"]["name"], env["RAY_PASSWORD"]["key"])
    assert ray_ref["key"] in secrets[ray_ref["name"]]
    assert ft["redisUsername"]["value"] == "ray"
    context = next(c for o, _, c in containers(docs) if o == "Deployment/context")
    url = environment(docs, context)["VALKEY_URL"]
    assert url.startswith("redis://context:$(VALKEY_PASSWORD)@valkey:6379/")
    password = next(e for e in context["env"] if e["name"] == "VALKEY_PASSWORD")["valueFrom"]["secretKeyRef"]
    assert password == env["CONTEXT_PASSWORD"]
    assert re.fullmatch(r"[A-Za-z0-9]+", secrets[password["name"]][password["key"]]), "URL-safe example"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_ray_head_keeps_its_state_in_valkey(overlay: str) -> None:
    docs = rendered(overlay)
    (rc,) = find(docs, "RayCluster")
    ft = rc["spec"]["gcsFaultToleranceOptions"]
    host, port = ft["redisAddress"].split(":")
    service = one(docs, "Service", host)
    assert int(port) in [p["port"] for p in service["spec"]["ports"]]
    assert service["spec"]["selector"] == {"app.kubernetes.io/name": "valkey"}
    # The field, not the annotation of KubeRay before 1.3 (both at once are rejected).
    assert "ray.io/ft-enabled" not in rc["metadata"].get("annotations", {})
    assert "redis-password" not in rc["spec"]["headGroupSpec"]["rayStartParams"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_graph_is_exported_every_night_to_its_own_volume(overlay: str) -> None:
    docs = rendered(overlay)
    cron = one(docs, "CronJob", "graph-backup")
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    assert len(cron["spec"]["schedule"].split()) == 5
    pod = template_of(cron)["spec"]
    (c,) = pod["containers"]
    assert c["args"][:3] == ["graph", "export", "/backups"] and "--keep" in c["args"]
    mount = next(m for m in c["volumeMounts"] if m["mountPath"] == "/backups")
    claim = next(v for v in pod["volumes"] if v["name"] == mount["name"])["persistentVolumeClaim"]["claimName"]
    assert one(docs, "PersistentVolumeClaim", claim)
    env = environment(docs, c)
    assert {"NEO4J_URI", "NEO4J_USER", "NEO4J_PASSWORD"} <= set(env)


def test_the_restore_job_validates_and_points_at_the_backups() -> None:
    (job,) = [d for d in yaml.safe_load_all((K8S / "jobs" / "graph-restore.yaml").read_text()) if d]
    assert schema_errors([job], K8S_VERSIONS[0]) == []
    docs = rendered("gpu")
    pod = job["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert c["args"] == ["graph", "import", "/backups/$(BACKUP_FILE)"]
    claims = {v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"] if "persistentVolumeClaim" in v}
    assert claims == {"graph-backups"} and one(docs, "PersistentVolumeClaim", "graph-backups")
    env = environment(docs, c)
    assert env["NEO4J_URI"] and env["NEO4J_PASSWORD"], "the config and secret it reads exist in the deployment"
    # Same label as the backup, so the NetworkPolicies let it reach Neo4j; same image as the deployment.
    cron_pod = template_of(one(docs, "CronJob", "graph-backup"))
    assert job["spec"]["template"]["metadata"]["labels"] == cron_pod["metadata"]["labels"]
    assert c["image"] == cron_pod["spec"]["containers"][0]["image"]
