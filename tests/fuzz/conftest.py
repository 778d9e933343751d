"""The fuzz suite's settings and its link to the stack's own service processes.

`make test` runs CONCLAVE_FUZZ_EXAMPLES (default 10) examples per event schema and per
RPC; `make fuzz` runs 10,000. Hypothesis drives plain (sync) tests; their NATS and gRPC
clients live on an event loop of their own in a background thread.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import grpc
import pytest
from hypothesis import HealthCheck, settings
from nats.aio.client import Client as NATS

from services.gen.fleet.context.v1 import context_pb2_grpc as cpb_grpc
from services.gen.fleet.orchestrator.v1 import orchestrator_pb2_grpc as opb_grpc
from services.shared import jetstream
from services.stack.api import StackInfo
from tests.integration.hostile_support import all_serving, service_pids

T = TypeVar("T")
EXAMPLES = int(os.environ.get("CONCLAVE_FUZZ_EXAMPLES", "10"))

settings.register_profile(
    "conclave",
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=EXAMPLES <= 50,  # the short run in `make test` is the same every time
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example,
                           HealthCheck.function_scoped_fixture],
)
settings.load_profile("conclave")


class Live:
    """NATS and both services' stubs on a private loop; `run` waits for a coroutine on it."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.nc: NATS = self.run(jetstream.connect(env["NATS_URL"], "fuzz"))
        self.js = self.nc.jetstream()
        self.channels = self.run(self._channels())
        self.orchestrator = opb_grpc.OrchestratorServiceStub(self.channels[0])
        self.context = cpb_grpc.ContextServiceStub(self.channels[1])
        self.pids = service_pids()

    async def _channels(self) -> tuple[grpc.aio.Channel, grpc.aio.Channel]:
        options = [("grpc.max_receive_message_length", 16 * 1024 * 1024)]
        return (grpc.aio.insecure_channel(self.env["ORCHESTRATOR_ADDR"], options=options),
                grpc.aio.insecure_channel(self.env["CONTEXT_ADDR"], options=options))

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 120) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, method: Any, request: Any, timeout: float = 60) -> Any:
        """A unary RPC, invoked on the private loop (grpc.aio calls belong to their loop)."""

        async def invoke() -> Any:
            return await method(request, timeout=timeout)

        return self.run(invoke(), timeout + 5)

    def assert_unharmed(self) -> None:
        """Both services still SERVING, and neither restarted."""
        assert self.run(all_serving(self.env)) == {"context": "SERVING", "orchestrator": "SERVING"}
        assert service_pids() == self.pids, "a service process restarted"

    def close(self) -> None:
        async def closing() -> None:
            for channel in self.channels:
                await channel.close()
            await self.nc.close()

        self.run(closing())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture(scope="module")
def live(stack: StackInfo) -> Iterator[Live]:
    link = Live(stack.env())
    assert all(link.pids.values()), link.pids
    try:
        yield link
    finally:
        link.close()
