"""The LLM client's metrics: what it records (LLMMetrics), and the Prometheus registry that the
long-lived Orchestrator process serves on METRICS_PORT. A Ray job records the same names and
labels through Ray's own metrics system instead (llm_metrics_ray.py): nothing scrapes a job's
driver, so the composition root (bootstrap.py) picks the sink for each kind of process."""

from __future__ import annotations

from typing import Protocol

from prometheus_client import Counter, Gauge, Histogram

# The one description of every series, shared by both sinks so a job's series match the service's.
QUEUE_DEPTH = ("conclave_llm_queue_depth", "LLM calls waiting for an in-flight slot")
QUEUE_WAIT = ("conclave_llm_queue_wait_seconds", "Time spent waiting for an in-flight slot")
QUEUE_WAIT_BUCKETS = (0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
IN_FLIGHT = ("conclave_llm_in_flight", "LLM HTTP requests in flight")
CALLS = ("conclave_llm_calls_total", "LLM calls by final outcome", "outcome")
RETRIES = ("conclave_llm_retries_total", "LLM attempts retried, by reason", "reason")
TOKENS = ("conclave_llm_tokens_total", "Tokens accounted by the server", "kind")
FIRST_TOKEN = ("conclave_llm_first_token_seconds", "Time from sending a request to its first token")
FIRST_TOKEN_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class LLMMetrics(Protocol):
    """Where the LLM client (llm_openai.py) records; it never learns which sink this is."""

    def queued(self, delta: int) -> None:
        """A call started (+1) or stopped (-1) waiting for an in-flight slot."""

    def waited(self, seconds: float) -> None:
        """A call got its slot after waiting this long."""

    def in_flight(self, delta: int) -> None: ...

    def call(self, outcome: str) -> None:
        """A call ended: ok, error or cancelled."""

    def retry(self, reason: str) -> None: ...

    def tokens(self, prompt: int, completion: int) -> None: ...

    def first_token(self, seconds: float) -> None: ...

    async def flush(self) -> None:
        """Hand over what was recorded, before the process exits."""


class NoMetrics:
    """For clients built outside a service or a job (tests, benches): records nothing."""

    def queued(self, delta: int) -> None:
        pass

    def waited(self, seconds: float) -> None:
        pass

    def in_flight(self, delta: int) -> None:
        pass

    def call(self, outcome: str) -> None:
        pass

    def retry(self, reason: str) -> None:
        pass

    def tokens(self, prompt: int, completion: int) -> None:
        pass

    def first_token(self, seconds: float) -> None:
        pass

    async def flush(self) -> None:
        pass


# Registered at import, one set per process, so the monitoring tests see every name the services export.
_QUEUE_DEPTH = Gauge(*QUEUE_DEPTH)
_QUEUE_WAIT = Histogram(*QUEUE_WAIT, buckets=QUEUE_WAIT_BUCKETS)
_IN_FLIGHT = Gauge(*IN_FLIGHT)
_CALLS = Counter(CALLS[0], CALLS[1], [CALLS[2]])
_RETRIES = Counter(RETRIES[0], RETRIES[1], [RETRIES[2]])
_TOKENS = Counter(TOKENS[0], TOKENS[1], [TOKENS[2]])
_FIRST_TOKEN = Histogram(*FIRST_TOKEN, buckets=FIRST_TOKEN_BUCKETS)


class PrometheusLLMMetrics:
    """The process's Prometheus registry, served by the Orchestrator on METRICS_PORT."""

    def queued(self, delta: int) -> None:
        _QUEUE_DEPTH.inc(delta)

    def waited(self, seconds: float) -> None:
        _QUEUE_WAIT.observe(seconds)

    def in_flight(self, delta: int) -> None:
        _IN_FLIGHT.inc(delta)

    def call(self, outcome: str) -> None:
        _CALLS.labels(outcome).inc()

    def retry(self, reason: str) -> None:
        _RETRIES.labels(reason).inc()

    def tokens(self, prompt: int, completion: int) -> None:
        _TOKENS.labels("prompt").inc(prompt)
        _TOKENS.labels("completion").inc(completion)

    def first_token(self, seconds: float) -> None:
        _FIRST_TOKEN.observe(seconds)

    async def flush(self) -> None:
        pass  # scraped from the running process
