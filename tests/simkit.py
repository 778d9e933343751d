"""The model simulator in-process on a free port, for tests that need one of their own
(so fault injection never disturbs the shared stack's simulator)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from services.simulator.app import create_app
from services.simulator.settings import SimSettings
from tests.waiting import until


class Sim:
    def __init__(self, port: int, http: aiohttp.ClientSession) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}/v1"
        self.http = http

    async def knobs(self, **knobs: Any) -> None:
        async with self.http.post(f"http://127.0.0.1:{self.port}/admin/faults", json=knobs) as resp:
            assert resp.status == 200, await resp.text()

    async def stats(self) -> dict[str, Any]:
        async with self.http.get(f"http://127.0.0.1:{self.port}/admin/stats") as resp:
            return dict(await resp.json())

    async def reset(self) -> None:
        async with self.http.post(f"http://127.0.0.1:{self.port}/admin/stats/reset") as resp:
            assert resp.status == 200

    async def until(self, pred: Any, within_s: float = 5.0) -> dict[str, Any]:
        """The simulator's stats once `pred` holds for them."""

        async def holds() -> dict[str, Any] | None:
            stats = await self.stats()
            return stats if pred(stats) else None

        return await until(holds, within_s, "the simulator's stats to satisfy the test")

    def open_connections(self) -> int:
        """Server-side ESTABLISHED TCP connections on the simulator's port."""
        count = 0
        with open("/proc/net/tcp") as f:
            for line in f.readlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                if int(local.split(":")[1], 16) == self.port and state == "01":
                    count += 1
        return count


async def running_sim(settings: SimSettings | None = None) -> AsyncIterator[Sim]:
    runner = web.AppRunner(create_app(settings or SimSettings(port=0)), handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    # No keep-alive, so the admin calls never count as the client's open connections.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
        yield Sim(port, http)
    await runner.cleanup()




@pytest.fixture
async def sim() -> AsyncIterator[Sim]:
    async for running in running_sim():
        yield running
