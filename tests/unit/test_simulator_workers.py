"""`conclave sim serve --workers N`: N processes share one port, and they go away together."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx

from services.stack.config import free_port


def _children(pid: int) -> list[int]:
    return [int(c) for task in Path(f"/proc/{pid}/task").iterdir() for c in (task / "children").read_text().split()]


def test_workers_share_the_port_and_stop_with_the_parent() -> None:
    port = free_port()
    conclave = Path(sys.executable).parent / "conclave"
    proc = subprocess.Popen([str(conclave), "sim", "serve", "--port", str(port), "--workers", "2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        seen: set[int] = set()
        deadline = time.monotonic() + 30
        while len(seen) < 2 and time.monotonic() < deadline:
            try:  # a fresh connection each time, so the kernel spreads them over the workers
                seen.add(httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).json()["worker"])
            except httpx.HTTPError:
                time.sleep(0.1)
        assert len(seen) == 2
        workers = [pid for pid in _children(proc.pid) if pid in seen]
        assert workers, "the second worker is a child of the parent"
    finally:
        proc.terminate()
        proc.wait(10)
    for pid in workers:
        deadline = time.monotonic() + 10
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
