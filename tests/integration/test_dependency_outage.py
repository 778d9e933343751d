"""Health that tells the truth: NATS, then Neo4j, stopped under a running Context service.

The service runs in the spare stack (free ports, shared with other tests that stop or wipe
its servers), so stopping its dependencies touches no other test. Readiness goes NOT_SERVING
while a dependency is down and SERVING again once it is back; liveness stays SERVING and the
process is the same throughout."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from services.stack import api
from services.stack.api import StackConfig
from tests.integration.hostile_support import health
from tests.waiting import until

OWN = ["nats", "valkey", "neo4j", "context"]


@pytest.fixture
def own_stack(spare_stack: StackConfig) -> Iterator[StackConfig]:
    try:
        api.up(spare_stack, only=OWN)
        yield spare_stack
    finally:
        api.down(spare_stack, ["context"])


def context_pid(cfg: StackConfig) -> int | None:
    [context] = [s for s in api.status(cfg).servers if s.name == "context"]
    return context.pid


async def test_readiness_follows_nats_then_neo4j_down_and_back(own_stack: StackConfig) -> None:
    addr = f"127.0.0.1:{own_stack.context_grpc_port}"
    pid = await asyncio.to_thread(context_pid, own_stack)
    assert pid and await health(addr) == "SERVING"
    for dependency in ("nats", "neo4j"):
        assert await asyncio.to_thread(api.down, own_stack, [dependency]) == [dependency]
        await until(lambda: _is(addr, "NOT_SERVING"), 60, f"readiness to drop with {dependency} down", 0.5)
        assert await health(addr, "liveness") == "SERVING", "a missing dependency is not a dead process"

        await asyncio.to_thread(api.up, own_stack, [dependency])
        await until(lambda: _is(addr, "SERVING"), 120, f"readiness to come back with {dependency}", 0.5)
        assert await asyncio.to_thread(context_pid, own_stack) == pid, "the service recovered without a restart"


async def _is(addr: str, status: str) -> bool:
    return await health(addr) == status
