"""What the durable consumers of every service do with the messages they fetch."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from services.shared.events import EVENT_TYPES

HANDLED = "handled"
RETRIED = "retried"
DEAD_LETTERED = "dead_lettered"

CONSUMED = Counter(
    "conclave_events_consumed_total",
    "Messages a durable consumer fetched, by what became of them: handled (acked), retried (nak'ed) "
    "or dead_lettered",
    ["consumer", "subject", "outcome"],
)
BATCH_MESSAGES = Histogram(
    "conclave_consumer_batch_messages",
    "Messages per fetched batch",
    ["consumer"],
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000),
)
BATCH_SECONDS = Histogram(
    "conclave_consumer_batch_seconds",
    "Time the handler took for one batch (writes and announcements included), failed batches too",
    ["consumer"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)


def subject_label(subject: str) -> str:
    # Under a wildcard filter the sender picks the subject: only known ones become label values.
    return subject if subject in EVENT_TYPES else "other"


def consumed(consumer: str, subject: str, outcome: str) -> None:
    CONSUMED.labels(consumer, subject_label(subject), outcome).inc()
