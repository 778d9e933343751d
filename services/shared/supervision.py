"""Keeps a service's background loops and dependencies watched: a loop that fails is
restarted with back-off inside the process, and readiness says NOT_SERVING while a
loop or a dependency is down. Nothing here ever stops the process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import Counter, Gauge

log = logging.getLogger(__name__)

Worker = Callable[[asyncio.Event], Coroutine[Any, Any, None]]

RESTARTS = Counter("conclave_worker_restarts_total", "Background loops restarted after a failure", ["worker"])
DOWN = Gauge("conclave_readiness_down", "Loops and dependencies currently down (0 when ready)")


def named(name: str, worker: Worker) -> Worker:
    """Give a loop the name its logs, metrics and readiness use."""
    worker.__name__ = name
    return worker


def name_of(worker: Worker, index: int) -> str:
    name = getattr(worker, "__name__", "")
    return name if name and name != "<lambda>" else f"worker-{index}"


@dataclass(frozen=True)
class Dependency:
    """A named probe answering True while the dependency is usable."""

    name: str
    probe: Callable[[], Awaitable[bool]]


@dataclass
class Readiness:
    """What is down now; `on_change` hears every flip between ready and not."""

    on_change: Callable[[bool], Awaitable[None]]
    down: dict[str, str] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return not self.down

    async def mark(self, what: str, problem: str | None) -> None:
        was = self.ready
        if problem is None:
            self.down.pop(what, None)
        else:
            self.down[what] = problem
        DOWN.set(len(self.down))
        if was != self.ready:
            log.warning("readiness changed", extra={"ready": self.ready, "down": dict(self.down)})
            await self.on_change(self.ready)


@dataclass(frozen=True)
class Backoff:
    first_s: float = 0.5
    max_s: float = 30.0
    # A loop that ran this long before failing starts again from `first_s`.
    healthy_after_s: float = 60.0

    def next(self, previous: float, ran_s: float) -> float:
        return self.first_s if ran_s >= self.healthy_after_s or previous <= 0 else min(previous * 2, self.max_s)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def supervise(
    name: str, worker: Worker, stop: asyncio.Event, readiness: Readiness, backoff: Backoff = Backoff()
) -> None:
    """Run `worker` until `stop`; whenever it fails (or returns early), count it, mark it
    down, wait, and run it again."""
    delay = 0.0
    while not stop.is_set():
        began = time.monotonic()
        await readiness.mark(f"loop:{name}", None)
        try:
            await worker(stop)
            if stop.is_set():
                return
            problem = "returned before shutdown"
        except Exception as exc:
            problem = f"{type(exc).__name__}: {str(exc)[:200]}"
        delay = backoff.next(delay, time.monotonic() - began)
        RESTARTS.labels(name).inc()
        log.error("loop failed; restarting", extra={"worker": name, "error": problem, "retry_in_s": delay})
        await readiness.mark(f"loop:{name}", problem)
        await _wait(stop, delay)


async def watch(
    dependencies: Sequence[Dependency], stop: asyncio.Event, readiness: Readiness, interval_s: float = 2.0
) -> None:
    """Probe every dependency each interval; a probe that raises or hangs counts as down."""
    while not stop.is_set():
        for dep in dependencies:
            try:
                ok = await asyncio.wait_for(dep.probe(), timeout=interval_s)
                problem = None if ok else "probe failed"
            except Exception as exc:
                problem = f"{type(exc).__name__}: {str(exc)[:200]}"
            await readiness.mark(f"dependency:{dep.name}", problem)
        await _wait(stop, interval_s)
