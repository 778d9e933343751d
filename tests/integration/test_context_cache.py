"""The ValKey cache: hits, single flight, never stale, and life without ValKey.

The outage test runs a valkey-server of its own on a free port and kills it by
PID; the stack's shared ValKey is never touched.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Iterator
from typing import Any

import pytest

from services.context import queries
from services.context.domain.assembly import AssembledContext
from services.context.domain.model import StoryContext
from services.context.singleflight import StoryFlights
from services.gen.fleet.context.v1 import context_pb2 as pb
from services.stack.api import StackInfo
from services.stack.config import free_port
from tests.integration.context_support import LiveContext, start_live
from tests.waiting import until, until_sync


@pytest.fixture
def own_valkey() -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    binary = shutil.which("valkey-server") or shutil.which("redis-server")
    assert binary, "valkey-server (or redis-server) must be installed"
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="ctx-valkey-")
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            workdir,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    def listening() -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    until_sync(listening, 10, f"the private valkey-server on port {port}")
    yield proc, port
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
async def live_own_cache(
    stack: StackInfo, own_valkey: tuple[subprocess.Popen[bytes], int]
) -> AsyncIterator[tuple[LiveContext, subprocess.Popen[bytes]]]:
    proc, port = own_valkey
    ctx = await start_live(stack.env(), consumers=False, valkey_url=f"redis://127.0.0.1:{port}/0")
    yield ctx, proc
    await ctx.close()


async def new_story(live: LiveContext) -> str:
    story_id = f"cache-{uuid.uuid4().hex[:10]}"
    await live.stub.CreateStory(pb.CreateStoryRequest(story_id=story_id, title="Cache me"))
    await live.stub.CreateTask(
        pb.CreateTaskRequest(story_id=story_id, task_id=f"{story_id}-t", role=pb.DEV, title="Do it")
    )
    return story_id


def request(story_id: str) -> pb.GetContextRequest:
    return pb.GetContextRequest(story_id=story_id, role=pb.DEV, phase=pb.BUILD, token_budget=3000)


async def test_valkey_down_mid_test_reads_fall_back_to_neo4j(
    live_own_cache: tuple[LiveContext, subprocess.Popen[bytes]], caplog: pytest.LogCaptureFixture
) -> None:
    live, proc = live_own_cache
    story_id = await new_story(live)
    first = await live.stub.GetContext(request(story_id))
    assert not first.from_cache and (await live.stub.GetContext(request(story_id))).from_cache

    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    started = time.perf_counter()
    during = await live.stub.GetContext(request(story_id))
    assert not during.from_cache and during.version == first.version
    assert time.perf_counter() - started < 2.0, "a dead cache must fail fast"
    assert any("valkey unavailable" in r.getMessage() for r in caplog.records)

    # Writes still succeed and the next read reflects them, straight from Neo4j.
    await live.stub.UpdateContext(
        pb.UpdateContextRequest(story_id=story_id, summary="written while valkey was down")
    )
    after = await live.stub.GetContext(request(story_id))
    assert "written while valkey was down" in after.blocks[1].content


async def test_invalidation_deferred_while_down_is_flushed_before_cache_is_trusted(
    live_own_cache: tuple[LiveContext, subprocess.Popen[bytes]],
) -> None:
    live, proc = live_own_cache
    cache = live.app.cache
    story_id = await new_story(live)
    await live.stub.GetContext(request(story_id))  # the entry now sits in ValKey
    os.kill(proc.pid, signal.SIGSTOP)  # ValKey hangs: the invalidation cannot land
    try:
        await live.stub.UpdateContext(
            pb.UpdateContextRequest(story_id=story_id, summary="changed while hung")
        )
        assert story_id in cache._pending
    finally:
        os.kill(proc.pid, signal.SIGCONT)
    # The next read after the cache's back-off must flush the pending invalidation first.
    await until(cache.available, cache.retry_after_s + 5, "the cache's back-off to end")
    reply = await live.stub.GetContext(request(story_id))
    assert "changed while hung" in reply.blocks[1].content and not reply.from_cache
    assert not cache._pending
    assert (await live.stub.GetContext(request(story_id))).from_cache


async def test_concurrent_misses_compute_once(stack: StackInfo) -> None:
    live = await start_live(stack.env(), consumers=False)
    try:
        story_id = await new_story(live)
        graph = live.app.deps.graph
        calls = 0
        real_load = graph.load_context
        arrived = _Arrivals()
        live.app.deps.flights = arrived

        async def counted(story: str) -> StoryContext | None:
            nonlocal calls
            calls += 1
            # Keep the flight open until every reader has asked for the same context.
            await until(lambda: arrived.count == 20, 10, "all 20 readers to ask")
            return await real_load(story)

        live.app.deps.graph = _Counting(graph, counted)
        results = await asyncio.gather(
            *(
                queries.get_context(live.app.deps, story_id, "DEV", "BUILD", token_budget=1234)
                for _ in range(20)
            )
        )
        assert calls == 1
        assert len({r.assembled.version for r in results}) == 1
        live.app.deps.graph = graph
    finally:
        await live.close()


class _Arrivals(StoryFlights[AssembledContext]):
    """Single flight as the service runs it, counting the readers that reached it."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    async def run(self, story_id: str, key: Hashable, compute: Callable[[], Awaitable[AssembledContext]]) -> Any:
        self.count += 1
        return await super().run(story_id, key, compute)


class _Counting:
    """The real graph, with load_context routed through a counter."""

    def __init__(self, graph: Any, load: Any) -> None:
        self._graph = graph
        self.load_context = load

    def __getattr__(self, name: str) -> Any:
        return getattr(self._graph, name)
