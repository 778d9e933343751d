"""The Ray node's job forkserver (services/orchestrator/entrypoints/job_forkserver.py): job drivers
forked from one process that has imported the engine, instead of each importing it anew.

The Ray head's environment names its socket, so every job launcher on this node finds it; a
launcher that cannot reach it starts its driver cold, so the stack works while it restarts.
A cold driver read the code anew for each job; a forkserver holds the code it imported, so
`up` restarts it when the project's code has changed since.
"""

import hashlib
from pathlib import Path

import httpx

import services
from services.stack.config import StackConfig
from services.stack.servers.base import Health, Launch, Server, base_env, short_path, tool

MAX_SOCKET_PATH = 100  # sun_path holds 108 bytes on Linux


def socket_path(cfg: StackConfig) -> Path:
    stand_in = "/tmp/conclave-forkserver-{digest}.sock"
    return short_path(cfg, cfg.path("run", "forkserver.sock"), MAX_SOCKET_PATH, stand_in)


class JobForkserver(Server):
    name = "forkserver"
    ready_line = "job forkserver ready"

    def port(self, cfg: StackConfig) -> int:
        return cfg.forkserver_metrics_port

    def config_key(self, cfg: StackConfig) -> str:
        root = Path(services.__file__).parent
        stamps = sorted(f"{path.relative_to(root)}:{path.stat().st_mtime_ns}" for path in root.rglob("*.py"))
        return "code " + hashlib.sha256("\n".join(stamps).encode()).hexdigest()[:16]

    def launch(self, cfg: StackConfig, log: Path) -> Launch:
        argv = [
            tool(cfg, "python"), "-m", "services.orchestrator.entrypoints.job_forkserver",
            "--socket", str(socket_path(cfg)), "--metrics-port", str(cfg.forkserver_metrics_port),
        ]  # fmt: skip
        return Launch(argv, base_env())

    def probe(self, cfg: StackConfig) -> Health:
        try:
            reply = httpx.get(f"http://127.0.0.1:{cfg.forkserver_metrics_port}/metrics", timeout=2)
        except httpx.HTTPError as exc:
            return Health(False, detail=str(exc) or type(exc).__name__)
        if reply.status_code != 200 or "conclave_forkserver_jobs_total" not in reply.text:
            return Health(False, detail=f"/metrics {reply.status_code}: not a job forkserver")
        if not socket_path(cfg).exists():
            return Health(False, detail=f"{socket_path(cfg)} is missing")
        return Health(True, version="job forkserver")
