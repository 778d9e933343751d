"""LLMMetrics through Ray's own metrics system, for a deliberation's Ray job.

Nothing scrapes a job's driver; Ray's metrics agent on the node does, on `--metrics-export-port`,
with the names prefixed `ray_` (ray_conclave_llm_calls_total, ...) and Ray's labels added
(WorkerId tells jobs apart). Recording needs the driver connected to Ray, and `ray.init` costs
a second or more on a busy node, so the job connects on its first record, in a thread: that is
the first LLM call, after the job's `started` event, so connecting adds nothing to the job's
start-up. Records made while it connects wait in a list and are replayed once it has.
`flush` disconnects, which makes Ray push the final values to the agent before the driver exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from services.orchestrator.adapters import llm_metrics as spec

log = logging.getLogger("conclave.llm")


@dataclass
class _Instruments:
    queue_depth: Any
    queue_wait: Any
    in_flight: Any
    calls: Any
    retries: Any
    tokens: Any
    first_token: Any


def _connect() -> _Instruments:
    """Blocking: joins the cluster the job runs on (RAY_ADDRESS, set by Ray for every driver)."""
    import ray
    from ray.util.metrics import Counter, Gauge, Histogram

    if not ray.is_initialized():
        # Off the main thread on purpose too: there ray.init would replace the job's SIGTERM handler,
        # which cancels the council so that every LLM request is closed (entrypoints/ray_job.py).
        ray.init(logging_level=logging.WARNING, log_to_driver=False, configure_logging=False)
    return _Instruments(
        queue_depth=Gauge(*spec.QUEUE_DEPTH),
        queue_wait=Histogram(*spec.QUEUE_WAIT, boundaries=list(spec.QUEUE_WAIT_BUCKETS)),
        in_flight=Gauge(*spec.IN_FLIGHT),
        calls=Counter(spec.CALLS[0], spec.CALLS[1], tag_keys=(spec.CALLS[2],)),
        retries=Counter(spec.RETRIES[0], spec.RETRIES[1], tag_keys=(spec.RETRIES[2],)),
        tokens=Counter(spec.TOKENS[0], spec.TOKENS[1], tag_keys=(spec.TOKENS[2],)),
        first_token=Histogram(*spec.FIRST_TOKEN, boundaries=list(spec.FIRST_TOKEN_BUCKETS)),
    )


def _disconnect() -> None:
    import ray

    ray.shutdown()


async def _in_daemon_thread(fn: Callable[[], Any]) -> Any:
    """Like asyncio.to_thread, but a Ray that never answers cannot hold the driver's exit:
    the executor's threads are joined at exit, a daemon thread is not."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[Any] = loop.create_future()

    def settle(result: Any, error: BaseException | None) -> None:
        if done.done():
            return
        if error is not None:
            done.set_exception(error)
        else:
            done.set_result(result)

    def run() -> None:
        try:
            result, error = fn(), None
        except BaseException as exc:
            result, error = None, exc
        with contextlib.suppress(RuntimeError):  # the loop may be gone already
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=run, name="ray-metrics", daemon=True).start()
    return await done


class RayLLMMetrics:
    def __init__(self, *, connect_timeout_s: float = 30.0, flush_timeout_s: float = 10.0,
                 connect: Callable[[], Any] = _connect, disconnect: Callable[[], None] = _disconnect) -> None:
        self._connect_fn = connect
        self._disconnect_fn = disconnect
        self._connect_timeout_s = connect_timeout_s
        self._flush_timeout_s = flush_timeout_s
        self._instruments: _Instruments | None = None
        self._pending: list[Callable[[_Instruments], None]] = []
        self._connecting: asyncio.Task[None] | None = None
        self._failed = False
        self._queued = 0  # Ray's gauges are set, not incremented: the values live here
        self._in_flight = 0
        self.flush_s: float | None = None  # how long the last flush held the driver's exit

    def _record(self, apply: Callable[[_Instruments], None]) -> None:
        if self._instruments is not None:
            apply(self._instruments)
        elif not self._failed:
            self._pending.append(apply)
            if self._connecting is None:
                self._connecting = asyncio.get_running_loop().create_task(self._start())

    async def _start(self) -> None:
        started = time.monotonic()
        try:
            async with asyncio.timeout(self._connect_timeout_s):
                instruments = await _in_daemon_thread(self._connect_fn)
        except Exception as exc:  # metrics must never fail a deliberation
            self._failed, self._pending = True, []
            log.warning("LLM metrics off for this job: Ray did not connect: %s", exc)
            return
        log.info("LLM metrics connected to Ray", extra={"connect_s": round(time.monotonic() - started, 3)})
        for apply in self._pending:
            apply(instruments)
        self._pending = []
        self._instruments = instruments

    def queued(self, delta: int) -> None:
        self._queued += delta
        value = self._queued
        self._record(lambda m: m.queue_depth.set(value))

    def waited(self, seconds: float) -> None:
        self._record(lambda m: m.queue_wait.observe(seconds))

    def in_flight(self, delta: int) -> None:
        self._in_flight += delta
        value = self._in_flight
        self._record(lambda m: m.in_flight.set(value))

    def call(self, outcome: str) -> None:
        self._record(lambda m: m.calls.inc(1, tags={"outcome": outcome}))

    def retry(self, reason: str) -> None:
        self._record(lambda m: m.retries.inc(1, tags={"reason": reason}))

    def tokens(self, prompt: int, completion: int) -> None:
        def apply(m: _Instruments) -> None:
            # Ray's counters refuse an increment of 0.
            if prompt:
                m.tokens.inc(prompt, tags={"kind": "prompt"})
            if completion:
                m.tokens.inc(completion, tags={"kind": "completion"})

        self._record(apply)

    def first_token(self, seconds: float) -> None:
        self._record(lambda m: m.first_token.observe(seconds))

    async def flush(self) -> None:
        """Wait for the connection (bounded), then disconnect: Ray exports what it holds on the way out."""
        if self._connecting is None:
            return  # nothing recorded: the job never connected
        started = time.monotonic()
        try:
            async with asyncio.timeout(self._flush_timeout_s):
                await self._connecting
                if self._instruments is not None:
                    await _in_daemon_thread(self._disconnect_fn)
        except TimeoutError:
            log.warning("LLM metrics not flushed within %.0fs; the last values may be lost", self._flush_timeout_s)
        self.flush_s = time.monotonic() - started
        log.info("LLM metrics flushed", extra={"flush_s": round(self.flush_s, 3)})
