"""The two Conclave services, started with the same environment tests get from StackInfo.env()."""

from collections.abc import Callable, Mapping
from importlib import metadata
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.stack.config import StackConfig
from services.stack.servers.base import Health, Launch, Server, base_env, tool


def project_version() -> str:
    try:
        return metadata.version("conclave")
    except metadata.PackageNotFoundError:
        return "dev"


class ConclaveService(Server):
    """`conclave <command> serve` on its gRPC and metrics ports."""

    def __init__(
        self,
        name: str,
        command: str,
        ports: Callable[[StackConfig], tuple[int, int]],
        stack_env: Callable[[StackConfig], Mapping[str, str]],
    ) -> None:
        self.name = name
        self.command = command
        self.ports = ports
        self.stack_env = stack_env

    def port(self, cfg: StackConfig) -> int:
        return self.ports(cfg)[0]

    def config_key(self, cfg: StackConfig) -> str:
        env = self.stack_env(cfg)
        names = (
            "VLLM_URL", "VLLM_MODEL", "LLM_MAX_ANSWER_TOKENS", "LLM_FIRST_TOKEN_TIMEOUT_S", "NATS_URL", "NATS_REPLICAS",
        )  # fmt: skip
        return " ".join(env.get(name, "") for name in names)

    def launch(self, cfg: StackConfig, log: Path) -> Launch:
        grpc_port, metrics_port = self.ports(cfg)
        env = base_env(**self.stack_env(cfg), GRPC_PORT=str(grpc_port), METRICS_PORT=str(metrics_port))
        return Launch([tool(cfg, "conclave"), self.command, "serve"], env, note=f"metrics {metrics_port}")

    def probe(self, cfg: StackConfig) -> Health:
        with grpc.insecure_channel(f"127.0.0.1:{self.port(cfg)}") as channel:
            try:
                reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=2)
            except grpc.RpcError as exc:
                return Health(False, detail=f"{exc.code().name}: {exc.details()}")
        status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
        return Health(status == "SERVING", version=project_version(), detail=status)
