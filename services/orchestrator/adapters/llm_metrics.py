"""The LLM client's Prometheus metrics, one set per process."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

QUEUE_DEPTH = Gauge("conclave_llm_queue_depth", "LLM calls waiting for an in-flight slot")
QUEUE_WAIT = Histogram(
    "conclave_llm_queue_wait_seconds", "Time spent waiting for an in-flight slot",
    buckets=(0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
IN_FLIGHT = Gauge("conclave_llm_in_flight", "LLM HTTP requests in flight")
CALLS = Counter("conclave_llm_calls_total", "LLM calls by final outcome", ["outcome"])
RETRIES = Counter("conclave_llm_retries_total", "LLM attempts retried, by reason", ["reason"])
TOKENS = Counter("conclave_llm_tokens_total", "Tokens accounted by the server", ["kind"])
FIRST_TOKEN = Histogram(
    "conclave_llm_first_token_seconds", "Time from sending a request to its first token",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
