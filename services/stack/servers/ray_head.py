"""A Ray head with the dashboard and job submission API, token authentication on, and GCS
fault tolerance: its GCS stores the cluster's tables in the stack's ValKey, as on k8s, so a
head that dies and starts again finds its jobs, nodes and actors.

Ray 2.6x enables token auth by default for local clusters and would otherwise mint a
token into ~/.ray/auth_token; we make it explicit instead: one token per state dir,
passed to the head as RAY_AUTH_MODE=token + RAY_AUTH_TOKEN and handed to clients
through StackInfo.env() as RAY_AUTH_TOKEN.
"""

import hashlib
import secrets
import shutil
from pathlib import Path

import httpx

from services.stack.config import StackConfig
from services.stack.servers.base import Health, Launch, Server, base_env, short_path, tool
from services.stack.servers.forkserver import socket_path

# How long Ray lets a job stay PENDING; deploy/k8s/base/raycluster.yaml sets the same on its head.
JOB_START_TIMEOUT_S = "60"
# Ray puts unix sockets under its temp dir and those paths are limited to 107 bytes.
MAX_TEMP_DIR_LEN = 40


def auth_token(cfg: StackConfig) -> str:
    path = cfg.path("ray", "auth_token")
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_hex(32))
    return path.read_text().strip()


def temp_dir(cfg: StackConfig) -> Path:
    return short_path(cfg, cfg.path("ray", "tmp"), MAX_TEMP_DIR_LEN, "/tmp/conclave-ray-{digest}")


def storage_namespace(cfg: StackConfig) -> str:
    """Ray's key prefix in ValKey, one per state dir. Ray cannot use another database than 0."""
    return "conclave-" + hashlib.sha256(str(cfg.state_dir.resolve()).encode()).hexdigest()[:12]


def auth_headers(cfg: StackConfig) -> dict[str, str]:
    return {"Authorization": f"Bearer {auth_token(cfg)}"}


class RayHead(Server):
    name = "ray"
    # The job API answers before the raylet is up; `ray start --block` logs this when all is.
    ready_line = "This command will now block forever"
    slow = True
    needs = ("valkey",)

    def port(self, cfg: StackConfig) -> int:
        return cfg.ray_dashboard_port

    def launch(self, cfg: StackConfig, log: Path) -> Launch:
        tmp = temp_dir(cfg)
        tmp.mkdir(parents=True, exist_ok=True)
        argv = [
            tool(cfg, "ray"), "start", "--head", "--block",
            "--port", str(cfg.ray_gcs_port),
            "--ray-client-server-port", str(cfg.ray_client_port),
            "--dashboard-agent-listen-port", str(cfg.ray_agent_port),
            "--metrics-export-port", str(cfg.ray_metrics_port),
            "--dashboard-host", "127.0.0.1",
            "--dashboard-port", str(cfg.ray_dashboard_port),
            "--include-dashboard", "true",
            "--num-cpus", str(cfg.ray_num_cpus),
            "--object-store-memory", "200000000",
            "--temp-dir", str(tmp),
            "--disable-usage-stats",
        ]  # fmt: skip
        env = base_env(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=auth_token(cfg), RAY_TMPDIR=str(tmp))
        # Job entrypoints say `python ...` and must get the venv's interpreter with the project in it.
        env["PATH"] = f"{cfg.bin_dir}:{env.get('PATH', '/usr/bin:/bin')}"
        # A one-node dev cluster has nowhere to drain to; Ray's default would hold `down` for 30 s.
        env["RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S"] = "0"
        # The raylet aborts when its dashboard agent takes longer than this to report its ports; on
        # two busy cores that agent can take more than Ray's default, so the head never came up.
        env["RAY_agent_register_timeout_ms"] = "120000"
        env["RAY_REDIS_ADDRESS"] = f"127.0.0.1:{cfg.valkey_port}"
        env["RAY_external_storage_namespace"] = storage_namespace(cfg)
        # A PENDING job whose supervisor died with a head stays PENDING, its id held, until this
        # timeout (900 s by default, past any deliberation's deadline); then the Orchestrator
        # submits it again. A job that merely waited a minute for a CPU is submitted again too.
        env["RAY_JOB_START_TIMEOUT_SECONDS"] = JOB_START_TIMEOUT_S
        # Job launchers inherit the raylet's environment: this is how they find the forkserver.
        env["JOB_FORKSERVER_SOCKET"] = str(socket_path(cfg))
        env.pop("RAY_AUTH_TOKEN_PATH", None)
        env.pop("RAY_ADDRESS", None)  # a stale address would make `ray start` join instead of lead
        return Launch(argv, env, note=f"gcs {cfg.ray_gcs_port}, metrics {cfg.ray_metrics_port}")

    def probe(self, cfg: StackConfig) -> Health:
        base = f"http://127.0.0.1:{cfg.ray_dashboard_port}"
        try:
            with httpx.Client(base_url=base, headers=auth_headers(cfg), timeout=3) as client:
                version = client.get("/api/version")
                jobs = client.get("/api/jobs/")
        except httpx.HTTPError as exc:
            return Health(False, detail=str(exc) or type(exc).__name__)
        if version.status_code != 200:
            return Health(False, detail=f"/api/version {version.status_code}: {version.text[:200]}")
        if jobs.status_code != 200:
            return Health(False, detail=f"/api/jobs/ {jobs.status_code}: {jobs.text[:200]}")
        return Health(True, version=version.json().get("ray_version", "?"))

    def after_stop(self, cfg: StackConfig) -> None:
        tmp = temp_dir(cfg)
        if not tmp.is_relative_to(cfg.state_dir.resolve()):
            shutil.rmtree(tmp, ignore_errors=True)  # the short /tmp stand-in would pile up per state dir

    def after_down(self, cfg: StackConfig) -> None:
        # A head stopped on purpose is not coming back for its jobs: the next `up` starts a new
        # cluster rather than recovering this one's dead nodes and lost jobs.
        import redis  # here: the `conclave` CLI of an image without the client still loads

        client = redis.Redis(host="127.0.0.1", port=cfg.valkey_port, socket_timeout=2, socket_connect_timeout=2)
        try:
            for key in client.scan_iter(match=f"RAY{storage_namespace(cfg)}@*", count=500):
                client.delete(key)
        except redis.RedisError:
            pass  # ValKey is down too: it keeps nothing on disk
        finally:
            client.close()

    def start_timeout(self, cfg: StackConfig) -> float:
        return max(cfg.start_timeout, 180.0)
