"""Role-shaped answers: each function turns a seeded RNG into one proposal.

`weak=True` gives a plausible but poorer variant (lint problems, no resource
limits, no keys...) so that deterministic checks and peer reviews tell the
council's agents apart.
"""

from __future__ import annotations

import random
import re

ROLES = ("ARCHITECT", "DEV", "QA", "DEVOPS", "DATA")


def slug(topic: str, default: str = "service") -> str:
    words = re.findall(r"[a-z0-9]+", topic.lower())[:3]
    return "-".join(words)[:40].strip("-") or default


def safe_text(topic: str) -> str:
    # Keeps the topic printable inside code docstrings and SQL comments.
    return re.sub(r"[^A-Za-z0-9 ,.\-]", "", topic)[:80].strip() or "the task"


def _dev_strong(rng: random.Random, topic: str) -> str:
    name = rng.choice(["call_with_retry", "retry_call", "with_backoff"])
    attempts = rng.randint(3, 6)
    delay = rng.choice([0.05, 0.1, 0.2])
    window = rng.randint(10, 120)
    limit = rng.randint(5, 50)
    return f'''"""Building blocks for: {safe_text(topic)}."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def {name}(op: Callable[[], T], attempts: int = {attempts}, base_delay: float = {delay}) -> T:
    """Call op, retrying with exponential back-off on OSError."""
    if attempts < 1:
        raise ValueError("attempts must be >= 1")
    for attempt in range(attempts):
        try:
            return op()
        except OSError:
            if attempt == attempts - 1:
                raise
            time.sleep(base_delay * 2**attempt)
    raise AssertionError("unreachable")


class SlidingWindowLimiter:
    """Allow at most `limit` events per `window_s` seconds."""

    def __init__(self, limit: int = {limit}, window_s: float = {window}.0) -> None:
        self.limit = limit
        self.window_s = window_s
        self._events: deque[float] = deque()

    def allow(self, now: float) -> bool:
        while self._events and now - self._events[0] >= self.window_s:
            self._events.popleft()
        if len(self._events) >= self.limit:
            return False
        self._events.append(now)
        return True


def dedupe(items: Iterable[str]) -> Iterator[str]:
    """Yield each item once, keeping the first occurrence's order."""
    seen: set[str] = set()
    for item in items:
        if item not in seen:
            seen.add(item)
            yield item
'''


def _dev_weak(rng: random.Random, topic: str) -> str:
    attempts = rng.randint(2, 4)
    return f'''import os
import time


def retry(op, attempts={attempts}):
    for i in range(attempts):
        try:
            return op()
        except:
            time.sleep(1)
    return None


def dedupe(items):
    out = []
    for item in items:
        if item in out == None:
            continue
        if item not in out:
            out.append(item)
    return out
'''


def dev(rng: random.Random, topic: str, weak: bool) -> str:
    if weak:
        return (
            f"Quick take on {safe_text(topic)}: a retry loop and a dedupe helper.\n\n"
            f"```python\n{_dev_weak(rng, topic)}```\n"
        )
    return (
        f"## Proposal: {safe_text(topic)}\n\n"
        "Small, typed helpers with explicit failure modes: a bounded retry with exponential "
        "back-off, a sliding-window limiter and an order-preserving dedupe. Each is pure or "
        "takes its clock as an argument, so the unit tests need no sleeps.\n\n"
        f"```python\n{_dev_strong(rng, topic)}```\n\n"
        "Risks: the retry only covers OSError; callers decide which domain errors are transient.\n"
    )


def devops(rng: random.Random, topic: str, weak: bool) -> str:
    name = slug(topic)
    if weak:
        manifest = f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: 1
  selector:
    matchLabels:
      app: {name}
  template:
    metadata:
      labels:
        app: {name}
    spec:
      containers:
        - name: {name}
          image: conclave/{name}:latest
          ports:
            - containerPort: 8080
"""
        return f"Deploy it as one pod.\n\n```yaml\n{manifest}```\n"
    replicas = rng.randint(2, 5)
    cpu = rng.choice(["100m", "250m", "500m"])
    mem = rng.choice(["128Mi", "256Mi", "512Mi"])
    cpu_limit = {"100m": "200m", "250m": "500m", "500m": "1"}[cpu]
    mem_limit = {"128Mi": "256Mi", "256Mi": "512Mi", "512Mi": "1Gi"}[mem]
    version = f"1.{rng.randint(0, 9)}.{rng.randint(0, 20)}"
    manifest = f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  labels:
    app: {name}
spec:
  replicas: {replicas}
  selector:
    matchLabels:
      app: {name}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxUnavailable: 0
      maxSurge: 1
  template:
    metadata:
      labels:
        app: {name}
    spec:
      securityContext:
        runAsNonRoot: true
      containers:
        - name: {name}
          image: conclave/{name}:{version}
          ports:
            - containerPort: 8080
          resources:
            requests:
              cpu: {cpu}
              memory: {mem}
            limits:
              cpu: "{cpu_limit}"
              memory: {mem_limit}
          readinessProbe:
            httpGet:
              path: /healthz
              port: 8080
            periodSeconds: 5
          livenessProbe:
            httpGet:
              path: /healthz
              port: 8080
            initialDelaySeconds: 10
"""
    return (
        f"## Rollout plan: {safe_text(topic)}\n\n"
        f"{replicas} replicas behind a rolling update with zero unavailable pods, pinned image "
        "tag, resource requests and limits, and readiness/liveness probes on /healthz.\n\n"
        f"```yaml\n{manifest}```\n"
    )


def qa(rng: random.Random, topic: str, weak: bool) -> str:
    n = 2 if weak else rng.randint(3, 6)
    cases = ", ".join(f"({i}, {i * 2})" for i in range(-1 if not weak else 1, n))
    edge = "" if weak else (
        "\n\ndef test_rejects_non_numbers() -> None:\n"
        "    with pytest.raises(TypeError):\n"
        "        double(None)  # type: ignore[arg-type]\n"
    )
    hints = ("", "") if weak else (": int", " -> int")
    code = (
        "import pytest\n\n\n"
        f"def double(value{hints[0]}){hints[1]}:\n"
        "    return value * 2\n\n\n"
        f'@pytest.mark.parametrize(("value", "expected"), [{cases}])\n'
        f"def test_double(value{hints[0]}, expected{hints[0]}){' -> None' if not weak else ''}:\n"
        f"{'    double(value)  # smoke only' if weak else '    assert double(value) == expected'}\n"
        f"{edge}"
    )
    plan = "- happy path\n" if weak else (
        "- happy path with representative inputs\n- boundaries: negative, zero, large values\n"
        "- invalid input raises a clear error\n- regression test for every reported bug\n"
    )
    return f"## Test plan: {safe_text(topic)}\n\n{plan}\n```python\n{code}```\n"


def architect(rng: random.Random, topic: str, weak: bool) -> str:
    if weak:
        return f"Use a monolith for {safe_text(topic)} and revisit later.\n"
    style = rng.choice(["an event-driven pipeline", "a modular monolith", "two small services"])
    store = rng.choice(["PostgreSQL", "Neo4j", "an append-only event log"])
    risk = rng.choice(["schema drift between producers", "hot partitions", "retry storms"])
    return (
        f"## Design notes: {safe_text(topic)}\n\n"
        f"**Decision.** Build it as {style}; keep the state in {store}.\n\n"
        "**Components.**\n- ingress that validates and acknowledges\n- a pure core of rules\n"
        "- adapters for storage and messaging\n\n"
        f"**Risks.** {risk}; mitigated by a single schema module and idempotent handlers.\n\n"
        "**Trade-offs.** Fewer moving parts now, at the cost of a later split if load grows.\n"
    )


def data(rng: random.Random, topic: str, weak: bool) -> str:
    table = slug(topic, "records").replace("-", "_")
    if weak:
        sql = f"CREATE TABLE {table} (id int, payload text);\n"
        return f"A single table.\n\n```sql\n{sql}```\n"
    kind = rng.choice(["jsonb", "text"])
    sql = (
        f"-- {safe_text(topic)}\n"
        f"CREATE TABLE {table} (\n"
        "    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n"
        "    story_id text NOT NULL,\n"
        f"    payload {kind} NOT NULL,\n"
        "    created_at timestamptz NOT NULL DEFAULT now()\n"
        ");\n"
        f"CREATE INDEX {table}_story_idx ON {table} (story_id, created_at);\n\n"
        f"SELECT story_id, count(*) FROM {table} GROUP BY story_id ORDER BY count(*) DESC;\n"
    )
    return (
        f"## Schema: {safe_text(topic)}\n\nOne table keyed by an identity column, indexed "
        "for per-story reads in time order.\n\n"
        f"```sql\n{sql}```\n"
    )


def generic(rng: random.Random, topic: str, weak: bool) -> str:
    steps = rng.randint(2, 4) if not weak else 1
    lines = "\n".join(f"{i + 1}. step {i + 1} towards {safe_text(topic)}" for i in range(steps))
    return f"Plan:\n{lines}\n"


WRITERS = {"ARCHITECT": architect, "DEV": dev, "QA": qa, "DEVOPS": devops, "DATA": data}
