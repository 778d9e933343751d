"""Both services stop cleanly and within a bound on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.stack.api import StackInfo
from services.stack.config import free_port

CONCLAVE = Path(sys.executable).parent / "conclave"


@pytest.mark.parametrize("service", ["context", "orchestrator"])
async def test_sigterm_drains_and_exits_within_the_grace_period(stack: StackInfo, service: str, tmp_path: Path) -> None:
    port, metrics = free_port(), free_port()
    env = os.environ | stack.env() | {
        "GRPC_PORT": str(port), "METRICS_PORT": str(metrics), "SHUTDOWN_GRACE_S": "5", "DEFAULT_COUNCILS": "false",
    }
    log = tmp_path / f"{service}.log"
    with log.open("wb") as out:
        argv = [str(CONCLAVE), service, "serve"]
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)  # noqa: ASYNC220 - returns at once
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            deadline = time.monotonic() + 60
            while True:
                assert proc.poll() is None, log.read_text()
                try:
                    reply = await health.Check(health_pb2.HealthCheckRequest(), timeout=1)
                    if reply.status == health_pb2.HealthCheckResponse.SERVING:
                        break
                except grpc.aio.AioRpcError:
                    pass
                assert time.monotonic() < deadline, log.read_text()
                await asyncio.sleep(0.2)
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(proc.wait, 20)
        assert code == 0, log.read_text()
        assert time.monotonic() - started < 15
        text = log.read_text()
        assert '"shutting down"' in text and '"stopped"' in text
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
