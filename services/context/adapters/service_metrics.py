"""The Context service's own metrics, recorded by its adapters (consumer and gRPC metrics are
shared: services/shared/consumer_metrics.py, services/shared/grpcmetrics.py)."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from prometheus_client import Counter, Histogram

GRAPH_WRITE_SECONDS = Histogram(
    "conclave_context_graph_write_seconds",
    "One Neo4j write transaction, retries included, by operation and outcome",
    ["operation", "outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
CACHE_HITS = Counter("conclave_context_cache_hits_total", "Assembled contexts served from ValKey")
CACHE_MISSES = Counter(
    "conclave_context_cache_misses_total",
    "Context reads ValKey could not serve: absent (not cached yet) or unavailable (ValKey down)",
    ["reason"],
)
CACHE_INVALIDATIONS = Counter(
    "conclave_context_cache_invalidations_total",
    "Stories whose cached contexts were invalidated: written, or deferred until ValKey is back",
    ["outcome"],
)
# Exported at zero from the start, so a rate or a hit ratio exists before the first miss.
for _reason in ("absent", "unavailable"):
    CACHE_MISSES.labels(_reason)
for _outcome in ("written", "deferred"):
    CACHE_INVALIDATIONS.labels(_outcome)

P = ParamSpec("P")
R = TypeVar("R")


def timed_write(operation: Callable[P, Coroutine[Any, Any, R]]) -> Callable[P, Coroutine[Any, Any, R]]:
    @functools.wraps(operation)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        started = time.perf_counter()
        outcome = "error"
        try:
            result = await operation(*args, **kwargs)
            outcome = "ok"
            return result
        finally:
            GRAPH_WRITE_SECONDS.labels(operation.__name__, outcome).observe(time.perf_counter() - started)

    return wrapper
