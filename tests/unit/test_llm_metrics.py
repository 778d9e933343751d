"""The LLM client's two metrics sinks: the Prometheus registry the Orchestrator serves, and Ray's
metrics for a job, whose connection comes up behind the first record. Ray itself is covered by
tests/e2e/test_job_metrics.py; here the Ray sink's own bookkeeping runs against stand-in
instruments."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from prometheus_client import REGISTRY

from services.orchestrator.adapters.llm_metrics import PrometheusLLMMetrics
from services.orchestrator.adapters.llm_metrics_ray import RayLLMMetrics, _Instruments


class Instrument:
    def __init__(self, log: list[tuple[Any, ...]], name: str) -> None:
        self.log, self.name = log, name

    def set(self, value: float) -> None:
        self.log.append((self.name, "set", value))

    def observe(self, value: float) -> None:
        self.log.append((self.name, "observe", value))

    def inc(self, value: float, tags: dict[str, str]) -> None:
        assert value > 0, "Ray's counters refuse increments of 0"
        self.log.append((self.name, "inc", value, tags))


class FakeRay:
    def __init__(self, fail: bool = False) -> None:
        self.log: list[tuple[Any, ...]] = []
        self.fail = fail
        self.connects = self.disconnects = 0
        self.gate = threading.Event()

    def connect(self) -> _Instruments:
        self.connects += 1
        assert self.gate.wait(5)
        if self.fail:
            raise ConnectionError("no GCS")
        names = ["queue_depth", "queue_wait", "in_flight", "calls", "retries", "tokens", "first_token"]
        return _Instruments(*(Instrument(self.log, n) for n in names))

    def disconnect(self) -> None:
        self.disconnects += 1


def sink(ray: FakeRay) -> RayLLMMetrics:
    return RayLLMMetrics(connect=ray.connect, disconnect=ray.disconnect, flush_timeout_s=5)


def one_call(metrics: RayLLMMetrics | PrometheusLLMMetrics) -> None:
    metrics.queued(+1)
    metrics.queued(-1)
    metrics.waited(0.2)
    metrics.in_flight(+1)
    metrics.first_token(0.05)
    metrics.in_flight(-1)
    metrics.call("ok")
    metrics.tokens(12, 0)


async def test_records_made_while_ray_connects_are_replayed_in_order_then_flushed() -> None:
    ray = FakeRay()
    metrics = sink(ray)
    one_call(metrics)
    metrics.retry("http_503")
    await asyncio.sleep(0.05)
    assert ray.log == [], "nothing reaches Ray before it has connected"
    ray.gate.set()
    await metrics.flush()
    assert ray.log == [
        ("queue_depth", "set", 1), ("queue_depth", "set", 0), ("queue_wait", "observe", 0.2),
        ("in_flight", "set", 1), ("first_token", "observe", 0.05), ("in_flight", "set", 0),
        ("calls", "inc", 1, {"outcome": "ok"}), ("tokens", "inc", 12, {"kind": "prompt"}),
        ("retries", "inc", 1, {"reason": "http_503"}),
    ]
    assert (ray.connects, ray.disconnects) == (1, 1)
    assert metrics.flush_s is not None


async def test_once_connected_records_go_straight_to_ray() -> None:
    ray = FakeRay()
    ray.gate.set()
    metrics = sink(ray)
    metrics.call("error")
    await asyncio.wait_for(metrics._connecting, 5)  # type: ignore[arg-type]
    metrics.call("cancelled")
    assert ray.log[-1] == ("calls", "inc", 1, {"outcome": "cancelled"})
    assert ray.connects == 1


async def test_a_job_that_recorded_nothing_never_connects() -> None:
    ray = FakeRay()
    await sink(ray).flush()
    assert (ray.connects, ray.disconnects) == (0, 0)


async def test_when_ray_does_not_connect_the_job_goes_on_without_metrics() -> None:
    ray = FakeRay(fail=True)
    ray.gate.set()
    metrics = sink(ray)
    one_call(metrics)
    await metrics.flush()
    metrics.call("ok")
    await metrics.flush()
    assert ray.log == [] and (ray.connects, ray.disconnects) == (1, 0)


async def test_a_flush_waits_for_a_slow_connection_only_so_long() -> None:
    ray = FakeRay()
    metrics = RayLLMMetrics(connect=ray.connect, disconnect=ray.disconnect, flush_timeout_s=0.2)
    metrics.call("ok")
    await metrics.flush()
    # flush returned while the connection was still blocked: the driver is not held by Ray
    assert not ray.gate.is_set() and (ray.connects, ray.disconnects) == (1, 0)
    ray.gate.set()


@pytest.mark.parametrize(("name", "labels", "delta"), [
    ("conclave_llm_calls_total", {"outcome": "ok"}, 1),
    ("conclave_llm_tokens_total", {"kind": "prompt"}, 12),
    ("conclave_llm_queue_wait_seconds_count", {}, 1),
    ("conclave_llm_first_token_seconds_count", {}, 1),
])
def test_the_service_sink_writes_the_process_registry(name: str, labels: dict[str, str], delta: float) -> None:
    before = REGISTRY.get_sample_value(name, labels) or 0.0
    one_call(PrometheusLLMMetrics())
    assert REGISTRY.get_sample_value(name, labels) == before + delta
    assert REGISTRY.get_sample_value("conclave_llm_in_flight") == 0
