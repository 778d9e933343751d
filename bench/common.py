"""What the orchestration benches share: the stack, a private simulator, simulator knobs, the sample plan."""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import httpx

from services.demo.run import sample_plan
from services.shared.events import PlanApproved
from services.stack.api import StackConfig, StackInfo, down, up
from services.stack.config import free_port

__all__ = [
    "cpu_seconds", "knobs", "median", "private_simulator", "sample_plan", "set_knobs", "sim_stats",
    "stack", "tree_cpu_seconds", "unique_plan",
]  # fmt: skip


@contextlib.asynccontextmanager
async def stack(cfg: StackConfig, only: Iterable[str] | None = None) -> AsyncIterator[StackInfo]:
    """Start or reuse the stack; stop only what this run started, so a shared stack is left as found."""
    info = await asyncio.to_thread(up, cfg, only)
    try:
        yield info
    finally:
        if info.started:
            await asyncio.to_thread(down, cfg, info.started)


def admin_url(vllm_url: str) -> str:
    return vllm_url.rstrip("/").removesuffix("/v1")


async def knobs(vllm_url: str) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=10) as http:
        resp = await http.get(f"{admin_url(vllm_url)}/admin/faults")
        resp.raise_for_status()
        return dict(resp.json())


async def set_knobs(vllm_url: str, **values: Any) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=10) as http:
        resp = await http.post(f"{admin_url(vllm_url)}/admin/faults", json=values)
        resp.raise_for_status()
        return dict(resp.json())


async def sim_stats(vllm_url: str) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=10) as http:
        resp = await http.get(f"{admin_url(vllm_url)}/admin/stats")
        resp.raise_for_status()
        return dict(resp.json())


def spawn(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)


@contextlib.asynccontextmanager
async def private_simulator(ttft_ms: float, log: Path, workers: int = 1) -> AsyncIterator[tuple[str, int]]:
    """`conclave sim serve` in its own process(es) (not the bench's event loop) on a free port,
    with a fixed first-token latency and unpaced streaming; yields (/v1 URL, pid of the parent).
    With workers > 1 the knobs are fixed at start: /admin reaches one worker only."""
    port = free_port()
    conclave = Path(sys.executable).parent / "conclave"
    proc = spawn([str(conclave), "sim", "serve", "--port", str(port), "--ttft-ms", str(ttft_ms),
                  "--tokens-per-s", "0", "--workers", str(workers)], log)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 30
        async with httpx.AsyncClient(timeout=2) as http:
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(f"{admin_url(url)}/health")).status_code == 200:
                        break
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"simulator did not start; see {log}")
                await asyncio.sleep(0.1)
        yield url, proc.pid
    finally:
        proc.terminate()
        try:
            await asyncio.to_thread(proc.wait, 10)
        except subprocess.TimeoutExpired:
            proc.kill()


def cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU time of a process (this one by default), from /proc."""
    if pid is None:
        return time.process_time()
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of a process and its children (a multi-worker simulator)."""
    total = 0.0
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            with contextlib.suppress(OSError):
                total += tree_cpu_seconds(int(child))
    return total + cpu_seconds(pid)


def unique_plan(tag: str) -> PlanApproved:
    """The demo's realistic five-role plan under a story id no earlier run used."""
    return sample_plan(f"{tag}-{time.strftime('%H%M%S')}-{time.monotonic_ns() % 100_000:05d}")


def median(samples: Iterable[float]) -> float:
    return statistics.median(list(samples))
