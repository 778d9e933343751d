"""`conclave sim serve --workers N`: N processes share one port, and they go away together."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from services.stack.config import free_port
from tests.waiting import until_sync


def _children(pid: int) -> list[int]:
    return [int(c) for task in Path(f"/proc/{pid}/task").iterdir() for c in (task / "children").read_text().split()]


def test_workers_share_the_port_and_stop_with_the_parent() -> None:
    port = free_port()
    conclave = Path(sys.executable).parent / "conclave"
    proc = subprocess.Popen([str(conclave), "sim", "serve", "--port", str(port), "--workers", "2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        seen: set[int] = set()

        def both_answered() -> bool:
            try:  # a fresh connection each time, so the kernel spreads them over the workers
                seen.add(httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).json()["worker"])
            except httpx.HTTPError:
                pass
            return len(seen) == 2

        # Two interpreters import the app on a shared, busy machine: give them a generous bound.
        until_sync(both_answered, 90, "both simulator workers to answer", interval=0.1)
        workers = [pid for pid in _children(proc.pid) if pid in seen]
        assert workers, "the second worker is a child of the parent"
    finally:
        proc.terminate()
        proc.wait(10)
    def gone(pid: int) -> bool:
        try:
            return "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
        except FileNotFoundError:
            return True

    for pid in workers:
        until_sync(lambda: gone(pid), 10, f"worker {pid} to exit with its parent", interval=0.1)  # noqa: B023
