"""The stack as a Python API: what `conclave stack` and the test fixtures call.

info = up(StackConfig())      # every server healthy, or StackError with the log tail
os.environ.update(info.env())  # NATS_URL, NEO4J_URI, ... as the services read them
down(StackConfig())
"""

import fcntl
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field

from services.stack import supervisor
from services.stack.config import StackConfig
from services.stack.servers import bubblewrap
from services.stack.servers.base import Server, StackError
from services.stack.servers.conclave_services import ConclaveService
from services.stack.servers.forkserver import JobForkserver
from services.stack.servers.llama import Llama
from services.stack.servers.nats import Nats
from services.stack.servers.neo4j import Neo4j
from services.stack.servers.ray_head import RayHead, auth_token
from services.stack.servers.simulator import Simulator
from services.stack.servers.valkey import Valkey
from services.stack.supervisor import ServerStatus

__all__ = ["ServerStatus", "StackConfig", "StackError", "StackInfo", "down", "status", "up"]

ENV_NAMES = (
    "NATS_URL", "NEO4J_URI", "NEO4J_USER", "NEO4J_PASSWORD", "VALKEY_URL", "RAY_ADDRESS", "RAY_AUTH_TOKEN",
    "VLLM_URL", "VLLM_MODEL", "CONTEXT_ADDR", "ORCHESTRATOR_ADDR",
)  # fmt: skip


def stack_env(cfg: StackConfig) -> dict[str, str]:
    """The settings' environment variables for a stack on these ports."""
    env = {
        # Every node of the cluster, so the services fail over among them.
        "NATS_URL": ",".join(f"nats://127.0.0.1:{client}" for client, _, _ in cfg.nats_node_ports()),
        # Three copies of every stream and bucket on a three-node cluster: one node may die.
        "NATS_REPLICAS": str(cfg.nats_nodes),
        "NEO4J_URI": f"bolt://127.0.0.1:{cfg.neo4j_bolt_port}",
        "NEO4J_USER": cfg.neo4j_user,
        "NEO4J_PASSWORD": cfg.neo4j_password,
        "VALKEY_URL": f"redis://127.0.0.1:{cfg.valkey_port}/0",
        "RAY_ADDRESS": f"http://127.0.0.1:{cfg.ray_dashboard_port}",
        "RAY_AUTH_TOKEN": auth_token(cfg),
        # Lets Ray's own clients (JobSubmissionClient() without headers, `ray job`) send the token.
        "RAY_AUTH_MODE": "token",
        # The services talk to the real model when the stack serves one, else to the simulator.
        "VLLM_URL": f"http://127.0.0.1:{cfg.llama_port if cfg.real_model else cfg.simulator_port}/v1",
        "VLLM_MODEL": cfg.model_name,
        "LLM_MAX_ANSWER_TOKENS": str(cfg.llm_max_answer_tokens),
        "CONTEXT_ADDR": f"127.0.0.1:{cfg.context_grpc_port}",
        "ORCHESTRATOR_ADDR": f"127.0.0.1:{cfg.orchestrator_grpc_port}",
        # Spans of every service and Ray job, for `conclave trace` (no OTLP collector runs locally).
        "CONCLAVE_TRACE_FILE": str(cfg.path("traces", "spans.jsonl")),
    }
    if cfg.real_model:
        # A CPU model queues a council's calls behind its few slots: a first token can be minutes
        # away (SmolLM2 on two busy cores missed the 30 s default), which is waiting, not failure.
        env |= {"LLM_FIRST_TOKEN_TIMEOUT_S": "600", "LLM_TOTAL_TIMEOUT_S": "1800", "DELIBERATION_DEADLINE_S": "3600"}
        if cfg.model_max_in_flight:
            env["MODEL_MAX_IN_FLIGHT"] = str(cfg.model_max_in_flight)
    return env


SERVERS: list[Server] = [Nats(1), Nats(2), Nats(3), Valkey(), Neo4j(), RayHead(), JobForkserver(), Simulator(), Llama()]
SERVICES: list[Server] = [
    ConclaveService("context", "context", lambda c: (c.context_grpc_port, c.context_metrics_port), stack_env),
    ConclaveService(
        "orchestrator",
        "orchestrator",
        lambda c: (c.orchestrator_grpc_port, c.orchestrator_metrics_port),
        stack_env,
    ),
]
NAMES = [s.name for s in SERVERS + SERVICES]


@dataclass
class StackInfo:
    """Addresses of a running stack, and per-server status when we started or checked it."""

    variables: dict[str, str]
    servers: list[ServerStatus] = field(default_factory=list)
    started: list[str] = field(default_factory=list)  # started by this call, not reused

    def env(self) -> dict[str, str]:
        return dict(self.variables)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> "StackInfo":
        """A stack somebody else runs, described by the same variables (CONCLAVE_STACK_EXTERNAL=1)."""
        missing = [name for name in ENV_NAMES if not environ.get(name)]
        if missing:
            raise StackError(f"external stack: missing environment variables {', '.join(missing)}")
        variables = {name: environ[name] for name in ENV_NAMES}
        variables["RAY_AUTH_MODE"] = environ.get("RAY_AUTH_MODE", "token")
        variables["NATS_REPLICAS"] = environ.get("NATS_REPLICAS", "1")
        return cls(variables)


def _select(servers: list[Server], only: Iterable[str] | None) -> list[Server]:
    if only is None:
        return servers
    wanted = set(only)
    unknown = wanted - set(NAMES)
    if unknown:
        raise StackError(f"unknown servers {sorted(unknown)}; known: {NAMES}")
    return [s for s in servers if s.name in wanted or s.family in wanted]


def _to_start(servers: list[Server], cfg: StackConfig, only: list[str] | None) -> list[Server]:
    chosen = _select(servers, only)
    # Named explicitly, that is; `--only nats` means the nodes this configuration runs.
    unwanted = [s.name for s in chosen if not s.wanted(cfg) and only is not None and s.name in only]
    if only is not None and unwanted:
        raise StackError(
            f"{', '.join(unwanted)}: not part of this stack's configuration (llama needs a model: "
            "--model smollm2 or --model-file PATH.gguf; nats-2 and nats-3 need --nats-nodes 3)"
        )
    return [s for s in chosen if s.wanted(cfg)]


def _ensure_all(servers: list[Server], cfg: StackConfig, done: list[ServerStatus]) -> None:
    """Start a wave concurrently (Neo4j and Ray take seconds each); report every failure."""
    if not servers:
        return
    with ThreadPoolExecutor(max_workers=len(servers)) as pool:
        futures = [pool.submit(supervisor.ensure, s, cfg) for s in servers]
    errors = []
    for future in futures:
        try:
            done.append(future.result())
        except StackError as exc:
            errors.append(str(exc))
        except Exception as exc:  # an unexpected bug in one server must not hide the others' state
            errors.append(f"{type(exc).__name__}: {exc}")
    if errors:
        raise StackError("\n\n".join(errors), started=[s.name for s in done if not s.reused])


def _waves(servers: list[Server]) -> list[list[Server]]:
    """Those that need none of the others first, then the rest (Ray's GCS stores into ValKey)."""
    names = {s.name for s in servers}
    later = [s for s in servers if names.intersection(s.needs)]
    return [[s for s in servers if s not in later], later]


@contextmanager
def exclusive(cfg: StackConfig) -> Iterator[None]:
    """One up or down at a time per state dir: two test sessions starting together would
    otherwise both spawn every server and one of each pair would lose its port."""
    run = cfg.path("run")
    run.mkdir(parents=True, exist_ok=True)
    with open(run / "stack.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def up(cfg: StackConfig | None = None, only: Iterable[str] | None = None) -> StackInfo:
    """Start what is not running (reuse what is healthy); raise StackError with log tails otherwise."""
    cfg = cfg or StackConfig()
    only = list(only) if only is not None else None
    done: list[ServerStatus] = []
    with exclusive(cfg):
        _ensure_sandbox()
        chosen = _to_start(SERVERS, cfg, only)
        for wave in _waves(chosen):
            _ensure_all(wave, cfg, done)
        if cfg.services:
            _ensure_all(_to_start(SERVICES, cfg, only), cfg, done)
    return StackInfo(stack_env(cfg), done, [s.name for s in done if not s.reused])


def _ensure_sandbox() -> None:
    # Not fatal: without bubblewrap the execution checks report "not run: no sandbox".
    try:
        bubblewrap.find_or_install()
    except StackError as exc:
        print(f"execution checks will not run: {exc}")


def status(cfg: StackConfig | None = None) -> StackInfo:
    cfg = cfg or StackConfig()
    servers = SERVERS + SERVICES
    with ThreadPoolExecutor(max_workers=len(servers)) as pool:
        reports = list(pool.map(lambda s: supervisor.report(s, cfg), servers))
    # A server this configuration does not start is listed only while it runs anyway.
    reports = [r for s, r in zip(servers, reports, strict=True) if s.wanted(cfg) or r.pid]
    return StackInfo(stack_env(cfg), reports)


def down(cfg: StackConfig | None = None, only: Iterable[str] | None = None) -> list[str]:
    """Stop every recorded server (services first); the names of those that were running."""
    cfg = cfg or StackConfig()
    services = _select(SERVICES, only)
    servers = _select(SERVERS, only)
    stopped = []
    with exclusive(cfg):
        for wave in (services, servers):
            if wave:
                with ThreadPoolExecutor(max_workers=len(wave)) as pool:
                    ran = list(pool.map(lambda s: supervisor.stop(s, cfg), wave))
                stopped += [s.name for s, r in zip(wave, ran, strict=True) if r]
        for server in servers:
            server.after_down(cfg)
    return stopped
