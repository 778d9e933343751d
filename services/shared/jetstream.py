"""NATS JetStream plumbing shared by every service: streams, publishing, dead
letters and the batched durable pull-consumer loop."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import partial
from typing import Any

import nats
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError

from services.shared import tracing
from services.shared.consumer_metrics import BATCH_MESSAGES, BATCH_SECONDS, DEAD_LETTERED, HANDLED, RETRIED, consumed
from services.shared.deadletter import DeadLetters
from services.shared.event_parsing import InvalidEvent, parse_event
from services.shared.events import Event
from services.shared.replicas import when_ready
from services.shared.streams import STREAMS, StreamSpec

log = logging.getLogger(__name__)
# Below the server's default max_payload (1 MiB) with room for the letter's envelope.
DEFAULT_MAX_INLINE_BYTES = 512 * 1024
# A stream elects a new leader in seconds; a server that stays away longer fails the publish.
PUBLISH_RETRY_S = 15.0


def nats_servers(url: str) -> list[str]:
    """NATS_URL: one server, or the comma-separated servers of one cluster."""
    servers = [part.strip() for part in url.split(",") if part.strip()]
    if not servers:
        raise ValueError(f"NATS_URL names no server: {url!r}")
    return servers


async def connect(url: str, name: str) -> NATS:
    # Given every server of a cluster, the client moves to another one by itself when its own dies;
    # the pings notice a server that vanished without closing the connection (a lost machine).
    return await nats.connect(
        servers=nats_servers(url), name=name, max_reconnect_attempts=-1, reconnect_time_wait=1,
        ping_interval=10, max_outstanding_pings=3,
    )  # fmt: skip


def stream_config(spec: StreamSpec, duplicate_window_s: float | None = None, replicas: int = 1) -> StreamConfig:
    return StreamConfig(
        name=spec.name,
        subjects=list(spec.subjects),
        storage=StorageType.FILE,
        max_age=spec.max_age_s,
        duplicate_window=duplicate_window_s or spec.duplicate_window_s,
        num_replicas=replicas,
    )


def differs(current: StreamConfig, wanted: StreamConfig) -> bool:
    """Whether a stream's configuration lacks what we set (the server fills in the rest)."""
    return (
        sorted(current.subjects or []) != sorted(wanted.subjects or [])
        or current.max_age != wanted.max_age
        or current.duplicate_window != wanted.duplicate_window
        or (current.num_replicas or 1) != (wanted.num_replicas or 1)
    )


async def ensure_streams(
    js: JetStreamContext,
    specs: Sequence[StreamSpec] = STREAMS,
    duplicate_window_s: float | None = None,
    replicas: int = 1,
) -> None:
    """Create each stream, or update it in place when its configuration differs (replicas included)."""
    for spec in specs:
        wanted = stream_config(spec, duplicate_window_s, replicas)
        await when_ready(partial(_ensure_stream, js, wanted))


async def _ensure_stream(js: JetStreamContext, wanted: StreamConfig) -> None:
    try:
        info = await js.stream_info(wanted.name or "")
    except NotFoundError:
        await js.add_stream(wanted)
        log.info("stream created", extra={"stream": wanted.name, "replicas": wanted.num_replicas})
        return
    if differs(info.config, wanted):
        await js.update_stream(wanted)
        log.info("stream updated", extra={"stream": wanted.name, "replicas": wanted.num_replicas})


async def publish(js: JetStreamContext, event: Event, subject: str | None = None) -> bool:
    """Publish with Nats-Msg-Id so JetStream drops repeats; True when stored anew (a repeat
    inside the window is not, even when it is our own retry of a publish whose ack was lost)."""
    # The W3C trace context rides along, so the consumer's spans join the publisher's trace.
    headers = tracing.inject({"Nats-Msg-Id": event.event_id})
    # While a cluster elects the stream's new leader a publish goes unanswered; the same
    # Nats-Msg-Id makes a retry safe (a copy that did get stored is dropped).
    send = partial(js.publish, subject or event.subject, event.to_bytes(), headers=headers)
    ack = await when_ready(send, within_s=PUBLISH_RETRY_S)
    return not ack.duplicate


BatchHandler = Callable[[list[Event]], Awaitable[None]]


@dataclass(frozen=True)
class ConsumerSpec:
    durable: str
    subject: str
    stream: str
    batch_size: int = 256
    max_deliver: int = 5
    backoff_s: tuple[float, ...] = (1.0, 5.0, 15.0, 30.0)
    ack_wait_s: float = 30.0
    fetch_timeout_s: float = 1.0

    def config(self) -> ConsumerConfig:
        return ConsumerConfig(
            durable_name=self.durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            filter_subject=self.subject,
            max_deliver=self.max_deliver,
            ack_wait=self.ack_wait_s,
            max_ack_pending=self.batch_size * 4,
        )

    def delay_for(self, num_delivered: int) -> float:
        return self.backoff_s[min(num_delivered, len(self.backoff_s)) - 1]


async def _retry_or_dead_letter(letters: DeadLetters, spec: ConsumerSpec, msg: Msg, error: Exception) -> None:
    delivered = msg.metadata.num_delivered
    if delivered >= spec.max_deliver:
        stored = await letters.send(msg, f"exhausted {delivered} deliveries", repr(error), kind="exhausted")
        consumed(spec.durable, msg.subject, DEAD_LETTERED if stored else RETRIED)
    else:
        await msg.nak(delay=spec.delay_for(delivered))
        consumed(spec.durable, msg.subject, RETRIED)


async def _dead_letter_or_retry(letters: DeadLetters, spec: ConsumerSpec, msg: Msg, error: Exception) -> None:
    """An event the handler rejects as invalid is dead-lettered at once; anything else is retried."""
    if isinstance(error, InvalidEvent):
        await _invalid(letters, spec, msg, error)
    else:
        await _retry_or_dead_letter(letters, spec, msg, error)


async def process_batch(letters: DeadLetters, spec: ConsumerSpec, msgs: list[Msg], handler: BatchHandler) -> None:
    """Dead-letter what cannot parse, handle the rest in one call, ack after it returns.

    When the batch fails, each message is retried alone so that one poison event
    cannot hold back the others.
    """
    BATCH_MESSAGES.labels(spec.durable).observe(len(msgs))
    good: list[tuple[Msg, Event]] = []
    for msg in msgs:
        try:
            good.append((msg, parse_event(msg.subject, msg.data)))
        except InvalidEvent as exc:
            await _invalid(letters, spec, msg, exc)
    if not good:
        return
    started = time.perf_counter()
    try:
        with _consume_span(spec, [msg for msg, _ in good]):
            try:
                await handler([event for _, event in good])
            finally:
                BATCH_SECONDS.labels(spec.durable).observe(time.perf_counter() - started)
    except Exception as batch_error:
        if len(good) == 1:
            await _dead_letter_or_retry(letters, spec, good[0][0], batch_error)
            return
        log.warning("batch failed, retrying one by one", extra={"error": repr(batch_error)})
        for msg, event in good:
            try:
                await handler([event])
            except Exception as exc:
                await _dead_letter_or_retry(letters, spec, msg, exc)
            else:
                await msg.ack()
                consumed(spec.durable, msg.subject, HANDLED)
        return
    await asyncio.gather(*(msg.ack() for msg, _ in good))
    for msg, _ in good:
        consumed(spec.durable, msg.subject, HANDLED)


async def _invalid(letters: DeadLetters, spec: ConsumerSpec, msg: Msg, error: InvalidEvent) -> None:
    stored = await letters.send(msg, str(error), "InvalidEvent", kind="invalid")
    consumed(spec.durable, msg.subject, DEAD_LETTERED if stored else RETRIED)


def _consume_span(spec: ConsumerSpec, msgs: list[Msg]) -> AbstractContextManager[Any]:
    """A batch continues the trace of its first message and links to every other publisher."""
    attributes: dict[str, str | int] = {
        "messaging.destination": spec.subject, "messaging.consumer": spec.durable, "messaging.batch.size": len(msgs),
    }
    return tracing.tracer.start_as_current_span(
        f"consume {spec.durable}", context=tracing.extract(msgs[0].headers),
        links=tracing.link_to([m.headers for m in msgs[1:]]), attributes=attributes,
    )


async def run_consumer(
    js: JetStreamContext,
    spec: ConsumerSpec,
    handler: BatchHandler,
    stop: asyncio.Event,
    letters: DeadLetters | None = None,
) -> None:
    """Pull batches until `stop` is set; the batch in hand is always finished."""
    letters = letters or DeadLetters(js, DEFAULT_MAX_INLINE_BYTES)
    sub = await js.pull_subscribe(spec.subject, durable=spec.durable, stream=spec.stream, config=spec.config())
    try:
        while not stop.is_set():
            try:
                msgs = await sub.fetch(spec.batch_size, timeout=spec.fetch_timeout_s)
            except TimeoutError:
                continue
            await process_batch(letters, spec, msgs, handler)
    finally:
        await sub.unsubscribe()
